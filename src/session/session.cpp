#include "session/session.hpp"

#include <spdlog/spdlog.h>

#include "auth/token_cache.hpp"
#include "session/credentials.hpp"
#include "session/token_request.hpp"
#include "net/tls_context.hpp"
#include "protocol/pop3/client.hpp"
#include "secrets/secret_ref.hpp"
#include "session/jitter.hpp"
#include "session/session_metrics.hpp"
#include "session/smtp_sender.hpp"

namespace mailbroker::session {
namespace {

using asio::redirect_error;

// Errors that retrying cannot fix: the operator has to change the spec or the server.
bool is_permanent(const error& e) {
  return e.code == errc::unauthenticated || e.code == errc::failed_precondition ||
         e.code == errc::invalid_argument || e.code == errc::unimplemented || e.code == errc::internal;
}

// The POP3 uid numbering must differ between sessions and daemon runs (uids do not
// survive either), and be non-zero.
std::uint32_t fresh_pop3_uid_validity() {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  static std::atomic<std::uint32_t> counter{0};
  const auto v = static_cast<std::uint32_t>(now.count()) + counter++;
  return v == 0 ? 1 : v;
}

// Where this session's logins take their secrets from (session/credentials.hpp).
credential_sources sources_of(const session_settings& s) { return {s.tokens.get(), s.vault.get()}; }

}  // namespace

struct session::waiter {
  std::uint64_t id = 0;
  std::string client_name;
  std::chrono::seconds ttl{};
  std::function<void(result<lease_grant>)> done;
  std::unique_ptr<asio::steady_timer> deadline;
};

session::session(asio::any_io_executor executor, std::string name, session_spec spec, session_settings settings,
                 event_sink on_event, lease_gone_fn on_lease_gone)
    : name_(std::move(name)),
      spec_(std::move(spec)),
      fingerprint_(mailbroker::session::fingerprint(spec_)),
      settings_(settings),
      strand_(asio::make_strand(executor)),
      on_event_(std::move(on_event)),
      on_lease_gone_(std::move(on_lease_gone)),
      backoff_(settings.reconnect),
      wake_(strand_),
      lease_timer_(strand_),
      extra_reaper_(strand_),
      cache_(std::make_shared<message_cache>(settings.cache, settings.shared_cache_budget)) {
  snapshot_.name = name_;
  snapshot_.state = state_;
  snapshot_.state_since = std::chrono::system_clock::now();
  snapshot_.host = spec_.host;
  snapshot_.port = spec_.port;
  snapshot_.proto = spec_.proto;
  snapshot_.tls = spec_.tls;
  snapshot_.tls_verified = spec_.tls != tls_mode::plain && !spec_.insecure_skip_verify;
  snapshot_.auth_mode = std::string(auth_method_name(spec_.auth));
  snapshot_.username = spec_.username;
  if (spec_.proto == protocol::imap) snapshot_.imap.emplace().max = std::max<std::uint32_t>(1, spec_.max_connections);
  if (spec_.proto == protocol::pop3) maildrop_ = std::make_unique<pop3_maildrop>(fresh_pop3_uid_validity());
  if (spec_.smtp) {
    make_smtp_sender();
    auto& m = snapshot_.smtp.emplace();
    m.host = spec_.smtp->host;
    m.port = static_cast<std::uint16_t>(spec_.smtp->port);
  }
}

session::~session() = default;

void session::make_smtp_sender() {
  // Credentials are resolved at each login and wiped after it, like the main connection's.
  // smtp_ is owned by this session and only used by its operations: `this` outlives it.
  auto credentials = [this]() -> awaitable<result<smtp_sender::credentials>> {
    auto resolved = co_await resolve_smtp_credentials(spec_, name_, sources_of(settings_));
    if (!resolved) co_return resolved.err();
    smtp_sender::credentials c{std::move(resolved->user), std::move(resolved->secret), resolved->oauth};
    co_return c;
  };
  smtp_ = std::make_unique<smtp_sender>(strand_, *spec_.smtp, settings_.command_timeout, std::move(credentials));
}

void session::start() {
  asio::co_spawn(strand_, [self = shared_from_this()] { return self->run(); },
                 [name = name_](std::exception_ptr e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     spdlog::critical("session '{}': connection loop ended by an exception: {}", name, ex.what());
                   }
                 });
}

// ------------------------------------------------------------------ connection loop

awaitable<void> session::run() {
  // Shared by every session with the same trust settings (net/tls_context_cache.hpp).
  auto tls = net::make_client_tls_context({spec_.ca_file, !spec_.insecure_skip_verify});
  if (!tls) {
    record_error(tls.err());
    finish(session_state::failed, tls.err().message);
    co_return;
  }
  tls_context_ = tls.value();

  while (!stop_requested_) {
    error e = co_await connect_once();
    if (stop_requested_) break;
    if (e.ok()) {
      ever_ready_ = true;
      backoff_.reset();
      e = co_await serve_ready();
      co_await end_extras(stop_requested_);
      cache_->connection_reset();
      fail_operations(error{errc::unavailable, "session '" + name_ + "' lost its connection (" + e.message +
                                                   "); it is reconnecting: retry the call"});
      if (stop_requested_) break;
    }
    record_error(e);
    if (is_permanent(e) || !ever_ready_) {
      // A session that never worked has no bot depending on it yet: report the cause to
      // the Connect that created it instead of retrying into the void.
      if (client_) client_->close(e);
      client_.reset();
      if (smtp_) co_await smtp_->close();
      finish(session_state::failed, e.message);
      co_return;
    }
    client_.reset();
    const auto delay = backoff_.next();
    {
      std::lock_guard lock(snapshot_mutex_);
      ++snapshot_.reconnect_count;
      snapshot_.connected_since.reset();
    }
    metrics_hooks::reconnect(spec_.proto);
    set_state(session_state::backoff,
              "reconnecting in " + std::to_string(delay.count()) + " ms after: " + e.message);
    co_await sleep_interruptibly(delay);
  }

  if (smtp_) co_await smtp_->close();
  if (client_ && client_->is_open()) {
    co_await client_->logout(settings_.logout_timeout);
    spdlog::info("session '{}': logged out ({})", name_, stop_reason_);
  } else if (client_) {
    client_->close(error{errc::cancelled, stop_reason_});
  }
  refresh_counters();
  client_.reset();
  finish(session_state::closed, stop_reason_);
}

awaitable<error> session::connect_once() {
  std::shared_ptr<login_gate::ticket> slot;  // held until this attempt has logged in or failed
  if (auto e = co_await wait_for_login_slot(slot); !e.ok()) co_return e;
  set_state(session_state::connecting, "connecting to " + connection_target(spec_));
  client_ = make_upstream(spec_.proto, strand_, tls_context_, connection_options());
  lost_.reset();
  if (auto e = co_await client_->open(spec_); !e.ok()) co_return e;
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.greeting = client_->greeting();
    snapshot_.capabilities = client_->capabilities();
  }
  if (stop_requested_) co_return error{errc::cancelled, stop_reason_};

  set_state(session_state::authenticating, "logging in as " + spec_.username);
  error e = co_await open_and_login(*client_);
  metrics_hooks::login(spec_.proto, e.ok());
  co_return e;
}

awaitable<error> session::wait_for_login_slot(std::shared_ptr<login_gate::ticket>& slot_r) {
  if (!settings_.logins) co_return error::none();
  slot_r = settings_.logins->enqueue(connection_target(spec_), [weak = weak_from_this()] {
    if (auto self = weak.lock()) asio::post(self->strand_, [self] { self->wake(); });
  });
  for (bool first = true; !slot_r->admitted(); first = false) {
    if (stop_requested_) co_return error{errc::cancelled, stop_reason_};
    const auto ahead = slot_r->ahead();
    {
      std::lock_guard lock(snapshot_mutex_);
      auto& w = snapshot_.waiting_for_login ? *snapshot_.waiting_for_login : snapshot_.waiting_for_login.emplace();
      if (first) w.since = std::chrono::system_clock::now();
      w.ahead = ahead;
    }
    if (first) {
      set_state(session_state::connecting, "waiting for a login slot to " + connection_target(spec_) + " (" +
                                               std::to_string(ahead) + " ahead)");
    }
    co_await sleep_interruptibly(std::chrono::seconds(1));  // woken when admitted or stopped
  }
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.waiting_for_login.reset();
  }
  co_return error::none();
}

awaitable<error> session::open_and_login(upstream& conn) {
  if (!conn.is_open()) {
    if (auto e = co_await conn.open(spec_); !e.ok()) co_return e;
  }
  const bool oauth = spec_.auth != auth_method::basic;
  auto credentials = co_await resolve_login_credentials(spec_, name_, sources_of(settings_));
  if (oauth && settings_.tokens) refresh_token_status({});
  if (!credentials) co_return credentials.err();
  auto mechanism = co_await log_in(conn, std::move(credentials.value()));
  if (!mechanism) co_return mechanism.err();
  if (oauth) refresh_token_status(mechanism.value());
  co_return error::none();
}

awaitable<error> session::reopen_pop3() {
  // QUIT first: it is what commits this connection's DELEs (RFC 1939 6).
  error committed = error::none();
  if (auto* pop3 = client_ ? client_->pop3() : nullptr; pop3 != nullptr && pop3->is_open()) {
    committed = co_await pop3->quit(settings_.command_timeout);
  }
  counters_base_.commands_sent += client_->commands_sent();
  counters_base_.bytes_in += client_->bytes_in();
  counters_base_.bytes_out += client_->bytes_out();
  maildrop_->forget_listing();
  auto fresh = make_upstream(spec_.proto, strand_, tls_context_, connection_options());
  client_ = fresh;
  error e = co_await open_and_login(*fresh);
  if (!e.ok()) {
    fresh->close(e);
    if (committed.code == errc::aborted) co_return committed;  // the caller must not retry blindly
    co_return error{errc::unavailable, "re-opening the POP3 maildrop failed: " + e.message};
  }
  ++counters_base_.connects;
  refresh_counters();
  co_return committed;
}

void session::bind_reopen(connection_context& ctx) {
  // Refers to `ctx` itself: the new connection's client replaces the old one in it.
  ctx.reopen = [this, &ctx]() -> awaitable<error> {
    error e = co_await reopen_pop3();
    ctx.pop3 = client_->pop3();
    co_return e;
  };
}

upstream_options session::connection_options() const {
  upstream_options options;
  options.imap = settings_.imap_limits;
  options.dead_peer_timeout = settings_.dead_connection;
  options.http_connections = settings_.http_connections;
  options.ews_discovery = settings_.ews_discovery;
  if (spec_.auth != auth_method::basic && settings_.tokens) {
    options.fresh_token = [weak = weak_from_this()]() -> awaitable<result<std::string>> {
      auto self = weak.lock();
      if (!self) co_return error{errc::cancelled, "the session is gone"};
      co_return co_await self->settings_.tokens->get(self->oauth2_request());
    };
    options.reject_token = [weak = weak_from_this()](const std::string& token) {
      if (auto self = weak.lock()) self->settings_.tokens->forget(self->oauth2_request(), token);
    };
  }
  return options;
}

connection_context session::make_context() {
  return connection_context{client_->imap(),
                            client_->pop3(),
                            selected_mailbox_,
                            uid_validity_,
                            settings_.command_timeout,
                            claims_,
                            [this](const std::string& lease) {
                              std::lock_guard lock(lease_mutex_);
                              return leases_.contains(lease);
                            },
                            spec_,
                            maildrop_.get(),
                            {},
                            smtp_.get(),
                            *cache_,
                            lists_in_flight_,
                            client_->ews(),
                            client_->graph()};
}

bool session::touch_lease(const std::string& lease_id) {
  std::lock_guard lock(lease_mutex_);
  return leases_.renew(lease_id, std::chrono::steady_clock::now()).has_value();
}

awaitable<error> session::serve_ready() {
  client_->set_on_lost([weak = weak_from_this()](error why) {
    if (auto self = weak.lock()) {
      self->lost_ = std::move(why);
      self->wake();
    }
  });
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.capabilities = client_->capabilities();
    snapshot_.connected_since = std::chrono::system_clock::now();
    snapshot_.counters.connects = ++counters_base_.connects;
  }
  refresh_counters();
  set_state(session_state::ready, "logged in");
  {
    std::lock_guard lock(lease_mutex_);
    attachable_ = !stop_requested_;
  }
  grant_waiters();

  selected_mailbox_.clear();
  uid_validity_ = 0;
  cache_->connection_reset();
  bool first_idle_wait = true;
  if (maildrop_) maildrop_->forget_listing();
  for (;;) {
    // Queued operations first, round-robin between leases; reads of the selected
    // folder overlap (IMAP: pipelined; EWS: reads of any folder, over the connection
    // pool), everything else runs alone.
    for (;;) {
      if (stop_requested_ || lost_ || !client_->is_open()) break;
      if (!held_) {
        held_ = operations_.pop_if([this](const std::string& lease) { return !busy_leases_.contains(lease); });
        if (held_) metrics_hooks::queued(-1);
      }
      if (!held_) break;
      std::shared_ptr<extra_connection> on;
      if (!may_start(*held_) && !(on = extra_for(*held_))) break;
      start_operation(std::move(*held_), std::move(on));
      held_.reset();
    }
    error_code ec;
    if (in_flight_ > 0 || stop_requested_ || lost_ || !client_->is_open()) {
      if (in_flight_ == 0) {
        if (stop_requested_) co_return error::none();
        if (lost_) co_return *lost_;
        co_return error{errc::unavailable, "the connection closed during an operation"};
      }
      // An operation ending (or a new one arriving) wakes us.
      wake_.expires_after(spec_.keepalive);
      co_await wake_.async_wait(redirect_error(use_awaitable, ec));
      continue;
    }
    if (held_ || !operations_.empty()) continue;
    if (!watchers_.empty()) {
      if (auto e = co_await watch_and_wait(); !e.ok()) co_return e;
      if (stop_requested_) co_return error::none();
      if (lost_) co_return *lost_;
      continue;
    }
    // 10,000 sessions must not NOOP in step: the first wait after a login is anywhere in
    // 0.5..1.5 keepalives (sessions restored together then spread over a whole period),
    // later ones ±10 % (they stay spread).
    wake_.expires_after(first_idle_wait ? jittered(spec_.keepalive, 0.5) : jittered(spec_.keepalive));
    first_idle_wait = false;
    co_await wake_.async_wait(redirect_error(use_awaitable, ec));
    if (stop_requested_) co_return error::none();
    if (lost_) co_return *lost_;
    if (!ec && in_flight_ == 0 && !held_ && operations_.empty()) {
      // A dead connection is noticed within dead_connection of the probe, not command_timeout.
      const auto probe_timeout = std::min<std::chrono::milliseconds>(settings_.command_timeout, settings_.dead_connection);
      if (auto e = co_await client_->noop(probe_timeout); !e.ok()) co_return e;
      refresh_counters();
    }
  }
}

bool session::may_start(const queued_operation& op) const {
  if (in_flight_ == 0) return true;
  if (!in_flight_shared_ || op.traits.shared_folder.empty()) return false;
  if (main_in_flight_ == 0 && client_->imap() != nullptr) return true;  // only extras busy: it selects the folder
  // EWS and Graph have no selected folder: reads of any folders go side by side, one per
  // request slot of the pool (more would only wait inside the client, out of the fair
  // queue's order).
  if (client_->ews() != nullptr || client_->graph() != nullptr) return in_flight_ < client_->parallel_reads();
  return client_->imap() != nullptr && main_in_flight_ < settings_.max_pipelined &&
         op.traits.shared_folder == main_folder_;
}

void session::start_operation(queued_operation op, std::shared_ptr<extra_connection> on) {
  metrics_hooks::queue_wait(spec_.proto, std::chrono::steady_clock::now() - op.queued_at);
  in_flight_shared_ = (in_flight_ == 0 || in_flight_shared_) && !op.traits.shared_folder.empty();
  ++in_flight_;
  if (on) {
    if (on->in_flight++ == 0) on->busy_folder = op.traits.shared_folder;
  } else if (main_in_flight_++ == 0) {
    main_folder_ = op.traits.shared_folder;  // "" for an operation that runs alone
  }
  busy_leases_.insert(op.lease_id);
  asio::co_spawn(
      strand_,
      [self = shared_from_this(), op = std::move(op), on = std::move(on)]() -> awaitable<void> {
        {
          connection_context ctx = on ? self->make_context(*on) : self->make_context();
          if (!on) self->bind_reopen(ctx);
          const auto started = std::chrono::steady_clock::now();
          co_await op.run(&ctx, error::none());
          metrics_hooks::operation(self->spec_.proto, std::chrono::steady_clock::now() - started);
        }
        self->busy_leases_.erase(op.lease_id);
        if (--self->in_flight_ == 0) self->in_flight_shared_ = false;
        if (on) {
          if (--on->in_flight == 0) on->idle_since = std::chrono::steady_clock::now();
        } else {
          --self->main_in_flight_;
        }
        self->refresh_counters();
        self->wake();
      },
      asio::detached);
}

awaitable<error> session::watch_and_wait() {
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::uint64_t> ids;
  for (const auto& [id, w] : watchers_) ids.push_back(id);
  for (auto id : ids) {
    auto it = watchers_.find(id);
    if (it == watchers_.end()) continue;
    auto poll = it->second.poll;  // the watch may end while its poll runs
    connection_context ctx = make_context();
    bind_reopen(ctx);
    error e = co_await poll(ctx);
    refresh_counters();
    if (stop_requested_ || lost_) co_return error::none();
    if (!client_->is_open()) {
      co_return e.ok() ? error{errc::unavailable, "the connection closed while watching"} : e;
    }
    if (!e.ok()) {
      if (auto done = watchers_.find(id); done != watchers_.end()) {
        auto on_end = std::move(done->second.on_end);
        watchers_.erase(done);
        refresh_counters();
        if (on_end) on_end(e);
      }
    }
    if (!operations_.empty() || held_) co_return error::none();  // queued calls first
  }
  if (watchers_.empty() || !operations_.empty() || held_) co_return error::none();

  // When the connection can wait for news of every watch itself (IMAP IDLE: all on the
  // folder its poll selected; EWS: streaming notifications), it does; otherwise the
  // watches are polled again after the poll interval.
  std::vector<std::string> folders;
  for (const auto& [id, w] : watchers_) folders.push_back(w.folder_wire);
  if (client_->waits_on(folders, selected_mailbox_)) {
    waiting_ = true;
    auto waited = co_await client_->wait_for_news(selected_mailbox_, settings_.idle_restart, settings_.command_timeout);
    waiting_ = false;
    if (!waited) co_return waited.err();
    if (waited.value()) co_return error::none();
  }
  error_code ec;
  const auto interval = std::min<std::chrono::milliseconds>(spec_.poll_interval, spec_.keepalive);
  wake_.expires_at(started + interval);
  co_await wake_.async_wait(redirect_error(use_awaitable, ec));
  co_return error::none();
}

void session::wake() {
  wake_.cancel();
  if (waiting_ && client_) client_->interrupt_wait();
}

result<std::uint64_t> session::add_watcher(const std::string& lease_id, watcher w) {
  {
    std::lock_guard lock(lease_mutex_);
    if (!leases_.renew(lease_id, std::chrono::steady_clock::now())) {
      return error{errc::not_found, "lease_id: no such lease on session '" + name_ + "' (expired or released)"};
    }
  }
  const auto id = next_watcher_id_++;
  asio::post(strand_, [self = shared_from_this(), id, w = std::move(w)]() mutable {
    if (self->stop_requested_ || !is_live(self->state_)) {
      w.on_end(error{errc::cancelled, "session '" + self->name_ + "' is closing"});
      return;
    }
    spdlog::debug("session '{}': watch {} added for lease {}…", self->name_, id, w.lease_id.substr(0, 8));
    self->watchers_.emplace(id, std::move(w));
    self->refresh_counters();
    self->wake();
  });
  return id;
}

void session::remove_watcher(std::uint64_t id) {
  asio::post(strand_, [self = shared_from_this(), id] {
    self->watchers_.erase(id);
    self->refresh_counters();
    self->wake();
  });
}

void session::end_watchers(const error& why, const std::function<bool(const watcher&)>& which) {
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    if (which(it->second)) {
      auto on_end = std::move(it->second.on_end);
      it = watchers_.erase(it);
      refresh_counters();
      if (on_end) on_end(why);
    } else {
      ++it;
    }
  }
}

awaitable<void> session::sleep_interruptibly(std::chrono::milliseconds delay) {
  error_code ec;
  wake_.expires_after(delay);
  co_await wake_.async_wait(redirect_error(use_awaitable, ec));
}

auth::token_request session::oauth2_request() const { return make_token_request(spec_, name_); }

void session::refresh_token_status(const std::string& mechanism) {
  const auto state = settings_.tokens->state(oauth2_request());
  std::lock_guard lock(snapshot_mutex_);
  auto& t = snapshot_.token ? *snapshot_.token : snapshot_.token.emplace();
  t.token_url = spec_.oauth2.token_url;
  if (!mechanism.empty()) t.mechanism = mechanism;
  t.valid_until = state.valid_until;
  t.last_refresh = state.last_refresh;
  t.refresh_count = state.refresh_count;
  if (state.last_error) {
    t.last_refresh_error = error_record{state.last_error->code, state.last_error->message,
                                        state.last_error_at.value_or(std::chrono::system_clock::now())};
  } else {
    t.last_refresh_error.reset();
  }
}

void session::refresh_counters() {
  std::lock_guard lock(snapshot_mutex_);
  snapshot_.watch_count = static_cast<std::uint32_t>(watchers_.size());
  if (smtp_ && snapshot_.smtp) {
    auto& m = *snapshot_.smtp;
    m.connected = smtp_->connected();
    m.messages_sent = smtp_->messages_sent();
    m.send_failures = smtp_->send_failures();
    if (auto e = smtp_->last_error()) m.last_error = error_record{e->code, e->message, smtp_->last_error_at()};
  }
  auto& c = snapshot_.counters;
  c.commands_sent = counters_base_.commands_sent;
  c.bytes_in = counters_base_.bytes_in;
  c.bytes_out = counters_base_.bytes_out;
  if (client_) {
    c.commands_sent += client_->commands_sent();
    c.bytes_in += client_->bytes_in();
    c.bytes_out += client_->bytes_out();
    if (auto http = client_->http()) snapshot_.http = std::move(http);
  }
  if (snapshot_.imap) {
    auto& m = *snapshot_.imap;
    m.open = client_ && client_->is_open() ? 1 : 0;
    for (const auto& x : extras_) {
      if (!x->conn) continue;
      c.commands_sent += x->conn->commands_sent();
      c.bytes_in += x->conn->bytes_in();
      c.bytes_out += x->conn->bytes_out();
      if (x->conn->is_open()) ++m.open;
    }
    m.in_flight = static_cast<std::uint32_t>(in_flight_);
    m.extra_logins = extra_logins_;
    m.last_extra_error = last_extra_error_;
  }
}

// ------------------------------------------------------------------ state + status

void session::set_state(session_state next, std::string reason) {
  const session_state previous = state_;
  if (next != session_state::ready) {
    std::lock_guard lock(lease_mutex_);
    attachable_ = false;
  }
  state_ = next;
  if (next == session_state::failed || next == session_state::closed) accepting_ = false;
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.state = next;
    snapshot_.state_since = std::chrono::system_clock::now();
    if (next != session_state::ready) snapshot_.connected_since.reset();
  }
  if (previous != next) {
    auto level = next == session_state::failed || next == session_state::backoff ? spdlog::level::warn
                                                                                  : spdlog::level::info;
    spdlog::log(level, "session '{}': {} -> {}: {}", name_, state_name(previous), state_name(next), reason);
  }
  publish(std::move(reason), previous);
}

void session::publish(std::string reason, std::optional<session_state> previous) {
  status_event ev;
  ev.previous_state = previous.value_or(state_);
  ev.reason = std::move(reason);
  ev.at = std::chrono::system_clock::now();
  ev.status = snapshot();
  if (on_event_) on_event_(ev);
}

void session::record_error(const error& e) {
  std::lock_guard lock(snapshot_mutex_);
  snapshot_.last_error = error_record{e.code, e.message, std::chrono::system_clock::now()};
  snapshot_.close_reason = e.message;
}

status_snapshot session::snapshot() const {
  snapshot_reads_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

void session::finish(session_state final_state, const std::string& reason) {
  accepting_ = false;
  end_watchers(error{errc::cancelled, "session '" + name_ + "' is " +
                                          (final_state == session_state::failed ? "FAILED" : "closed") + ": " + reason},
               [](const watcher&) { return true; });
  fail_operations(error{errc::cancelled, "session '" + name_ + "' is " +
                                            (final_state == session_state::failed ? "FAILED" : "closed") + ": " + reason});
  {
    // Status must already say FAILED/CLOSED when the waiting Connects hear about it;
    // set_state() below logs and publishes the event once leases are gone.
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.state = final_state;
    snapshot_.state_since = std::chrono::system_clock::now();
  }
  if (final_state == session_state::failed) {
    auto last = snapshot().last_error;
    fail_waiters(last ? error{last->code, last->message} : error{errc::unavailable, reason});
  } else {
    fail_waiters(error{errc::cancelled, "session '" + name_ + "' was closed: " + reason});
  }
  std::vector<std::string> gone;
  {
    std::lock_guard lock(lease_mutex_);
    attachable_ = false;
    gone = leases_.ids();
    leases_.clear();
    linger_until_.reset();
  }
  for (const auto& id : gone) on_lease_gone_(id);
  lease_timer_.cancel();
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.lease_count = 0;
    snapshot_.linger_until.reset();
    if (final_state == session_state::closed) snapshot_.close_reason = reason;
  }
  set_state(final_state, reason);
  for (auto& cb : stop_callbacks_) cb();
  stop_callbacks_.clear();
}

// ------------------------------------------------------------------ leases

void session::attach(std::string client_name, std::chrono::seconds ttl, steady_time deadline,
                     std::function<void(result<lease_grant>)> done) {
  asio::post(strand_, [self = shared_from_this(), client_name = std::move(client_name), ttl, deadline,
                       done = std::move(done)]() mutable {
    if (self->state_ == session_state::failed) {
      auto last = self->snapshot().last_error;
      done(last ? error{last->code, last->message} : error{errc::unavailable, "session failed"});
      return;
    }
    if (self->stop_requested_ || !is_live(self->state_)) {
      done(error{errc::cancelled, "session '" + self->name_ + "' is closing"});
      return;
    }
    waiter w{self->next_waiter_id_++, std::move(client_name), ttl, std::move(done), nullptr};
    if (self->state_ == session_state::ready) {
      self->grant(w);
      return;
    }
    w.deadline = std::make_unique<asio::steady_timer>(self->strand_, deadline);
    w.deadline->async_wait([weak = self->weak_from_this(), id = w.id](error_code ec) {
      if (ec) return;
      if (auto s = weak.lock()) s->on_waiter_deadline(id);
    });
    self->waiters_.push_back(std::move(w));
    std::lock_guard lock(self->lease_mutex_);
    self->linger_until_.reset();  // someone wants this session again
  });
}

lease_grant session::add_lease_locked(const std::string& client_name, std::chrono::seconds ttl) {
  const auto& l = leases_.add(client_name, ttl, std::chrono::steady_clock::now());
  metrics_hooks::attach(spec_.proto);
  linger_until_.reset();
  lease_grant g;
  g.lease_id = l.id;
  g.expires_at = std::chrono::system_clock::now() + ttl;
  const auto count = static_cast<std::uint32_t>(leases_.size());
  std::lock_guard lock(snapshot_mutex_);
  snapshot_.lease_count = count;
  snapshot_.linger_until.reset();
  g.status = snapshot_;
  return g;
}

std::optional<lease_grant> session::try_attach_ready(const std::string& client_name, std::chrono::seconds ttl) {
  std::optional<lease_grant> g;
  bool strand_work = false;
  {
    std::lock_guard lock(lease_mutex_);
    if (!attachable_) return std::nullopt;
    g = add_lease_locked(client_name, ttl);
    // The lease timer re-arms itself for the earliest expiry whenever it fires, so it
    // only needs the strand when it is not armed, or armed too late for this lease.
    // Waking the strand costs more than the rest of an attach (measured: ~60 us).
    const auto expiry = std::chrono::steady_clock::now() + ttl;
    strand_work = !lease_timer_at_ || expiry < *lease_timer_at_ || (settings_.watchers && settings_.watchers->load() > 0);
  }
  spdlog::debug("session '{}': lease {}… granted to '{}' (ttl {} s, {} leases)", name_, g->lease_id.substr(0, 8),
                client_name, ttl.count(), g->status.lease_count);
  if (strand_work) asio::post(strand_, [self = shared_from_this()] { self->leases_changed("lease granted"); });
  return g;
}

void session::grant(waiter& w) {
  lease_grant g;
  {
    std::lock_guard lock(lease_mutex_);
    g = add_lease_locked(w.client_name, w.ttl);
  }
  spdlog::info("session '{}': lease {}… granted to '{}' (ttl {} s, {} leases)", name_, g.lease_id.substr(0, 8),
               w.client_name, w.ttl.count(), g.status.lease_count);
  leases_changed("lease granted");
  auto done = std::move(w.done);
  done(std::move(g));
}

void session::grant_waiters() {
  auto pending = std::move(waiters_);
  waiters_.clear();
  for (auto& w : pending) {
    if (w.deadline) w.deadline->cancel();
    grant(w);
  }
}

void session::fail_waiters(const error& e) {
  auto pending = std::move(waiters_);
  waiters_.clear();
  for (auto& w : pending) {
    if (w.deadline) w.deadline->cancel();
    w.done(e);
  }
}

void session::on_waiter_deadline(std::uint64_t waiter_id) {
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (it->id != waiter_id) continue;
    auto done = std::move(it->done);
    waiters_.erase(it);
    auto last = snapshot().last_error;
    done(error{errc::deadline_exceeded, "session '" + name_ + "' is not READY yet (state " +
                                            std::string(state_name(state_)) + ")" +
                                            (last ? "; last error: " + last->message : std::string())});
    leases_changed("attach timed out");
    return;
  }
}

namespace {
// Owns the operation while its why-not path runs: the coroutine frame keeps `op` (and so
// the lambda captures it refers to) alive until it finishes.
awaitable<void> run_refused(operation op, error why) { co_await op(nullptr, std::move(why)); }
}  // namespace

error session::enqueue(const std::string& lease_id, operation op, operation_traits traits) {
  {
    std::lock_guard lock(lease_mutex_);
    if (!leases_.renew(lease_id, std::chrono::steady_clock::now())) {
      return {errc::not_found, "lease_id: no such lease on session '" + name_ + "' (expired or released)"};
    }
  }
  asio::post(strand_, [self = shared_from_this(), lease_id, op = std::move(op), traits = std::move(traits)]() mutable {
    self->arm_lease_timer();
    if (self->state_ != session_state::ready || !self->client_ || self->stop_requested_) {
      error why{errc::unavailable, "session '" + self->name_ + "' is " + std::string(state_name(self->state_)) +
                                       ", not READY: retry when it is (WatchStatus tells)"};
      asio::co_spawn(self->strand_, run_refused(std::move(op), std::move(why)), asio::detached);
      return;
    }
    queued_operation queued{lease_id, std::move(op), std::move(traits)};
    if (!self->operations_.push(lease_id, std::move(queued))) {
      error why{errc::resource_exhausted, "lease_id: " + std::to_string(max_queued_per_lease) +
                                              " operations of this lease are already waiting; wait for some to finish"};
      asio::co_spawn(self->strand_, run_refused(std::move(queued.run), std::move(why)), asio::detached);
      return;
    }
    metrics_hooks::queued(1);
    self->wake();  // serve_ready() runs it in its turn
  });
  return error::none();
}

void session::fail_operations(const error& why) {
  if (held_) {
    asio::co_spawn(strand_, run_refused(std::move(held_->run), why), asio::detached);
    held_.reset();
  }
  auto drained = operations_.drain();
  metrics_hooks::queued(-static_cast<std::int64_t>(drained.size()));
  for (auto& op : drained) asio::co_spawn(strand_, run_refused(std::move(op.run), why), asio::detached);
}

void session::renew(std::string lease_id, std::function<void(result<system_time>)> done) {
  asio::post(strand_, [self = shared_from_this(), lease_id = std::move(lease_id), done = std::move(done)] {
    std::optional<steady_time> expiry;
    {
      std::lock_guard lock(self->lease_mutex_);
      expiry = self->leases_.renew(lease_id, std::chrono::steady_clock::now());
    }
    if (!expiry) {
      done(error{errc::not_found, "lease_id: no such lease on session '" + self->name_ + "' (expired or released)"});
      return;
    }
    self->arm_lease_timer();
    done(std::chrono::system_clock::now() + (*expiry - std::chrono::steady_clock::now()));
  });
}

std::optional<status_snapshot> session::try_release_not_last(const std::string& lease_id) {
  if (settings_.watchers && settings_.watchers->load() > 0) return std::nullopt;
  std::size_t left = 0;
  {
    std::lock_guard lock(lease_mutex_);
    // With others left the session does not linger, and the lease timer, armed for an
    // expiry that may now be gone, re-arms itself for the earliest one when it fires.
    if (!attachable_ || leases_.size() < 2 || !leases_.remove(lease_id)) return std::nullopt;
    left = leases_.size();
    std::lock_guard snapshot_lock(snapshot_mutex_);
    snapshot_.lease_count = static_cast<std::uint32_t>(left);
  }
  spdlog::debug("session '{}': lease {}… released ({} left)", name_, lease_id.substr(0, 8), left);
  return snapshot();
}

void session::release(std::string lease_id, bool force, std::function<void(result<status_snapshot>)> done) {
  asio::post(strand_, [self = shared_from_this(), lease_id = std::move(lease_id), force, done = std::move(done)] {
    std::size_t left = 0;
    {
      std::lock_guard lock(self->lease_mutex_);
      if (!self->leases_.remove(lease_id)) {
        done(error{errc::not_found, "lease_id: no such lease on session '" + self->name_ + "' (expired or released)"});
        return;
      }
      left = self->leases_.size();
    }
    spdlog::info("session '{}': lease {}… released{} ({} left)", self->name_, lease_id.substr(0, 8),
                 force ? " with force" : "", left);
    self->end_watchers(error{errc::not_found, "lease_id: the lease was released"},
                       [&lease_id](const watcher& w) { return w.lease_id == lease_id; });
    if (force) {
      self->begin_stop("force disconnect by lease " + lease_id.substr(0, 8) + "…");
    } else {
      self->leases_changed("lease released");
    }
    done(self->snapshot());
  });
}

void session::leases_changed(const std::string& reason) {
  const auto now = std::chrono::steady_clock::now();
  const auto linger = spec_.linger.value_or(settings_.default_linger);
  bool stop_now = false;
  {
    std::lock_guard lock(lease_mutex_);
    const bool idle = leases_.empty() && waiters_.empty() && !stop_requested_ && is_live(state_);
    if (idle && !linger_until_) {
      if (linger.count() == 0) {
        stop_now = true;
      } else {
        linger_until_ = now + linger;
        spdlog::info("session '{}': no leases left, lingering {} s", name_, linger.count());
      }
    } else if (!idle) {
      linger_until_.reset();
    }
    std::lock_guard snapshot_lock(snapshot_mutex_);
    snapshot_.lease_count = static_cast<std::uint32_t>(leases_.size());
    if (linger_until_) {
      snapshot_.linger_until = std::chrono::system_clock::now() + (*linger_until_ - now);
    } else {
      snapshot_.linger_until.reset();
    }
  }
  if (stop_now) {
    begin_stop("last lease released (linger 0 s)");
    return;
  }
  arm_lease_timer();
  publish(reason);
}

void session::arm_lease_timer() {
  std::optional<steady_time> next;
  {
    std::lock_guard lock(lease_mutex_);
    next = leases_.next_expiry();
    if (linger_until_ && (!next || *linger_until_ < *next)) next = linger_until_;
    lease_timer_at_ = next;
  }
  if (!next) {
    lease_timer_.cancel();
    return;
  }
  lease_timer_.expires_at(*next);
  lease_timer_.async_wait([weak = weak_from_this()](error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_lease_timer();
  });
}

void session::on_lease_timer() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<lease> expired;
  bool linger_over = false;
  {
    std::lock_guard lock(lease_mutex_);
    lease_timer_at_.reset();  // it just fired; arm_lease_timer() below sets it again
    // An open watch keeps its lease alive (a bot waiting on the stream has nothing to renew for).
    for (const auto& [id, w] : watchers_) leases_.renew(w.lease_id, now);
    expired = leases_.expire(now);
    linger_over = linger_until_ && *linger_until_ <= now && leases_.empty() && waiters_.empty();
    // Decided under the lock: a fast-path attach either came first (no stop) or
    // finds the session no longer attachable.
    if (linger_over) attachable_ = false;
  }
  for (const auto& l : expired) {
    spdlog::info("session '{}': lease {}… of '{}' expired (not renewed within {} s)", name_, l.id.substr(0, 8),
                 l.client_name, l.ttl.count());
    on_lease_gone_(l.id);
  }
  if (linger_over) {
    const auto linger = spec_.linger.value_or(settings_.default_linger);
    begin_stop("idle linger of " + std::to_string(linger.count()) + " s expired with no leases");
    return;
  }
  if (!expired.empty()) {
    leases_changed("lease expired");
  } else {
    arm_lease_timer();
  }
}

// ------------------------------------------------------------------ stopping

void session::stop(std::string reason, std::function<void()> done) {
  asio::post(strand_, [self = shared_from_this(), reason = std::move(reason), done = std::move(done)]() mutable {
    if (!is_live(self->state_)) {
      if (done) done();
      return;
    }
    if (done) self->stop_callbacks_.push_back(std::move(done));
    self->begin_stop(std::move(reason));
  });
}

void session::begin_stop(std::string reason) {
  if (stop_requested_) return;
  {
    std::lock_guard lock(lease_mutex_);
    attachable_ = false;
    stop_requested_ = true;
  }
  accepting_ = false;
  stop_reason_ = std::move(reason);
  spdlog::info("session '{}': closing: {}", name_, stop_reason_);
  wake();
  // A connection still being opened is aborted rather than waited for.
  if (client_ && state_ != session_state::ready) client_->close(error{errc::cancelled, stop_reason_});
}

}  // namespace mailbroker::session
