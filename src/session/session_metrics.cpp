#include "session/session_metrics.hpp"

#include <algorithm>
#include <array>

#include "metrics/metrics.hpp"

namespace mailbroker::session::metrics_hooks {
namespace {


template <class Metric>
std::array<Metric*, protocol_count> per_protocol(metrics::family<Metric>& f) {
  std::array<Metric*, protocol_count> out{};
  for (std::size_t i = 0; i < protocol_count; ++i) out[i] = &f.with({protocol_name(static_cast<protocol>(i))});
  return out;
}

struct hooks {
  hooks() {
    auto& r = metrics::process_registry();
    auto& logins = r.counter_family("mailbroker_logins_total",
                                    "Login attempts to mail servers (after connect and TLS), by outcome.",
                                    {"protocol", "result"});
    for (std::size_t i = 0; i < protocol_count; ++i) {
      const auto p = protocol_name(static_cast<protocol>(i));
      login_ok[i] = &logins.with({p, "ok"});
      login_failed[i] = &logins.with({p, "failure"});
    }
    reconnects = per_protocol(r.counter_family("mailbroker_reconnects_total",
                                               "Connections lost by READY sessions (each followed by a reconnect).",
                                               {"protocol"}));
    attaches = per_protocol(r.counter_family("mailbroker_attaches_total", "Leases granted to bots.", {"protocol"}));
    queued = &r.gauge_family("mailbroker_queued_operations",
                             "Mailbox operations waiting in the sessions' queues for their turn.")
                  .with(std::vector<std::string>{});
    queue_wait = per_protocol(r.histogram_family("mailbroker_queue_wait_seconds",
                                                 "Time mailbox operations waited in a session's queue.",
                                                 {"protocol"}, metrics::latency_buckets()));
    operation = per_protocol(r.histogram_family(
        "mailbroker_upstream_operation_seconds",
        "Time of one mailbox operation on the upstream connection (its IMAP/POP3 commands).", {"protocol"},
        metrics::latency_buckets()));
    auto& sends = r.counter_family("mailbroker_smtp_sends_total", "Messages handed to SMTP, by outcome.", {"result"});
    smtp_ok = &sends.with({"ok"});
    smtp_failed = &sends.with({"failure"});
    auto& watch = r.counter_family("mailbroker_watch_events_total", "Events sent to WatchMessages streams.", {"kind"});
    watch_new = &watch.with({"new_message"});
    watch_watching = &watch.with({"watching"});
  }
  std::array<metrics::counter*, protocol_count> login_ok{}, login_failed{}, reconnects{}, attaches{};
  metrics::gauge* queued = nullptr;
  std::array<metrics::histogram*, protocol_count> queue_wait{}, operation{};
  metrics::counter *smtp_ok = nullptr, *smtp_failed = nullptr, *watch_new = nullptr, *watch_watching = nullptr;
};

hooks& get() {
  static hooks h;
  return h;
}

std::size_t index(protocol p) { return std::min(static_cast<std::size_t>(p), protocol_count - 1); }

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

void register_all() { get(); }
void login(protocol p, bool ok) { (ok ? get().login_ok : get().login_failed)[index(p)]->inc(); }
void reconnect(protocol p) { get().reconnects[index(p)]->inc(); }
void attach(protocol p) { get().attaches[index(p)]->inc(); }
void queued(std::int64_t delta) { get().queued->add(static_cast<double>(delta)); }
void queue_wait(protocol p, std::chrono::steady_clock::duration waited) {
  get().queue_wait[index(p)]->observe(seconds(waited));
}
void operation(protocol p, std::chrono::steady_clock::duration took) { get().operation[index(p)]->observe(seconds(took)); }
void smtp_send(bool ok) { (ok ? get().smtp_ok : get().smtp_failed)->inc(); }
void watch_event(bool new_message) { (new_message ? get().watch_new : get().watch_watching)->inc(); }

}  // namespace mailbroker::session::metrics_hooks
