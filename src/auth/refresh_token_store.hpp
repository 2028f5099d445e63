#pragma once
// Where refresh tokens live between refreshes. The daemon plugs in its encrypted SQLite
// store so a restart needs no re-authorization; tests and store-less daemons use memory.
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/error.hpp"

namespace mailbroker::auth {

class refresh_token_store {
 public:
  virtual ~refresh_token_store() = default;
  // The token under `key`, nullopt if none. Errors: internal (storage failure).
  virtual result<std::optional<std::string>> load(const std::string& key) = 0;
  // Saves (replaces) the token; durable when it returns if durable() is true.
  virtual error save(const std::string& key, const std::string& token) = 0;
  virtual bool durable() const = 0;
};

// Memory only: lost on restart. Thread-safe.
class memory_refresh_token_store final : public refresh_token_store {
 public:
  result<std::optional<std::string>> load(const std::string& key) override {
    std::lock_guard lock(mutex_);
    auto it = tokens_.find(key);
    if (it == tokens_.end()) return std::optional<std::string>{};
    return std::optional<std::string>{it->second};
  }
  error save(const std::string& key, const std::string& token) override {
    std::lock_guard lock(mutex_);
    tokens_[key] = token;
    return error::none();
  }
  bool durable() const override { return false; }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> tokens_;
};

}  // namespace mailbroker::auth
