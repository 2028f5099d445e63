#pragma once
// Shared client TLS contexts, one per trust configuration, so 10,000 sessions that
// trust the same CAs hold one SSL_CTX (and one parsed trust store) between them.
//
// Key: (ca_file path, its device/inode/size/mtime, verify). An edited or replaced CA
// file therefore gets a new context on the next get(); connections built on the old
// one keep it.
//
// Lifetime and bound: the cache holds the system-store contexts (ca_file empty) until
// reload(); contexts for CA files live as long as some caller holds them (the cache
// keeps only a weak reference), so entries are bounded by the configurations in use.
// Failed builds are not cached: the next get() tries again.
//
// Threading: every member is thread-safe. A build runs on the calling thread without
// the cache lock held; concurrent get()s of the same key wait for that one build (a
// per-key latch), other keys are not held up. The daemon calls warm_system_store() on
// its main thread at start-up, so the one expensive build never runs on an I/O thread.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "net/tls_context.hpp"

namespace mailbroker::net {

class tls_context_cache {
 public:
  tls_context_cache() = default;
  tls_context_cache(const tls_context_cache&) = delete;
  tls_context_cache& operator=(const tls_context_cache&) = delete;

  // The instance make_client_tls_context() uses.
  static tls_context_cache& process_wide();

  // The shared context for `settings`, built on first use (build_client_tls_context).
  // Errors: those of build_client_tls_context; nothing is cached then.
  result<std::shared_ptr<asio::ssl::context>> get(const tls_settings& settings);

  // Builds the system-store context (verify on) now, so the first session does not pay
  // for it. Returns get()'s error, if any.
  error warm_system_store();

  // Forgets every context: later get()s build afresh from the files as they are now
  // (a changed system store, a rewritten CA file). Contexts already handed out stay
  // valid for their holders. Meant for SIGHUP.
  void reload();

  // Counters for tests and measurements: contexts built, and how many of those
  // loaded the system trust store.
  std::uint64_t builds() const;
  std::uint64_t system_store_loads() const;
  // Keys currently known (live or pinned); bounded as described above.
  std::size_t size() const;

 private:
  struct key {
    std::string ca_file;
    std::uint64_t device = 0, inode = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool verify = true;
    auto operator<=>(const key&) const = default;
  };
  struct slot {
    std::mutex build;  // the per-key latch: held while this key's context is built
    std::weak_ptr<asio::ssl::context> shared;
    std::shared_ptr<asio::ssl::context> pinned;  // system-store contexts stay until reload()
  };

  void prune_locked();

  mutable std::mutex mutex_;  // guards slots_ and the counters; never held during a build
  std::map<key, std::shared_ptr<slot>> slots_;
  std::uint64_t builds_ = 0;
  std::uint64_t system_store_loads_ = 0;
};

}  // namespace mailbroker::net
