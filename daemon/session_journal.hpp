#pragma once
// Keeps the store's list of live sessions in step with the registry, so a restart
// brings them back: a session is recorded (name + its SessionSpec, sealed) when Connect
// creates it and forgotten when it ends for good (CLOSED after its linger or a forced
// Disconnect, FAILED). A daemon shutdown ends no session for good: the records stay and
// restore() reconnects them at the next start, each held by a "restored" lease for the
// grace period so bots can attach again. Leases themselves are not kept: after a
// restart RenewLease answers NOT_FOUND and a bot Connects again (and attaches).
//
// Writes go through a group-commit writer thread (store/session_record_writer.hpp): no
// caller waits on the disk, and many Connects share one fsync.
//
// A session that ends for good also loses its saved watch positions (Graph delta links,
// daemon/watch_position_store.hpp), even when its name is live again by then (Connect
// with replace): a new session under that name may watch another mailbox, and must not
// resume from the old one's links. At worst a position the new session saved in between
// is dropped too, and its first watch after a restart starts from now on.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/proto_convert.hpp"
#include "daemon/watch_position_store.hpp"
#include "store/session_record_writer.hpp"
#include "store/state_store.hpp"

namespace mailbroker::daemon {

class session_journal {
 public:
  session_journal(std::shared_ptr<store::state_store> store, session::session_registry& registry,
                  store::record_writer_settings writer_settings = {},
                  std::shared_ptr<watch_position_store> positions = nullptr);
  ~session_journal();

  // Records a session Connect just created; `durable` runs once the record is committed
  // (on the writer thread; must not block), or once the write failed (then logged: the
  // session lives on but will not survive a restart).
  void remember(const std::string& name, const pb::SessionSpec& spec, std::function<void()> durable);

  // Reconnects every recorded session; returns how many were started.
  std::size_t restore(std::chrono::seconds grace);

  // From now on sessions end because the daemon stops: keep their records.
  void stopping() { stopping_ = true; }

  store::session_record_writer::stats writer_counters() const { return writer_.counters(); }

 private:
  void on_event(const session::status_event& ev);

  std::shared_ptr<store::state_store> store_;
  session::session_registry& registry_;
  store::session_record_writer writer_;
  std::shared_ptr<watch_position_store> positions_;  // may be null: no positions to forget
  std::uint64_t watch_id_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace mailbroker::daemon
