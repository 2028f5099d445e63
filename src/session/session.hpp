#pragma once
// One named session: a state machine that owns one upstream connection and the leases
// of the bots attached to it.
//
//   CONNECTING → AUTHENTICATING → READY ─(connection lost)→ BACKOFF → CONNECTING ...
//        │              │                                      (exponential, jittered)
//        └──────────────┴─(permanent error, or first attempt fails)→ FAILED (no retry)
//   stop() / linger expiry / force disconnect: LOGOUT → CLOSED
//
// Threading: state lives on the session's strand; public methods may be called from
// any thread (they post to the strand) and complete through callbacks invoked on the
// strand. snapshot() reads a mutex-guarded copy and never waits on the network.
#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "session/backoff.hpp"
#include "session/lease_table.hpp"
#include "session/message_cache.hpp"
#include "session/login_gate.hpp"
#include "session/operation.hpp"
#include "session/operation_queue.hpp"
#include "session/pop3_maildrop.hpp"
#include "session/session_spec.hpp"
#include "session/status.hpp"
#include "session/upstream.hpp"

namespace mailbroker::auth {
class token_cache;
struct token_request;
}
namespace mailbroker::secrets {
class vault_reader;
}

namespace mailbroker::session {

class smtp_sender;

struct session_settings {
  std::shared_ptr<auth::token_cache> tokens;  // shared by every OAuth2 session
  std::shared_ptr<const secrets::vault_reader> vault;  // for vault: secret references; may be null
  // Number of WatchStatus streams (owned by the registry): with none, a fast-path
  // attach needs no event and can skip the strand entirely.
  std::shared_ptr<std::atomic<std::size_t>> watchers;
  // Admission of connects + logins per host:port (owned by the registry); null: none.
  std::shared_ptr<login_gate> logins;
  std::chrono::seconds default_linger{60};
  backoff_policy reconnect;
  std::chrono::milliseconds command_timeout{30000};
  std::chrono::milliseconds logout_timeout{3000};
  // IMAP IDLE is ended and issued again after this long (RFC 2177: servers may drop a
  // client idle for 30 minutes, so re-issue before 29).
  std::chrono::milliseconds idle_restart{std::chrono::minutes(28)};
  // IMAP: reads of one folder in flight together on the connection (1 = one at a time).
  std::size_t max_pipelined = 8;
  // IMAP (SessionSpec.max_connections > 1): an extra connection unused this long is
  // logged out; and after one failed to open, none is tried again for this long.
  std::chrono::milliseconds extra_idle{std::chrono::seconds(30)};
  std::chrono::milliseconds extra_retry_pause{std::chrono::seconds(30)};
  // EWS: HTTPS connections per session, i.e. requests in flight together (each
  // connection authenticates itself; reads of any folder run side by side).
  std::size_t http_connections = 4;
  // IMAP: what one connection may hold whatever the server sends (client_limits.hpp);
  // past it the connection is dropped and the session reconnects with backoff.
  imap::client_limits imap_limits;
  // A connection that answers nothing for this long is dead, noticed within about this
  // long: TCP keepalive + TCP_USER_TIMEOUT on the mail sockets (a blackholed route,
  // even during IDLE), and the timeout of the keepalive NOOP (at most command_timeout),
  // for a server that still acknowledges but no longer answers.
  std::chrono::seconds dead_connection{15};
  // The message cache (message_cache.hpp): per-session limits, and the daemon-wide
  // budget every session's cache draws from (null: per-session limits only).
  cache_limits cache;
  std::shared_ptr<cache_budget> shared_cache_budget;
  // EWS by Autodiscover (session/ews_discovery.hpp): connect_to is daemon-wide (tests);
  // check_destination and found are the session's own (filled in by the registry).
  ews_discovery_hooks ews_discovery;
};

// A watch on a folder (Mailbox.WatchMessages), run by the session whenever its
// connection has nothing queued. `poll` checks for news and reports it itself; it runs
// on the strand with the live connection. An error from it ends this watch alone
// (on_end), unless the connection is gone (then the session reconnects and polls again).
struct watcher {
  std::string lease_id;
  std::string folder_wire;  // IMAP: modified-UTF-7 name; IDLE is used when all watches share one
  std::function<awaitable<error>(connection_context& ctx)> poll;
  std::function<void(const error& why)> on_end;  // once: lease gone, session closed, poll error
};

struct lease_grant {
  std::string lease_id;
  system_time expires_at{};
  status_snapshot status;
};

class session : public std::enable_shared_from_this<session> {
 public:
  using event_sink = std::function<void(const status_event&)>;
  using lease_gone_fn = std::function<void(const std::string& lease_id)>;

  // `spec` must be normalised. `on_event` gets every state / lease-count change;
  // `on_lease_gone` every lease that ends other than by release() (expiry, force, stop).
  // Both run on the strand and must not block.
  session(asio::any_io_executor executor, std::string name, session_spec spec, session_settings settings,
          event_sink on_event, lease_gone_fn on_lease_gone);
  ~session();

  // Starts the connection loop. Errors building the TLS context end in FAILED.
  void start();
  // Before start(): treat transient failures of the very first connection like later
  // ones (BACKOFF, retry) rather than FAILED. For sessions restored after a restart,
  // which bots relied on before; a new session reports its first failure instead.
  void retry_before_first_login() { ever_ready_ = true; }

  // Calls `done` once READY with a new lease, or with the failure: the session's error
  // when it ends in FAILED, deadline_exceeded at `deadline`, cancelled if it closes.
  void attach(std::string client_name, std::chrono::seconds ttl, steady_time deadline,
              std::function<void(result<lease_grant>)> done);
  // The fast path for the common case: when the session is READY, adds a lease at once
  // on the calling thread (no strand hop) and returns it; nullopt otherwise (then use
  // attach()).
  std::optional<lease_grant> try_attach_ready(const std::string& client_name, std::chrono::seconds ttl);
  // Renews the lease; not_found if unknown.
  void renew(std::string lease_id, std::function<void(result<system_time>)> done);
  // The fast path of a release that changes nothing but the lease count: when the
  // session is READY, other leases remain and no watch is open in the daemon (a watch must
  // hear of it, on the strand), ends `lease_id` at once on the calling thread and returns
  // the session's status; nullopt otherwise (then use release()).
  std::optional<status_snapshot> try_release_not_last(const std::string& lease_id);
  // Ends the lease (force: logs out at once, ending every lease). not_found if unknown.
  void release(std::string lease_id, bool force, std::function<void(result<status_snapshot>)> done);
  // Queues `op` for the connection on behalf of `lease_id` (renewing the lease). Errors
  // (op not called): not_found for an unknown lease. Otherwise `op` runs exactly once:
  // in its round-robin turn when READY, or at once with why_not (unavailable when not
  // READY or the connection drops first, resource_exhausted when the lease already has
  // max_queued_per_lease operations waiting, cancelled when the session closes).
  // One lease's operations run one after another, in order; operations of different
  // leases may overlap on the connection when `traits` allow it (IMAP reads of the
  // selected folder, up to settings.max_pipelined at once; EWS reads of any folder, up
  // to settings.http_connections); all others run alone.
  static constexpr std::size_t max_queued_per_lease = 64;
  error enqueue(const std::string& lease_id, operation op, operation_traits traits = {});

  // Adds a watch on behalf of `lease_id`; while it is open the lease is renewed by the
  // session. Returns its id (for remove_watcher); not_found for an unknown lease.
  result<std::uint64_t> add_watcher(const std::string& lease_id, watcher w);
  // Ends the watch without calling on_end (the caller went away).
  void remove_watcher(std::uint64_t id);

  // Logs out and closes; `done` (optional) once CLOSED or FAILED.
  void stop(std::string reason, std::function<void()> done = {});

  // Renews `lease_id` if it is live, from any thread (for calls answered without a queue
  // turn, such as a GetMessage served from the cache). False for an unknown lease.
  bool touch_lease(const std::string& lease_id);
  // Thread-safe; lives as long as the session.
  const std::shared_ptr<message_cache>& cache() const { return cache_; }

  status_snapshot snapshot() const;
  // Calls `read(status)` under the lock snapshot() copies under, and returns what it
  // returns: for Status of thousands of sessions, converting each in place instead of
  // copying it first (its capabilities, greeting, ...). `read` must be quick and must not
  // call into this session (the lock is not recursive). Counts as a snapshot() read.
  template <class Reader>
  decltype(auto) read_snapshot(Reader&& read) const {
    snapshot_reads_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(snapshot_mutex_);
    return std::forward<Reader>(read)(static_cast<const status_snapshot&>(snapshot_));
  }
  // A hint, no effect on state: starts loading what read_snapshot() reads (the name, its
  // lock, the status) into the CPU cache. Status of thousands walks sessions spread over
  // the heap; prefetching a few ahead while converting one took ~30 % off that walk
  // (registry_bench, 20,000 sessions: ~950 -> ~670 ns per session).
  void prefetch_snapshot() const noexcept {
    __builtin_prefetch(&name_);
    __builtin_prefetch(&snapshot_mutex_);
    const char* status = reinterpret_cast<const char*>(&snapshot_);
    for (std::size_t at = 0; at < sizeof(snapshot_); at += 64) __builtin_prefetch(status + at);
  }
  // How many times snapshot() or read_snapshot() ran (tests check that creating a session
  // reads no other).
  std::uint64_t snapshot_reads() const { return snapshot_reads_.load(std::memory_order_relaxed); }
  // False once the session is FAILED, CLOSED or stopping: attach to it no more.
  bool accepting() const { return accepting_.load(); }
  const std::string& name() const { return name_; }
  const session_spec& spec() const { return spec_; }
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  struct waiter;

  awaitable<void> run();
  awaitable<error> connect_once();
  // Queues for a login slot (settings_.logins) and waits for it, showing the wait in
  // Status; the slot (in `slot_r`) must be held through connect + TLS + login.
  // Errors: cancelled when the session stops meanwhile.
  awaitable<error> wait_for_login_slot(std::shared_ptr<login_gate::ticket>& slot_r);
  // Opens `conn` and logs in with the spec's credentials.
  awaitable<error> open_and_login(upstream& conn);
  awaitable<error> serve_ready();
  struct queued_operation {
    std::string lease_id;
    operation run;
    operation_traits traits;
    steady_time queued_at = std::chrono::steady_clock::now();  // for mailbroker_queue_wait_seconds
  };
  // IMAP with SessionSpec.max_connections > 1: a connection beyond client_, for reads
  // (session_extra_connections.cpp).
  struct extra_connection {
    std::shared_ptr<upstream> conn;  // null while opening
    std::string selected_mailbox;    // as connection_context wants them, per connection
    std::uint32_t uid_validity = 0;
    std::size_t in_flight = 0;
    std::string busy_folder;  // the folder of the reads in flight (see main_folder_)
    steady_time idle_since = std::chrono::steady_clock::now();
    bool usable() const;  // logged in and still open
  };
  // Whether `op` may start now on the main connection, given what is in flight.
  bool may_start(const queued_operation& op) const;
  // An extra connection `op` may run on now, if any; when none and the pool may grow,
  // starts opening one (`op` then waits for it or for the main connection).
  std::shared_ptr<extra_connection> extra_for(const queued_operation& op);
  // Opens, logs in and adds one extra connection (through the login gate), on the strand.
  void open_extra();
  // Logs out (stopping) or closes every extra connection; their counters go to counters_base_.
  awaitable<void> end_extras(bool log_out);
  // Logs out extras unused for settings_.extra_idle; re-arms itself while extras exist.
  void arm_extra_reaper();
  connection_context make_context(extra_connection& on);
  // Runs `op` on the strand beside the dispatcher, on `on` (null: the main connection);
  // wakes the dispatcher when done.
  void start_operation(queued_operation op, std::shared_ptr<extra_connection> on = nullptr);
  // Polls every watch, then waits for news (IMAP IDLE or the poll interval), a queued
  // operation or the keepalive, whichever comes first.
  awaitable<error> watch_and_wait();
  // POP3: QUIT (commits DELEs) and log in on a new connection, in place.
  awaitable<error> reopen_pop3();
  // Wakes serve_ready(): cancels its sleep and interrupts IDLE.
  void wake();
  void end_watchers(const error& why, const std::function<bool(const watcher&)>& which);
  connection_context make_context();
  upstream_options connection_options() const;
  // Sets ctx.reopen (POP3: re-open the maildrop in place); ctx must stay where it is.
  void bind_reopen(connection_context& ctx);
  void make_smtp_sender();
  awaitable<void> sleep_interruptibly(std::chrono::milliseconds delay);

  void set_state(session_state next, std::string reason);
  void record_error(const error& e);
  // Sends the current snapshot to on_event_; `previous` defaults to the current state.
  void publish(std::string reason, std::optional<session_state> previous = std::nullopt);
  void grant_waiters();
  void fail_waiters(const error& e);
  void grant(waiter& w);
  lease_grant add_lease_locked(const std::string& client_name, std::chrono::seconds ttl);
  void on_waiter_deadline(std::uint64_t waiter_id);
  void arm_lease_timer();
  void on_lease_timer();
  void leases_changed(const std::string& reason);
  void begin_stop(std::string reason);
  void finish(session_state final_state, const std::string& reason);
  void refresh_counters();
  // Runs every queued operation's why_not path with `why` (connection gone, closing).
  void fail_operations(const error& why);
  void refresh_token_status(const std::string& mechanism);
  auth::token_request oauth2_request() const;

  const std::string name_;
  const session_spec spec_;
  const std::string fingerprint_;
  const session_settings settings_;
  asio::strand<asio::any_io_executor> strand_;
  event_sink on_event_;
  lease_gone_fn on_lease_gone_;

  // ---- strand-owned state
  session_state state_ = session_state::connecting;
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::shared_ptr<upstream> client_;  // the connection being opened or in use
  std::unique_ptr<smtp_sender> smtp_;  // the SMTP leg, when the spec has one
  std::unique_ptr<pop3_maildrop> maildrop_;  // POP3 sessions
  std::map<std::uint64_t, watcher> watchers_;
  std::atomic<std::uint64_t> next_watcher_id_{1};  // add_watcher() runs on gRPC threads
  bool waiting_ = false;  // the connection waits for news (IMAP IDLE): wake() must interrupt it
  std::optional<error> lost_;             // set when the READY connection drops
  bool stop_requested_ = false;
  std::string stop_reason_;
  bool ever_ready_ = false;
  backoff backoff_;
  asio::steady_timer wake_;  // keepalive / backoff sleep; cancelled to wake run()
  asio::steady_timer lease_timer_;
  std::list<waiter> waiters_;
  std::uint64_t next_waiter_id_ = 1;
  std::vector<std::function<void()>> stop_callbacks_;
  session_counters counters_base_;  // totals of earlier connections
  operation_queue<queued_operation> operations_{max_queued_per_lease};
  std::optional<queued_operation> held_;   // popped, waiting for the operations in flight to end
  std::size_t in_flight_ = 0;              // operations running, on any connection
  std::size_t main_in_flight_ = 0;         // ... of them on client_
  // The folder of the reads in flight on client_, set when the first of them starts: the
  // dispatcher must not go by selected_mailbox_, which changes only once that read runs
  // and SELECTs (a read of another folder started meanwhile would interleave with it).
  std::string main_folder_;
  bool in_flight_shared_ = false;          // ... all of them reads (of their connection's folder)
  // IMAP: connections beyond client_ (at most spec_.max_connections - 1), for reads.
  std::vector<std::shared_ptr<extra_connection>> extras_;
  std::size_t extras_opening_ = 0;
  steady_time no_extra_before_{};          // after an extra failed to open: no new one before
  std::uint64_t extra_logins_ = 0;
  std::optional<error_record> last_extra_error_;
  asio::steady_timer extra_reaper_;
  bool extra_reaper_armed_ = false;
  std::set<std::string> busy_leases_;      // leases with an operation in flight
  claim_table claims_;            // Mailbox.ClaimMessages: per session, across reconnects
  const std::shared_ptr<message_cache> cache_;  // thread-safe itself; across reconnects
  inflight_lists lists_in_flight_;
  std::string selected_mailbox_;  // of the current connection
  std::uint32_t uid_validity_ = 0;

  // ---- guarded by lease_mutex_: also touched by try_attach_ready() and
  // try_release_not_last() on gRPC threads.
  // Lock order: lease_mutex_ before snapshot_mutex_.
  mutable std::mutex lease_mutex_;
  lease_table leases_;
  std::optional<steady_time> linger_until_;
  bool attachable_ = false;  // READY and not stopping: try_attach_ready() may grant
  std::optional<steady_time> lease_timer_at_;  // what lease_timer_ is armed for, if anything

  // ---- published view
  mutable std::mutex snapshot_mutex_;
  status_snapshot snapshot_;
  mutable std::atomic<std::uint64_t> snapshot_reads_{0};
  std::atomic<bool> accepting_{true};
};

}  // namespace mailbroker::session
