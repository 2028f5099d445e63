#include "daemon/vault_service.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "trust/secret_destinations.hpp"

namespace mailbroker::daemon {
namespace {

const error no_store{errc::failed_precondition,
                     "the daemon runs without a store (state-dir none), so it has no vault: start it with a state "
                     "directory"};

}  // namespace

grpc::ServerUnaryReactor* vault_service::PutSecret(grpc::CallbackServerContext* context,
                                                   const pb::PutSecretRequest* request,
                                                   pb::PutSecretResponse* response) {
  auto who = gate_.identify(*context);
  if (!who) return finish_unary(context, who.err());
  if (auto e = gate_.require(*who, trust::permission::vault_write, request->name(), "PutSecret"); !e.ok()) {
    return finish_unary(context, e);
  }
  if (!store_) return finish_unary(context, no_store);
  if (request->allowed_hosts().empty()) {
    return finish_unary(context, {errc::invalid_argument,
                                  "allowed_hosts: name at least one HOST or HOST:PORT the secret may be sent to "
                                  "(mailbroker vault put NAME --allow-host imap.example.com:993)"});
  }
  std::vector<std::string> hosts;
  for (const auto& h : request->allowed_hosts()) {
    if (auto e = trust::check_allowed_host(h, "allowed_hosts"); !e.ok()) return finish_unary(context, e);
    hosts.push_back(h);
  }
  if (request->value().size() > max_value_bytes) {
    return finish_unary(context, {errc::invalid_argument,
                            "value: " + std::to_string(request->value().size()) + " bytes; at most " +
                                std::to_string(max_value_bytes) + " are accepted"});
  }
  // Whether it existed, from the names only: no need to decrypt the old value.
  auto entries = store_->list_secrets();
  if (!entries) return finish_unary(context, entries.err());
  const bool existed = std::any_of(entries->begin(), entries->end(),
                                   [&](const store::vault_entry_info& e) { return e.name == request->name(); });
  if (auto e = store_->put_secret(request->name(), request->value(), hosts); !e.ok()) return finish_unary(context, e);
  response->set_created(!existed);
  std::string bound;
  for (const auto& h : hosts) bound += (bound.empty() ? "" : ",") + h;
  gate_.note(*who, "PutSecret", {}, trust::permission::vault_write, "allowed",
             "vault entry " + request->name() + (existed ? " replaced" : " created") + ", hosts " + bound);
  spdlog::info("vault: entry '{}' {}", request->name(), existed ? "replaced" : "created");
  return finish_unary(context, error::none());
}

grpc::ServerUnaryReactor* vault_service::ListSecrets(grpc::CallbackServerContext* context,
                                                     const pb::ListSecretsRequest* /*request*/,
                                                     pb::ListSecretsResponse* response) {
  auto who = gate_.identify(*context);
  if (!who) return finish_unary(context, who.err());
  if (!gate_.may_some(*who, trust::permission::vault_list)) {
    return finish_unary(context, gate_.require(*who, trust::permission::vault_list, "*", "ListSecrets"));
  }
  if (!store_) return finish_unary(context, no_store);
  auto entries = store_->list_secrets();
  if (!entries) return finish_unary(context, entries.err());
  for (const auto& e : entries.value()) {
    if (!gate_.may(*who, trust::permission::vault_list, e.name)) continue;
    auto* out = response->add_entries();
    for (const auto& h : e.allowed_hosts) out->add_allowed_hosts(h);
    out->set_name(e.name);
    to_proto(e.created_at, out->mutable_created_at());
    to_proto(e.updated_at, out->mutable_updated_at());
  }
  return finish_unary(context, error::none());
}

grpc::ServerUnaryReactor* vault_service::DeleteSecret(grpc::CallbackServerContext* context,
                                                      const pb::DeleteSecretRequest* request,
                                                      pb::DeleteSecretResponse* /*response*/) {
  auto who = gate_.identify(*context);
  if (!who) return finish_unary(context, who.err());
  if (auto e = gate_.require(*who, trust::permission::vault_write, request->name(), "DeleteSecret"); !e.ok()) {
    return finish_unary(context, e);
  }
  if (!store_) return finish_unary(context, no_store);
  if (auto e = store_->delete_secret(request->name()); !e.ok()) return finish_unary(context, e);
  gate_.note(*who, "DeleteSecret", {}, trust::permission::vault_write, "allowed", "vault entry " + request->name());
  spdlog::info("vault: entry '{}' deleted", request->name());
  return finish_unary(context, error::none());
}

}  // namespace mailbroker::daemon
