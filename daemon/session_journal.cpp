#include "daemon/session_journal.hpp"

#include <spdlog/spdlog.h>

namespace mailbroker::daemon {

session_journal::session_journal(std::shared_ptr<store::state_store> store, session::session_registry& registry,
                                 store::record_writer_settings writer_settings,
                                 std::shared_ptr<watch_position_store> positions)
    : store_(std::move(store)), registry_(registry), writer_(store_, writer_settings), positions_(std::move(positions)) {
  watch_id_ = registry_.watch("", [this](const session::status_event& ev) { on_event(ev); },
                              /*state_changes_only=*/true);
}

session_journal::~session_journal() {
  registry_.unwatch(watch_id_);
  writer_.stop();  // applies what is queued
}

void session_journal::remember(const std::string& name, const pb::SessionSpec& spec, std::function<void()> durable) {
  std::string bytes;
  spec.SerializeToString(&bytes);
  writer_.put(name, std::move(bytes), [name, durable = std::move(durable)](error e) {
    if (!e.ok()) {
      spdlog::error("store: cannot record session '{}' (it will not survive a restart): {}", name, e.message);
    }
    if (durable) durable();
  });
}

void session_journal::on_event(const session::status_event& ev) {
  const auto state = ev.status.state;
  if (state != session::session_state::closed && state != session::session_state::failed) return;
  if (stopping_) return;
  // Runs under the registry's watcher lock: look the name up elsewhere. By then the
  // name may belong to a new session (replace, reconnect after FAILED): keep its record.
  // The daemon may have begun to stop by then, too: this session ended for good before
  // that, so its record goes all the same (shutdown drains the I/O threads, and the writer
  // applies what is queued before it stops). Checking stopping_ here again brought a
  // force-disconnected session back at the next start when a stop came right after it
  // (CI, oauth2_delegated.DaemonRestartBringsSessionsBackWithoutReauthorizing).
  asio::post(registry_.executor(), [this, name = ev.status.name] {
    // A quick SQLite transaction on an io thread, once per session that ends for good.
    if (positions_) {
      if (auto e = positions_->forget(name); !e.ok()) {
        spdlog::warn("store: cannot forget the watch positions of session '{}': {}", name, e.message);
      }
    }
    auto now = registry_.status(name);
    if (now && !now->empty()) {
      const auto s = now->front().state;
      if (s != session::session_state::closed && s != session::session_state::failed) return;
    }
    writer_.remove(name, [name](error e) {
      if (!e.ok()) spdlog::warn("store: cannot forget session '{}': {}", name, e.message);
    });
  });
}

std::size_t session_journal::restore(std::chrono::seconds grace) {
  auto records = store_->list_sessions();
  if (!records) {
    spdlog::error("store: cannot list sessions to restore: {}", records.err().message);
    return 0;
  }
  std::size_t started = 0;
  for (const auto& [name, bytes] : records.value()) {
    pb::ConnectRequest request;
    if (!request.mutable_spec()->ParseFromString(bytes)) {
      spdlog::error("store: session record '{}' is not a SessionSpec; dropping it", name);
      store_->delete_session(name);
      continue;
    }
    request.set_session(name);
    request.set_lease_ttl_seconds(static_cast<std::uint32_t>(std::max<std::int64_t>(1, grace.count())));
    request.set_client_name("restored at daemon start");
    auto converted = from_proto(request);
    if (!converted) {
      spdlog::error("store: session record '{}' no longer converts ({}); dropping it", name, converted.err().message);
      store_->delete_session(name);
      continue;
    }
    ++started;
    converted->restored = true;
    // Waits as long as it takes: the mail server may be down at our start.
    registry_.connect(std::move(converted.value()), std::chrono::steady_clock::now() + std::chrono::hours(24),
                      [this, name](result<session::connect_outcome> outcome) {
                        if (outcome) {
                          spdlog::info("store: session '{}' restored", name);
                        } else if (stopping_) {
                          // The daemon stops before the session came back: its record stays.
                          spdlog::debug("store: session '{}' not restored before shutdown", name);
                        } else {
                          spdlog::warn("store: session '{}' not restored: {}", name, outcome.err().message);
                        }
                      });
  }
  return started;
}

}  // namespace mailbroker::daemon
