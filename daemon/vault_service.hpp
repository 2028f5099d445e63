#pragma once
// gRPC Vault service over the store. Calls are short local SQLite operations, done on
// the gRPC thread (no network). Values are never logged or returned.
#include <memory>

#include "daemon/access_gate.hpp"
#include "daemon/proto_convert.hpp"
#include "mailbroker/v1/vault.grpc.pb.h"
#include "store/state_store.hpp"

namespace mailbroker::daemon {

class vault_service final : public pb::Vault::CallbackService {
 public:
  // `store` may be null (state-dir none): every call is FAILED_PRECONDITION.
  // Every call is identified and authorized by `gate` (vault-write, vault-list).
  vault_service(std::shared_ptr<store::state_store> store, access_gate& gate) : store_(std::move(store)), gate_(gate) {}

  static constexpr std::size_t max_value_bytes = 65536;

  grpc::ServerUnaryReactor* PutSecret(grpc::CallbackServerContext* context, const pb::PutSecretRequest* request,
                                      pb::PutSecretResponse* response) override;
  grpc::ServerUnaryReactor* ListSecrets(grpc::CallbackServerContext* context, const pb::ListSecretsRequest* request,
                                        pb::ListSecretsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSecret(grpc::CallbackServerContext* context, const pb::DeleteSecretRequest* request,
                                         pb::DeleteSecretResponse* response) override;

 private:
  std::shared_ptr<store::state_store> store_;
  access_gate& gate_;
};

}  // namespace mailbroker::daemon
