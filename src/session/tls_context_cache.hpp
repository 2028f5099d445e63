#pragma once
// Client TLS contexts shared between sessions with the same trust settings. Building
// one loads a CA bundle: the system store took 10-180 ms per context here (OpenSSL 3,
// Debian's bundle, a loaded 2-core machine), which made it the largest cost of creating
// a session when every session built its own (10,000 sessions: minutes of CPU).
// An SSL_CTX is safe to share between threads once configured; nothing here changes a
// context after it is made.
#include <chrono>
#include <memory>

#include "common/error.hpp"
#include "net/tls_context.hpp"

namespace mailbroker::session {

// The context for `settings`: an existing one when a session still uses it and it was
// built less than `max_age` ago, else a new one (so a CA file replaced on disk is read
// again within max_age for new sessions). Errors: as net::make_client_tls_context
// (not cached). Thread-safe.
result<std::shared_ptr<asio::ssl::context>> shared_client_tls_context(
    const net::tls_settings& settings, std::chrono::seconds max_age = std::chrono::minutes(5));

}  // namespace mailbroker::session
