#pragma once
// Keeps the store's list of live sessions in step with the registry, so a restart
// brings them back: a session is recorded (name + its SessionSpec, sealed) when Connect
// creates it and forgotten when it ends for good (CLOSED after its linger or a forced
// Disconnect, FAILED). A daemon shutdown ends no session for good: the records stay and
// restore() reconnects them at the next start, each held by a "restored" lease for the
// grace period so bots can attach again. Leases themselves are not kept: after a
// restart RenewLease answers NOT_FOUND and a bot Connects again (and attaches).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "daemon/proto_convert.hpp"
#include "store/state_store.hpp"

namespace mailbroker::daemon {

class session_journal {
 public:
  session_journal(std::shared_ptr<store::state_store> store, session::session_registry& registry);
  ~session_journal();

  // Records a session Connect just created. Failures are logged, not fatal.
  void remember(const std::string& name, const pb::SessionSpec& spec);

  // Reconnects every recorded session; returns how many were started.
  std::size_t restore(std::chrono::seconds grace);

  // From now on sessions end because the daemon stops: keep their records.
  void stopping() { stopping_ = true; }

 private:
  void on_event(const session::status_event& ev);

  std::shared_ptr<store::state_store> store_;
  session::session_registry& registry_;
  std::uint64_t watch_id_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace mailbroker::daemon
