#pragma once
// All sessions of the daemon, keyed by name, and the index from lease id to session.
// This is the core behind Connect / Disconnect / RenewLease / Status / WatchStatus;
// it knows nothing of gRPC.
//
// Threading: every method is thread-safe. Callbacks run on a session's strand; they
// must not block (hand results to a gRPC reactor and return).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "session/login_gate.hpp"
#include "session/session.hpp"

namespace mailbroker::session {

struct registry_settings {
  session_settings session;
  std::chrono::seconds default_lease_ttl{300};
  std::chrono::seconds max_lease_ttl{86400};
  std::size_t max_sessions = 1000;  // live sessions at once (config key max-sessions)
  // Connect + login admission per upstream host:port (config keys login-*-per-host).
  login_gate_settings logins;
  // FAILED / CLOSED sessions stay in Status this long, then are forgotten.
  std::chrono::seconds dead_session_retention{3600};
  // OAuth2 connections from the daemon config that specs name with oauth2_managed.
  managed_connections oauth2_connections;
  // Makes the run-time destination check of one session (session/ews_discovery.hpp):
  // called when a session whose spec (normalised) finds its endpoint at run time is
  // created, with its name and the principal that created it ("" when restored at
  // start). The daemon answers from its access rules. Null: no check (a daemon-side
  // secret then cannot be sent by Autodiscover at all).
  std::function<destination_check(const std::string& session, const session_spec& spec, const std::string& owner)>
      destination_checks;
};

struct connect_request {
  std::string name;
  session_spec spec;           // as received; normalised here
  std::uint32_t raw_port = 0;  // the port as received, range-checked here
  bool replace = false;
  std::chrono::seconds lease_ttl{0};  // 0 = default
  std::string client_name;
  // The principal the lease will belong to ("uid:1000", "cert:..."): only it (or an
  // admin) may use, renew or release the lease. Checked in daemon/, stored here.
  std::string owner;
  // Recreated from the store at daemon start: transient failures (server down) mean
  // BACKOFF and retry even before the first login, instead of FAILED.
  bool restored = false;
};

struct connect_outcome {
  lease_grant grant;
  bool created = false;
};

class session_registry {
 public:
  using watch_fn = std::function<void(const status_event&)>;

  session_registry(asio::any_io_executor executor, registry_settings settings);
  ~session_registry();

  // Validates, then creates or attaches (see the proto's Connect). `done` runs once.
  // Errors: invalid_argument (name/spec/ttl), failed_precondition (a live session with
  // another spec and !replace), resource_exhausted (max_sessions), unavailable
  // (shutting down), and whatever the session reports (see session::attach).
  void connect(connect_request request, steady_time deadline, std::function<void(result<connect_outcome>)> done);

  // Errors: not_found for an unknown lease.
  void disconnect(const std::string& lease_id, bool force, std::function<void(result<status_snapshot>)> done);
  void renew(const std::string& lease_id, std::function<void(result<system_time>)> done);

  // Queues a mailbox operation on the session holding `lease_id` (see session::enqueue).
  // Errors (op not called): not_found for an unknown lease.
  error enqueue(const std::string& lease_id, operation op, operation_traits traits = {});
  // Adds a watch on the session holding `lease_id` (see session::add_watcher). The
  // returned handle removes it; not_found for an unknown lease.
  struct watch_handle {
    std::weak_ptr<session> owner;
    std::uint64_t id = 0;
    void remove() const {
      if (auto s = owner.lock()) s->remove_watcher(id);
    }
  };
  result<watch_handle> add_watcher(const std::string& lease_id, ::mailbroker::session::watcher w);
  // The session holding `lease_id`, or nullptr.
  std::shared_ptr<session> session_of_lease(const std::string& lease_id) const { return find_by_lease(lease_id); }
  // The session holding `lease_id` and the principal the lease belongs to; nullopt for
  // an unknown (or expired, released) lease.
  struct lease_holder {
    std::shared_ptr<session> s;
    std::string owner;
  };
  std::optional<lease_holder> holder_of_lease(const std::string& lease_id) const;

  // Status of `name`, or of every session when empty. Errors: not_found.
  // Listing every session copies every snapshot: prefer status_page() for many sessions.
  result<std::vector<status_snapshot>> status(const std::string& name) const;

  // One page of Status, in name order. Under the registry lock only names, mirrored
  // states and pointers are read (O(log n + scanned)); each snapshot is copied after, under
  // that session's own lock, so a big listing does not stall Connect.
  struct status_query {
    std::vector<session_state> states;  // empty: any
    std::optional<protocol> proto;      // nullopt: any
    std::string name_prefix;
    std::string after;  // names <= this are skipped (the page token)
    std::size_t limit = 500;
  };
  struct status_page {
    // At most `limit`, matching the filters when each snapshot was taken (a session that
    // changed state between the scan and its snapshot is left out, so a page may be short).
    std::vector<status_snapshot> sessions;
    // The name to pass as `after` for the next page; empty when nothing more matches.
    std::string next_after;
  };
  status_page status_page_of(const status_query& query) const;
  // The same page without copying snapshots (what the Status RPC uses): picks sessions
  // exactly as status_page_of, skips those whose name `visible` refuses (called with no
  // lock held), then calls `emit` with each remaining session's status under that
  // session's own lock (session::read_snapshot: `emit` must be quick, e.g. convert it to
  // proto, and call nothing of the session or the registry); a status no longer matching
  // the filters is not emitted. `emit` returns false to end the page there (the caller
  // then makes its own next token). Returns status_page::next_after.
  std::string visit_status_page(const status_query& query, const std::function<bool(const std::string&)>& visible,
                                const std::function<bool(const status_snapshot&)>& emit) const;

  // Counters kept as sessions change (no walk): sessions listed by Status by state, and
  // live sessions counted against max_sessions (which includes replaced sessions still
  // logging out).
  struct totals {
    std::size_t listed = 0;
    std::size_t live = 0;
    std::size_t by_state[6] = {};  // indexed by session_state
    std::size_t by_protocol_state[protocol_count][6] = {};  // [protocol][session_state], over `listed`
    std::size_t leases = 0;  // leases granted and not yet released or expired
  };
  totals counts() const;
  const registry_settings& settings() const { return settings_; }
  // File descriptors a session of `spec` may hold at once, as admission counts them: an
  // IMAP or POP3 session its one connection (+1 with an SMTP leg), others (EWS, Graph:
  // connection pools) net::fd_budget::per_session. So 10,000 IMAP sessions fit in a
  // 20,000 limit (net::fd_budget::reserve kept free).
  static std::size_t descriptors_for(const session_spec& spec);

  // Registers `on_event` for events of `name` (all when empty). Before returning it
  // delivers the current state of every matching session as events with reason
  // "current state", so nothing is missed. `on_event` runs under the registry's
  // watcher lock: it must only queue the event.
  // `state_changes_only`: no lease-count events (cheaper: a fast-path attach then needs
  // no strand hop); the "current state" events are delivered either way.
  std::uint64_t watch(std::string name, watch_fn on_event, bool state_changes_only = false);
  // As watch(), but instead of delivering the current states it returns the matching
  // sessions (name order), taken atomically with the registration: the caller sends
  // their snapshots at its own pace (flow control), and events that follow come to
  // `on_event`. Pointers only: O(n) under the lock, no snapshot copies.
  struct watch_start {
    std::uint64_t id = 0;
    std::vector<std::shared_ptr<session>> current;
  };
  watch_start watch_paced(std::string name, watch_fn on_event, bool state_changes_only = false);
  void unwatch(std::uint64_t id);

  // Refuses new connects, logs every session out, then calls `done`.
  void shutdown(std::function<void()> done);

  // Normalises `spec` as connect() would (managed connections resolved), for callers
  // that need the same view (e.g. the authorization flow). Errors as normalise().
  result<session_spec> normalise_spec(session_spec spec, std::uint32_t raw_port) const;
  const std::shared_ptr<auth::token_cache>& tokens() const { return settings_.session.tokens; }
  const managed_connections& oauth2_connections() const { return settings_.oauth2_connections; }
  asio::any_io_executor executor() const { return executor_; }

 private:
  struct entry {
    std::shared_ptr<session> s;
    std::uint64_t id = 0;
    session_state state = session_state::connecting;  // mirrored from events, for filters
    protocol proto = protocol::imap;
  };
  struct dead_record {
    system_time at;
    std::string name;
    std::uint64_t id = 0;
  };

  // The sessions of one Status page by mirrored state (O(log n + scanned) under mutex_),
  // and the next page's `after` ("" when nothing more matches).
  std::vector<std::shared_ptr<session>> pick_status_page(const status_query& query, std::string& next_after_r) const;
  void on_session_event(std::uint64_t id, const status_event& ev);
  void on_lease_gone(const std::string& lease_id);
  // Creates and registers a session (forgetting long-dead ones). Caller holds mutex_.
  std::shared_ptr<session> make_session_locked(const connect_request& request);
  // Forgets sessions dead for longer than dead_session_retention: amortised O(1) per
  // call, from the front of dead_ (ordered by time of death). Caller holds mutex_.
  void prune_dead_locked(system_time now);
  void set_entry_state_locked(entry& e, session_state next);
  // Adds `delta` to the counters of e's state (and protocol). Caller holds mutex_.
  void count_entry_locked(const entry& e, int delta);
  std::shared_ptr<session> find_by_lease(const std::string& lease_id) const;
  void attach(std::shared_ptr<session> s, connect_request request, steady_time deadline, bool created, int retries,
              std::function<void(result<connect_outcome>)> done);
  void connect_retry(connect_request request, steady_time deadline, int retries,
                     std::function<void(result<connect_outcome>)> done);
  error max_sessions_error() const;
  // max-sessions, then the file-descriptor budget (net/fd_budget.hpp) for a session of
  // `spec`. Errors: resource_exhausted naming the limit and the fix. Needs mutex_.
  error admission_error_locked(const session_spec& spec) const;

  asio::any_io_executor executor_;
  const registry_settings settings_;

  mutable std::mutex mutex_;  // guards everything down to watch_mutex_
  std::map<std::string, entry> sessions_;
  struct lease_entry {
    std::weak_ptr<session> s;
    std::string owner;
  };
  std::unordered_map<std::string, lease_entry> leases_;
  // Ids of sessions created and not yet FAILED/CLOSED (replaced ones included): their
  // number is what max_sessions bounds; each with its descriptors_for() count.
  std::unordered_map<std::uint64_t, std::size_t> live_;
  std::size_t live_descriptors_ = 0;  // the sum over live_: what the fd budget bounds
  std::size_t by_state_[6] = {};  // over sessions_
  std::size_t by_protocol_state_[protocol_count][6] = {};  // over sessions_, [protocol][session_state]
  std::deque<dead_record> dead_;
  std::uint64_t next_session_id_ = 1;
  bool shutting_down_ = false;

  struct watcher {
    std::string name;
    watch_fn on_event;
    bool state_changes_only = false;
  };
  void count_lease_watchers_locked();
  mutable std::mutex watch_mutex_;
  std::map<std::uint64_t, watcher> watchers_;
  std::shared_ptr<std::atomic<std::size_t>> watcher_count_;  // shared with the sessions
  std::uint64_t next_watcher_id_ = 1;
};

}  // namespace mailbroker::session
