#pragma once
// Client of the daemon's Vault service (see proto/mailbroker/v1/vault.proto).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "mailbroker/v1/vault.grpc.pb.h"

namespace mailbroker::client {

namespace pb = ::mailbroker::v1;

class vault_client {
 public:
  explicit vault_client(std::shared_ptr<grpc::Channel> channel) : stub_(pb::Vault::NewStub(std::move(channel))) {}

  // `allowed_hosts`: where the daemon may send the value ("HOST" or "HOST:PORT").
  grpc::Status put(const std::string& name, const std::string& value, const std::vector<std::string>& allowed_hosts,
                   pb::PutSecretResponse* response,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));
  grpc::Status list(pb::ListSecretsResponse* response, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  grpc::Status remove(const std::string& name, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  std::unique_ptr<pb::Vault::Stub> stub_;
};

}  // namespace mailbroker::client
