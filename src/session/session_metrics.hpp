#pragma once
// What sessions count for /metrics (metrics::process_registry()). Each call is one
// relaxed atomic update on a child looked up once per process: cheap enough for the
// attach fast path. Names and labels are listed in deploy/README.md.
//
// Threading: any thread.
#include <chrono>
#include <cstdint>

#include "session/session_spec.hpp"

namespace mailbroker::session::metrics_hooks {

// Registers every family below (each with all its label sets at zero), so a scrape
// shows them before the first event. Idempotent.
void register_all();

// mailbroker_logins_total{protocol, result="ok"|"failure"}: one login attempt (connect +
// TLS succeeded, then the credentials were tried).
void login(protocol p, bool ok);
// mailbroker_reconnects_total{protocol}: a READY session lost its connection and is
// backing off to reconnect.
void reconnect(protocol p);
// mailbroker_attaches_total{protocol}: a lease granted (Connect created or attached).
void attach(protocol p);
// mailbroker_queued_operations (gauge): operations waiting in session queues.
void queued(std::int64_t delta);
// mailbroker_queue_wait_seconds{protocol} (histogram): time from enqueue to start.
void queue_wait(protocol p, std::chrono::steady_clock::duration waited);
// mailbroker_upstream_operation_seconds{protocol} (histogram): one mailbox operation
// on the upstream connection, from its start to its answer (its commands included).
void operation(protocol p, std::chrono::steady_clock::duration took);
// mailbroker_smtp_sends_total{result="ok"|"failure"}: one message handed to SMTP.
void smtp_send(bool ok);
// mailbroker_watch_events_total{kind="new_message"|"watching"}: events sent to watch
// streams (WatchMessages).
void watch_event(bool new_message);

}  // namespace mailbroker::session::metrics_hooks
