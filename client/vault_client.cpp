#include "client/vault_client.hpp"

namespace mailbroker::client {
namespace {

void set_deadline(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace

grpc::Status vault_client::put(const std::string& name, const std::string& value,
                               const std::vector<std::string>& allowed_hosts, pb::PutSecretResponse* response,
                               std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  set_deadline(context, timeout);
  pb::PutSecretRequest request;
  request.set_name(name);
  request.set_value(value);
  for (const auto& h : allowed_hosts) request.add_allowed_hosts(h);
  auto st = stub_->PutSecret(&context, request, response);
  // The request held the secret: wipe our copy of it.
  std::fill(request.mutable_value()->begin(), request.mutable_value()->end(), '\0');
  return st;
}

grpc::Status vault_client::list(pb::ListSecretsResponse* response, std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  set_deadline(context, timeout);
  return stub_->ListSecrets(&context, pb::ListSecretsRequest{}, response);
}

grpc::Status vault_client::remove(const std::string& name, std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  set_deadline(context, timeout);
  pb::DeleteSecretRequest request;
  request.set_name(name);
  pb::DeleteSecretResponse response;
  return stub_->DeleteSecret(&context, request, &response);
}

}  // namespace mailbroker::client
