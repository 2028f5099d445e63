// IMAP sessions with SessionSpec.max_connections > 1: connections beyond the main one,
// for reads only. One IMAP connection has one selected folder and pipelines at most
// max_pipelined reads; bots reading two folders at once, or more reads than that, would
// otherwise wait for each other. An extra connection is opened when a read finds no room
// (through the login gate, with the session's credentials), keeps its own selected
// folder, and is logged out after settings_.extra_idle unused. Changes, claims, watches and
// the keepalive stay on the main connection, and the dispatcher still runs anything that
// changes the mailbox alone across every connection (session.cpp: in_flight_ counts them
// all), so the message cache never sees a read and a change of one message overlap.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "session/session.hpp"
#include "session/upstream.hpp"

namespace mailbroker::session {

// settings_.extra_idle (30 s): how long an extra connection may sit unused before it is
// logged out. Short: it exists for bursts; the main connection keeps the session alive
// between them. settings_.extra_retry_pause (30 s): after an extra connection failed to
// open (a per-user connection limit, a refused login), none is tried again for this
// long; the session goes on with what it has.

bool session::extra_connection::usable() const { return conn != nullptr && conn->is_open(); }

std::shared_ptr<session::extra_connection> session::extra_for(const queued_operation& op) {
  if (spec_.max_connections <= 1 || client_->imap() == nullptr) return nullptr;
  if (op.traits.shared_folder.empty() || !in_flight_shared_) return nullptr;  // runs alone
  const std::string& folder = op.traits.shared_folder;
  // An extra already in the folder with room, else an idle one (it selects the folder).
  std::shared_ptr<extra_connection> idle;
  for (const auto& x : extras_) {
    if (!x->usable()) continue;
    if (x->in_flight > 0 && x->busy_folder == folder && x->in_flight < settings_.max_pipelined) return x;
    if (x->in_flight == 0 && (!idle || x->selected_mailbox == folder)) idle = x;
  }
  if (idle) return idle;
  const std::size_t held = 1 + extras_.size();  // extras_ includes those still opening
  if (held < spec_.max_connections && extras_opening_ == 0 && std::chrono::steady_clock::now() >= no_extra_before_) {
    open_extra();
  }
  return nullptr;
}

void session::open_extra() {
  auto x = std::make_shared<extra_connection>();
  extras_.push_back(x);
  ++extras_opening_;
  asio::co_spawn(
      strand_,
      [self = shared_from_this(), x]() -> awaitable<void> {
        auto conn = make_upstream(self->spec_.proto, self->strand_, self->tls_context_, self->connection_options());
        error e = error::none();
        {
          // Held through connect + TLS + login, like the main connection's.
          std::shared_ptr<login_gate::ticket> slot;
          if (self->settings_.logins) {
            auto admitted = std::make_shared<asio::steady_timer>(self->strand_);
            slot = self->settings_.logins->enqueue(connection_target(self->spec_), [admitted, strand = self->strand_] {
              asio::post(strand, [admitted] { admitted->cancel(); });
            });
            while (!slot->admitted() && !self->stop_requested_ && !self->lost_) {
              admitted->expires_after(std::chrono::seconds(1));
              error_code ignored;
              co_await admitted->async_wait(asio::redirect_error(use_awaitable, ignored));
            }
          }
          if (self->stop_requested_ || self->lost_ || !self->client_) {
            e = error{errc::cancelled, "the session is closing or reconnecting"};
          } else {
            e = co_await self->open_and_login(*conn);
          }
        }
        --self->extras_opening_;
        const bool wanted = std::find(self->extras_.begin(), self->extras_.end(), x) != self->extras_.end();
        if (e.ok() && wanted && !self->stop_requested_ && !self->lost_) {
          x->conn = conn;
          x->idle_since = std::chrono::steady_clock::now();
          ++self->extra_logins_;
          spdlog::debug("session '{}': extra connection {} of {} logged in", self->name_, 1 + self->extras_.size(),
                        self->spec_.max_connections);
          self->arm_extra_reaper();
        } else {
          conn->close(e.ok() ? error{errc::cancelled, "not needed any more"} : e);
          std::erase(self->extras_, x);
          if (!e.ok() && e.code != errc::cancelled) {
            self->no_extra_before_ = std::chrono::steady_clock::now() + self->settings_.extra_retry_pause;
            self->last_extra_error_ = error_record{e.code, e.message, std::chrono::system_clock::now()};
            spdlog::warn("session '{}': an extra connection failed ({}); going on with {} for {} ms", self->name_,
                         e.message, 1 + self->extras_.size(), self->settings_.extra_retry_pause.count());
          }
        }
        self->refresh_counters();
        self->wake();  // a held read may start on it now
      },
      asio::detached);
}

void session::arm_extra_reaper() {
  if (extra_reaper_armed_) return;
  extra_reaper_armed_ = true;
  extra_reaper_.expires_after(settings_.extra_idle / 2);
  extra_reaper_.async_wait([weak = weak_from_this()](error_code ec) {
    auto self = weak.lock();
    if (!self) return;
    self->extra_reaper_armed_ = false;
    if (ec) return;  // end_extras() cancelled it
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<extra_connection>> done;
    std::erase_if(self->extras_, [&](const std::shared_ptr<extra_connection>& x) {
      if (x->conn == nullptr) return false;  // still opening
      const bool idle_out = x->in_flight == 0 && now - x->idle_since >= self->settings_.extra_idle;
      const bool dropped = x->in_flight == 0 && !x->conn->is_open();
      if (idle_out || dropped) done.push_back(x);
      return idle_out || dropped;
    });
    for (auto& x : done) {
      self->counters_base_.commands_sent += x->conn->commands_sent();
      self->counters_base_.bytes_in += x->conn->bytes_in();
      self->counters_base_.bytes_out += x->conn->bytes_out();
      if (x->conn->is_open()) {
        asio::co_spawn(
            self->strand_,
            [conn = x->conn, timeout = self->settings_.logout_timeout]() -> awaitable<void> {
              co_await conn->logout(timeout);
            },
            asio::detached);
      }
    }
    self->refresh_counters();
    if (!self->extras_.empty()) self->arm_extra_reaper();
  });
}

awaitable<void> session::end_extras(bool log_out) {
  extra_reaper_.cancel();
  auto extras = std::move(extras_);
  extras_.clear();  // those still opening find themselves unwanted and close
  for (auto& x : extras) {
    if (!x->conn) continue;
    counters_base_.commands_sent += x->conn->commands_sent();
    counters_base_.bytes_in += x->conn->bytes_in();
    counters_base_.bytes_out += x->conn->bytes_out();
    if (log_out && x->conn->is_open()) {
      co_await x->conn->logout(settings_.logout_timeout);
    } else {
      x->conn->close(error{errc::unavailable, "the session's main connection ended"});
    }
  }
  refresh_counters();
}

connection_context session::make_context(extra_connection& on) {
  return connection_context{on.conn->imap(),
                            nullptr,
                            on.selected_mailbox,
                            on.uid_validity,
                            settings_.command_timeout,
                            claims_,
                            [this](const std::string& lease) {
                              std::lock_guard lock(lease_mutex_);
                              return leases_.contains(lease);
                            },
                            spec_,
                            nullptr,
                            {},
                            smtp_.get(),
                            *cache_,
                            lists_in_flight_,
                            nullptr,
                            nullptr};
}

}  // namespace mailbroker::session
