#include "session/session.hpp"

#include <spdlog/spdlog.h>

#include "auth/token_cache.hpp"
#include "session/token_request.hpp"
#include "net/tls_context.hpp"
#include "protocol/imap/client.hpp"
#include "secrets/secret_ref.hpp"

namespace mailbroker::session {
namespace {

using asio::redirect_error;

// Errors that retrying cannot fix: the operator has to change the spec or the server.
bool is_permanent(const error& e) {
  return e.code == errc::unauthenticated || e.code == errc::failed_precondition ||
         e.code == errc::invalid_argument || e.code == errc::unimplemented || e.code == errc::internal;
}

imap::tls_mode to_imap(tls_mode m) {
  switch (m) {
    case tls_mode::implicit: return imap::tls_mode::implicit;
    case tls_mode::starttls: return imap::tls_mode::starttls;
    case tls_mode::plain: return imap::tls_mode::plain;
  }
  return imap::tls_mode::implicit;
}

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
      lease_timer_(strand_) {
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
}

session::~session() = default;

void session::start() {
  asio::co_spawn(strand_, [self = shared_from_this()] { return self->run(); }, asio::detached);
}

// ------------------------------------------------------------------ connection loop

awaitable<void> session::run() {
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
    set_state(session_state::backoff,
              "reconnecting in " + std::to_string(delay.count()) + " ms after: " + e.message);
    co_await sleep_interruptibly(delay);
  }

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
  set_state(session_state::connecting, "connecting to " + spec_.host + ":" + std::to_string(spec_.port));
  client_ = std::make_shared<imap::client>(strand_, tls_context_);
  lost_.reset();
  imap::connect_options options{spec_.host, spec_.port, to_imap(spec_.tls), spec_.tls_server_name,
                                !spec_.insecure_skip_verify, spec_.connect_timeout};
  if (auto e = co_await client_->open(options); !e.ok()) co_return e;
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.greeting = client_->greeting();
    snapshot_.capabilities = client_->capabilities();
  }
  if (stop_requested_) co_return error{errc::cancelled, stop_reason_};

  set_state(session_state::authenticating, "logging in as " + spec_.username);
  if (spec_.auth != auth_method::basic) {
    if (!settings_.tokens) co_return error{errc::internal, "no token cache configured"};
    auto token = co_await settings_.tokens->get(oauth2_request());
    refresh_token_status({});
    if (!token) co_return token.err();
    auto mechanism = co_await client_->authenticate_oauth(spec_.username, token.value());
    std::fill(token.value().begin(), token.value().end(), '\0');
    if (!mechanism) co_return mechanism.err();
    refresh_token_status(mechanism.value());
    co_return error::none();
  }
  auto password = secrets::resolve(spec_.password, "spec.auth.basic.password", settings_.vault.get());
  if (!password) co_return password.err();
  error e = co_await client_->login(spec_.username, password.value());
  std::fill(password.value().begin(), password.value().end(), '\0');
  co_return e;
}

awaitable<error> session::serve_ready() {
  client_->set_on_lost([weak = weak_from_this()](error why) {
    if (auto self = weak.lock()) {
      self->lost_ = std::move(why);
      self->wake_.cancel();
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
  for (;;) {
    // Queued operations first, one at a time, round-robin between leases.
    while (auto op = operations_.pop()) {
      connection_context ctx{*client_, selected_mailbox_, uid_validity_, settings_.command_timeout, claims_,
                             [this](const std::string& lease) {
                               std::lock_guard lock(lease_mutex_);
                               return leases_.contains(lease);
                             }};
      co_await (*op)(&ctx, error::none());
      refresh_counters();
      if (stop_requested_) co_return error::none();
      if (lost_) co_return *lost_;
      if (!client_->is_open()) co_return error{errc::unavailable, "the connection closed during an operation"};
    }
    error_code ec;
    wake_.expires_after(spec_.keepalive);
    co_await wake_.async_wait(redirect_error(use_awaitable, ec));
    if (stop_requested_) co_return error::none();
    if (lost_) co_return *lost_;
    if (!ec) {
      if (auto e = co_await client_->noop(settings_.command_timeout); !e.ok()) co_return e;
      refresh_counters();
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
  auto& c = snapshot_.counters;
  c.commands_sent = counters_base_.commands_sent;
  c.bytes_in = counters_base_.bytes_in;
  c.bytes_out = counters_base_.bytes_out;
  if (client_) {
    c.commands_sent += client_->commands_sent();
    c.bytes_in += client_->bytes_in();
    c.bytes_out += client_->bytes_out();
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
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

void session::finish(session_state final_state, const std::string& reason) {
  accepting_ = false;
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

error session::enqueue(const std::string& lease_id, operation op) {
  {
    std::lock_guard lock(lease_mutex_);
    if (!leases_.renew(lease_id, std::chrono::steady_clock::now())) {
      return {errc::not_found, "lease_id: no such lease on session '" + name_ + "' (expired or released)"};
    }
  }
  asio::post(strand_, [self = shared_from_this(), lease_id, op = std::move(op)]() mutable {
    self->arm_lease_timer();
    if (self->state_ != session_state::ready || !self->client_ || self->stop_requested_) {
      error why{errc::unavailable, "session '" + self->name_ + "' is " + std::string(state_name(self->state_)) +
                                       ", not READY: retry when it is (WatchStatus tells)"};
      asio::co_spawn(self->strand_, run_refused(std::move(op), std::move(why)), asio::detached);
      return;
    }
    if (!self->operations_.push(lease_id, std::move(op))) {
      error why{errc::resource_exhausted, "lease_id: " + std::to_string(max_queued_per_lease) +
                                              " operations of this lease are already waiting; wait for some to finish"};
      asio::co_spawn(self->strand_, run_refused(std::move(op), std::move(why)), asio::detached);
      return;
    }
    self->wake_.cancel();  // serve_ready() runs it in its turn
  });
  return error::none();
}

void session::fail_operations(const error& why) {
  for (auto& op : operations_.drain()) asio::co_spawn(strand_, run_refused(std::move(op), why), asio::detached);
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
  wake_.cancel();
  // A connection still being opened is aborted rather than waited for.
  if (client_ && state_ != session_state::ready) client_->close(error{errc::cancelled, stop_reason_});
}

}  // namespace mailbroker::session
