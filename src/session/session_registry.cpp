#include "session/session_registry.hpp"

#include <spdlog/spdlog.h>

#include "auth/token_cache.hpp"
#include "net/fd_budget.hpp"

namespace mailbroker::session {

namespace {
registry_settings with_shared_state(registry_settings settings, const asio::any_io_executor& executor,
                                    std::shared_ptr<std::atomic<std::size_t>> watchers) {
  if (!settings.session.tokens) settings.session.tokens = std::make_shared<auth::token_cache>();
  if (!settings.session.logins) settings.session.logins = std::make_shared<login_gate>(executor, settings.logins);
  settings.session.watchers = std::move(watchers);
  return settings;
}

std::size_t index_of(session_state s) { return static_cast<std::size_t>(s); }
}  // namespace

session_registry::session_registry(asio::any_io_executor executor, registry_settings settings)
    : executor_(std::move(executor)),
      settings_(with_shared_state(std::move(settings), executor_, std::make_shared<std::atomic<std::size_t>>(0))),
      watcher_count_(settings_.session.watchers) {}

session_registry::~session_registry() = default;

error session_registry::max_sessions_error() const {
  return error{errc::resource_exhausted,
               "max-sessions (" + std::to_string(settings_.max_sessions) +
                   ") live sessions reached: Disconnect one (with force), or raise max-sessions in the "
                   "daemon config (mailbrokerd --max-sessions N)"};
}

std::size_t session_registry::descriptors_for(const session_spec& spec) {
  const bool one_connection = spec.proto == protocol::imap || spec.proto == protocol::pop3;
  if (!one_connection) return net::fd_budget::per_session;
  return spec.smtp ? 2 : 1;
}

error session_registry::admission_error_locked(const session_spec& spec) const {
  if (live_.size() >= settings_.max_sessions) return max_sessions_error();
  // Refuse before the descriptors run out, not when a socket() fails half-way through a
  // login: the soft limit's room is O(1); near it, count the open descriptors.
  const auto limit = net::fd_budget::limit();
  const auto room = limit > net::fd_budget::reserve ? limit - net::fd_budget::reserve : 0;
  const auto needed = live_descriptors_ + descriptors_for(spec);
  if (needed > room) {
    return error{errc::resource_exhausted,
                 "the open-file limit (" + std::to_string(limit) + ") leaves room for " + std::to_string(room) +
                     " session connections, and the " + std::to_string(live_.size()) + " live sessions hold " +
                     std::to_string(live_descriptors_) + ": raise LimitNOFILE (systemd) or `ulimit -n`, "
                     "or lower max-sessions"};
  }
  if (needed * 10 >= room * 9) return net::fd_budget::check(descriptors_for(spec));
  return error::none();
}

void session_registry::connect(connect_request request, steady_time deadline,
                               std::function<void(result<connect_outcome>)> done) {
  if (auto e = validate_session_name(request.name); !e.ok()) return done(e);
  auto spec = normalise(std::move(request.spec), request.raw_port, &settings_.oauth2_connections);
  if (!spec) return done(spec.err());
  if (request.lease_ttl.count() == 0) request.lease_ttl = settings_.default_lease_ttl;
  if (request.lease_ttl > settings_.max_lease_ttl) {
    return done(error{errc::invalid_argument, "lease_ttl_seconds must be at most " +
                                                  std::to_string(settings_.max_lease_ttl.count())});
  }
  request.spec = std::move(spec.value());

  std::shared_ptr<session> target;
  std::shared_ptr<session> replaced;
  bool created = false;
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return done(error{errc::unavailable, "the daemon is shutting down"});
    auto it = sessions_.find(request.name);
    const bool live = it != sessions_.end() && it->second.s->accepting();
    const std::string fp = fingerprint(request.spec);
    if (live && it->second.s->fingerprint() == fp) {
      target = it->second.s;
    } else if (live && !request.replace) {
      return done(error{errc::failed_precondition,
                        "session '" + request.name + "' is live with a different spec (" +
                            first_difference(it->second.s->spec(), request.spec) +
                            "); Disconnect it with force, or set replace=true to replace it"});
    } else {
      if (live) replaced = it->second.s;
      // live_ counts sessions until they are CLOSED/FAILED, so one still logging out
      // (force, linger expiry) holds its place until its connection is gone.
      if (!replaced) {
        if (auto e = admission_error_locked(request.spec); !e.ok()) return done(std::move(e));
      }
      target = make_session_locked(request);
      created = true;
    }
  }
  if (replaced) replaced->stop("replaced by a Connect with a new spec");
  if (created) {
    spdlog::info("session '{}': created for '{}' ({} {} tls={} user={})", request.name, request.client_name,
                 protocol_name(request.spec.proto), connection_target(request.spec),
                 tls_mode_name(request.spec.tls), request.spec.username);
    target->start();
  }
  attach(std::move(target), std::move(request), deadline, created, 1, std::move(done));
}

void session_registry::attach(std::shared_ptr<session> s, connect_request request, steady_time deadline,
                              bool created, int retries, std::function<void(result<connect_outcome>)> done) {
  if (auto fast = s->try_attach_ready(request.client_name, request.lease_ttl)) {
    {
      std::lock_guard lock(mutex_);
      leases_[fast->lease_id] = {s, request.owner};
    }
    return done(connect_outcome{std::move(*fast), created});
  }
  auto client_name = request.client_name;
  const auto ttl = request.lease_ttl;
  s->attach(std::move(client_name), ttl, deadline,
            [this, s, request = std::move(request), deadline, created, retries,
             done = std::move(done)](result<lease_grant> grant) mutable {
              if (!grant) {
                // The session closed between lookup and attach (linger expiry): start afresh.
                if (grant.err().code == errc::cancelled && !created && retries > 0) {
                  return connect_retry(std::move(request), deadline, retries - 1, std::move(done));
                }
                return done(grant.err());
              }
              {
                std::lock_guard lock(mutex_);
                leases_[grant->lease_id] = {s, request.owner};
              }
              done(connect_outcome{std::move(grant.value()), created});
            });
}

void session_registry::connect_retry(connect_request request, steady_time deadline, int retries,
                                     std::function<void(result<connect_outcome>)> done) {
  std::shared_ptr<session> target;
  bool created = false;
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return done(error{errc::unavailable, "the daemon is shutting down"});
    auto it = sessions_.find(request.name);
    if (it != sessions_.end() && it->second.s->accepting() &&
        it->second.s->fingerprint() == fingerprint(request.spec)) {
      target = it->second.s;
    } else if (it != sessions_.end() && it->second.s->accepting()) {
      return done(error{errc::failed_precondition, "session '" + request.name + "' was replaced with another spec"});
    } else {
      if (auto e = admission_error_locked(request.spec); !e.ok()) return done(std::move(e));
      target = make_session_locked(request);
      created = true;
    }
  }
  if (created) target->start();
  attach(std::move(target), std::move(request), deadline, created, retries, std::move(done));
}

std::shared_ptr<session> session_registry::make_session_locked(const connect_request& request) {
  // Dead sessions stay visible in Status for a while (their last error is what an
  // operator looks for), then go, so bots inventing names cannot grow the map forever.
  prune_dead_locked(std::chrono::system_clock::now());
  const auto id = next_session_id_++;
  auto settings = settings_.session;
  if (uses_autodiscover(request.spec)) {
    // This session's own: the URL it finds, and where its credentials may go.
    settings.ews_discovery.found = std::make_shared<ews_found_endpoint>();
    if (settings_.destination_checks) {
      settings.ews_discovery.check_destination = settings_.destination_checks(request.name, request.spec, request.owner);
    }
  }
  auto s = std::make_shared<session>(
      executor_, request.name, request.spec, std::move(settings),
      [this, id](const status_event& ev) { on_session_event(id, ev); },
      [this](const std::string& lease_id) { on_lease_gone(lease_id); });
  if (request.restored) s->retry_before_first_login();
  auto [it, fresh] = sessions_.try_emplace(request.name);
  if (!fresh) count_entry_locked(it->second, -1);
  it->second = entry{s, id, session_state::connecting, request.spec.proto};
  count_entry_locked(it->second, +1);
  const auto descriptors = descriptors_for(request.spec);
  live_.emplace(id, descriptors);
  live_descriptors_ += descriptors;
  return s;
}

void session_registry::prune_dead_locked(system_time now) {
  const auto cutoff = now - settings_.dead_session_retention;
  while (!dead_.empty() && dead_.front().at < cutoff) {
    const auto& d = dead_.front();
    // The name may have a new session by now: only the dead one goes.
    if (auto it = sessions_.find(d.name); it != sessions_.end() && it->second.id == d.id) {
      count_entry_locked(it->second, -1);
      sessions_.erase(it);
    }
    dead_.pop_front();
  }
}

void session_registry::set_entry_state_locked(entry& e, session_state next) {
  if (e.state == next) return;
  count_entry_locked(e, -1);
  e.state = next;
  count_entry_locked(e, +1);
}

void session_registry::count_entry_locked(const entry& e, int delta) {
  by_state_[index_of(e.state)] += static_cast<std::size_t>(delta);
  by_protocol_state_[static_cast<std::size_t>(e.proto)][index_of(e.state)] += static_cast<std::size_t>(delta);
}

std::shared_ptr<session> session_registry::find_by_lease(const std::string& lease_id) const {
  std::lock_guard lock(mutex_);
  auto it = leases_.find(lease_id);
  return it == leases_.end() ? nullptr : it->second.s.lock();
}

std::optional<session_registry::lease_holder> session_registry::holder_of_lease(const std::string& lease_id) const {
  std::lock_guard lock(mutex_);
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return std::nullopt;
  auto s = it->second.s.lock();
  if (!s) return std::nullopt;
  return lease_holder{std::move(s), it->second.owner};
}

void session_registry::disconnect(const std::string& lease_id, bool force,
                                  std::function<void(result<status_snapshot>)> done) {
  auto s = find_by_lease(lease_id);
  if (!s) return done(error{errc::not_found, "lease_id: no such lease (expired, released or never granted)"});
  // Most bots let go of a session others still hold: no strand hop for that.
  if (auto released = force ? std::nullopt : s->try_release_not_last(lease_id)) {
    {
      std::lock_guard lock(mutex_);
      leases_.erase(lease_id);
    }
    return done(std::move(*released));
  }
  s->release(lease_id, force, [this, lease_id, done = std::move(done)](result<status_snapshot> r) {
    if (r) {
      std::lock_guard lock(mutex_);
      leases_.erase(lease_id);
    }
    done(std::move(r));
  });
}

void session_registry::renew(const std::string& lease_id, std::function<void(result<system_time>)> done) {
  auto s = find_by_lease(lease_id);
  if (!s) return done(error{errc::not_found, "lease_id: no such lease (expired, released or never granted)"});
  s->renew(lease_id, std::move(done));
}

result<std::vector<status_snapshot>> session_registry::status(const std::string& name) const {
  std::vector<std::shared_ptr<session>> targets;
  {
    std::lock_guard lock(mutex_);
    if (!name.empty()) {
      auto it = sessions_.find(name);
      if (it == sessions_.end()) return error{errc::not_found, "session: no session named '" + name + "'"};
      targets.push_back(it->second.s);
    } else {
      targets.reserve(sessions_.size());
      for (const auto& [n, e] : sessions_) targets.push_back(e.s);
    }
  }
  std::vector<status_snapshot> out;
  out.reserve(targets.size());
  for (const auto& s : targets) out.push_back(s->snapshot());
  return out;
}

namespace {
bool matches_query(const session_registry::status_query& query, session_state state, protocol proto) {
  if (query.proto && *query.proto != proto) return false;
  return query.states.empty() || std::find(query.states.begin(), query.states.end(), state) != query.states.end();
}
}  // namespace

std::vector<std::shared_ptr<session>> session_registry::pick_status_page(const status_query& query,
                                                                          std::string& next_after_r) const {
  const std::size_t limit = std::max<std::size_t>(1, query.limit);
  std::vector<std::shared_ptr<session>> picked;
  picked.reserve(std::min<std::size_t>(limit, 1024));
  std::lock_guard lock(mutex_);
  auto it = query.after.empty() || query.after < query.name_prefix ? sessions_.lower_bound(query.name_prefix)
                                                                   : sessions_.upper_bound(query.after);
  for (; it != sessions_.end(); ++it) {
    if (it->first.compare(0, query.name_prefix.size(), query.name_prefix) != 0) break;  // past the prefix
    if (!matches_query(query, it->second.state, it->second.proto)) continue;
    if (picked.size() == limit) {
      next_after_r = picked.back()->name();  // one more matches: there is a next page
      break;
    }
    picked.push_back(it->second.s);
  }
  return picked;
}

session_registry::status_page session_registry::status_page_of(const status_query& query) const {
  status_page page;
  auto picked = pick_status_page(query, page.next_after);
  page.sessions.reserve(picked.size());
  for (const auto& s : picked) {
    auto snap = s->snapshot();
    if (matches_query(query, snap.state, snap.proto)) page.sessions.push_back(std::move(snap));
  }
  return page;
}

std::string session_registry::visit_status_page(const status_query& query,
                                                const std::function<bool(const std::string&)>& visible,
                                                const std::function<bool(const status_snapshot&)>& emit) const {
  std::string next_after;
  const auto picked = pick_status_page(query, next_after);
  // Sessions this far ahead are prefetched while one is converted (4 measured best of 2-16).
  constexpr std::size_t prefetch_ahead = 4;
  for (std::size_t i = 0; i < picked.size(); ++i) {
    if (i + prefetch_ahead < picked.size()) picked[i + prefetch_ahead]->prefetch_snapshot();
    const auto& s = picked[i];
    if (visible && !visible(s->name())) continue;
    const bool more = s->read_snapshot([&](const status_snapshot& snap) {
      return !matches_query(query, snap.state, snap.proto) || emit(snap);
    });
    if (!more) break;
  }
  return next_after;
}

session_registry::totals session_registry::counts() const {
  std::lock_guard lock(mutex_);
  totals t;
  t.listed = sessions_.size();
  t.live = live_.size();
  std::copy(std::begin(by_state_), std::end(by_state_), std::begin(t.by_state));
  for (std::size_t p = 0; p < std::size(by_protocol_state_); ++p) {
    std::copy(std::begin(by_protocol_state_[p]), std::end(by_protocol_state_[p]), std::begin(t.by_protocol_state[p]));
  }
  t.leases = leases_.size();
  return t;
}

std::uint64_t session_registry::watch(std::string name, watch_fn on_event, bool state_changes_only) {
  std::lock_guard watch_lock(watch_mutex_);
  std::vector<std::shared_ptr<session>> current;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [n, e] : sessions_) {
      if (name.empty() || n == name) current.push_back(e.s);
    }
  }
  for (const auto& s : current) {
    status_event ev;
    ev.status = s->snapshot();
    ev.previous_state = ev.status.state;
    ev.reason = "current state";
    ev.at = std::chrono::system_clock::now();
    on_event(ev);
  }
  const auto id = next_watcher_id_++;
  watchers_.emplace(id, watcher{std::move(name), std::move(on_event), state_changes_only});
  count_lease_watchers_locked();
  return id;
}

session_registry::watch_start session_registry::watch_paced(std::string name, watch_fn on_event,
                                                            bool state_changes_only) {
  std::lock_guard watch_lock(watch_mutex_);
  watch_start start;
  {
    std::lock_guard lock(mutex_);
    if (name.empty()) {
      start.current.reserve(sessions_.size());
      for (const auto& [n, e] : sessions_) start.current.push_back(e.s);
    } else if (auto it = sessions_.find(name); it != sessions_.end()) {
      start.current.push_back(it->second.s);
    }
  }
  start.id = next_watcher_id_++;
  watchers_.emplace(start.id, watcher{std::move(name), std::move(on_event), state_changes_only});
  count_lease_watchers_locked();
  return start;
}

void session_registry::unwatch(std::uint64_t id) {
  std::lock_guard lock(watch_mutex_);
  watchers_.erase(id);
  count_lease_watchers_locked();
}

void session_registry::count_lease_watchers_locked() {
  // Sessions publish lease-count events (a strand hop on every fast-path attach) only
  // while someone wants them.
  *watcher_count_ = static_cast<std::size_t>(
      std::count_if(watchers_.begin(), watchers_.end(), [](const auto& w) { return !w.second.state_changes_only; }));
}

void session_registry::on_session_event(std::uint64_t id, const status_event& ev) {
  {
    std::lock_guard lock(mutex_);
    const auto state = ev.status.state;
    if (auto it = sessions_.find(ev.status.name); it != sessions_.end() && it->second.id == id) {
      set_entry_state_locked(it->second, state);
    }
    if (auto it = live_.find(id); !is_live(state) && it != live_.end()) {
      live_descriptors_ -= it->second;
      live_.erase(it);
      dead_.push_back(dead_record{ev.at, ev.status.name, id});
    }
  }
  std::lock_guard lock(watch_mutex_);
  const bool state_changed = ev.previous_state != ev.status.state;
  for (const auto& [watch_id, w] : watchers_) {
    if (w.state_changes_only && !state_changed) continue;
    if (w.name.empty() || w.name == ev.status.name) w.on_event(ev);
  }
}

void session_registry::on_lease_gone(const std::string& lease_id) {
  std::lock_guard lock(mutex_);
  leases_.erase(lease_id);
}

void session_registry::shutdown(std::function<void()> done) {
  std::vector<std::shared_ptr<session>> live;
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
    for (const auto& [n, e] : sessions_) live.push_back(e.s);
  }
  if (live.empty()) return done();
  auto remaining = std::make_shared<std::atomic<std::size_t>>(live.size());
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& s : live) {
    s->stop("daemon shutting down", [remaining, finished] {
      if (--*remaining == 0) (*finished)();
    });
  }
}

error session_registry::enqueue(const std::string& lease_id, operation op, operation_traits traits) {
  auto s = find_by_lease(lease_id);
  if (!s) return {errc::not_found, "lease_id: no such lease (expired, released, or the daemon restarted): Connect again"};
  return s->enqueue(lease_id, std::move(op), std::move(traits));
}

result<session_registry::watch_handle> session_registry::add_watcher(const std::string& lease_id,
                                                                      ::mailbroker::session::watcher w) {
  auto s = find_by_lease(lease_id);
  if (!s) return error{errc::not_found, "lease_id: no such lease (expired, released, or the daemon restarted): Connect again"};
  auto id = s->add_watcher(lease_id, std::move(w));
  if (!id) return id.err();
  return watch_handle{s, id.value()};
}

result<session_spec> session_registry::normalise_spec(session_spec spec, std::uint32_t raw_port) const {
  return normalise(std::move(spec), raw_port, &settings_.oauth2_connections);
}

}  // namespace mailbroker::session
