#pragma once
// The store seen through the core's interfaces: vault entries for secret references,
// refresh tokens for the token cache. Thin: all sealing and locking is in state_store.
#include <memory>

#include "auth/refresh_token_store.hpp"
#include "secrets/secret_ref.hpp"
#include "store/state_store.hpp"

namespace mailbroker::daemon {

class store_vault_reader final : public secrets::vault_reader {
 public:
  explicit store_vault_reader(std::shared_ptr<store::state_store> store) : store_(std::move(store)) {}
  result<std::string> read(const std::string& name) const override {
    auto value = store_->get_secret(name);
    // A missing entry is the operator's to fix, not a bad request field value.
    if (!value && value.err().code == errc::not_found) return error{errc::failed_precondition, value.err().message};
    return value;
  }

 private:
  std::shared_ptr<store::state_store> store_;
};

class store_refresh_tokens final : public auth::refresh_token_store {
 public:
  explicit store_refresh_tokens(std::shared_ptr<store::state_store> store) : store_(std::move(store)) {}
  result<std::optional<std::string>> load(const std::string& key) override { return store_->get_refresh_token(key); }
  error save(const std::string& key, const std::string& token) override { return store_->put_refresh_token(key, token); }
  bool durable() const override { return true; }

 private:
  std::shared_ptr<store::state_store> store_;
};

}  // namespace mailbroker::daemon
