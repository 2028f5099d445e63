#include "daemon/vault_service.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace mailbroker::daemon {
namespace {

const error no_store{errc::failed_precondition,
                     "the daemon runs without a store (state-dir none), so it has no vault: start it with a state "
                     "directory"};

}  // namespace

grpc::ServerUnaryReactor* vault_service::PutSecret(grpc::CallbackServerContext* context,
                                                   const pb::PutSecretRequest* request,
                                                   pb::PutSecretResponse* response) {
  if (!store_) return finish_unary(context, no_store);
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
  if (auto e = store_->put_secret(request->name(), request->value()); !e.ok()) return finish_unary(context, e);
  response->set_created(!existed);
  spdlog::info("vault: entry '{}' {}", request->name(), existed ? "replaced" : "created");
  return finish_unary(context, error::none());
}

grpc::ServerUnaryReactor* vault_service::ListSecrets(grpc::CallbackServerContext* context,
                                                     const pb::ListSecretsRequest* /*request*/,
                                                     pb::ListSecretsResponse* response) {
  if (!store_) return finish_unary(context, no_store);
  auto entries = store_->list_secrets();
  if (!entries) return finish_unary(context, entries.err());
  for (const auto& e : entries.value()) {
    auto* out = response->add_entries();
    out->set_name(e.name);
    to_proto(e.created_at, out->mutable_created_at());
    to_proto(e.updated_at, out->mutable_updated_at());
  }
  return finish_unary(context, error::none());
}

grpc::ServerUnaryReactor* vault_service::DeleteSecret(grpc::CallbackServerContext* context,
                                                      const pb::DeleteSecretRequest* request,
                                                      pb::DeleteSecretResponse* /*response*/) {
  if (!store_) return finish_unary(context, no_store);
  if (auto e = store_->delete_secret(request->name()); !e.ok()) return finish_unary(context, e);
  spdlog::info("vault: entry '{}' deleted", request->name());
  return finish_unary(context, error::none());
}

}  // namespace mailbroker::daemon
