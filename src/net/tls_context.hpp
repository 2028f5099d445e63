#pragma once
// Client TLS contexts. Building one costs milliseconds and memory (the system trust
// store: 144 certificates, ~25 ms of CPU and ~830 KiB), so contexts are shared:
// make_client_tls_context() hands out one context per trust configuration for the
// whole process (see net/tls_context_cache.hpp). A context is never changed after it is
// built, so sharing it between threads and connections is safe (an SSL_CTX is
// reference-counted and read-only once configured; every connection gets its own SSL).
#include <memory>
#include <string>

#include "common/error.hpp"
#include "net/asio.hpp"

namespace mailbroker::net {

struct tls_settings {
  std::string ca_file;  // PEM bundle to trust; empty = the system trust store
  bool verify = true;   // false only when a session explicitly opts out for testing
};

// The process-wide shared context for `settings` (tls_context_cache::process_wide()).
// The first call for a configuration builds it — on the calling thread; concurrent
// callers wait for that one build — later calls return the same context until the CA
// file changes (path, size, mtime or inode) or tls_context_cache::reload(). The daemon
// builds the system-store context at start-up so no I/O thread ever loads it.
// Errors: as build_client_tls_context.
result<std::shared_ptr<asio::ssl::context>> make_client_tls_context(const tls_settings& settings);

// A new, unshared context: TLS 1.2 or newer, peer verification on (unless !verify),
// SSL_MODE_RELEASE_BUFFERS (an idle connection returns OpenSSL's 2×~17 KiB record
// buffers). Loads `ca_file`, or the system trust store when it is empty and `verify`
// (an unverified context trusts nothing, so it loads no store).
// Errors: failed_precondition naming the CA file when it cannot be loaded;
// resource_exhausted when loading failed for lack of file descriptors (EMFILE/ENFILE;
// the message says so, with counts); internal when the system store cannot be loaded.
result<std::shared_ptr<asio::ssl::context>> build_client_tls_context(const tls_settings& settings);

}  // namespace mailbroker::net
