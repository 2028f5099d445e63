#pragma once
// Client TLS contexts. One context is built per session (loading a CA bundle costs
// milliseconds) and shared by all of that session's connections.
#include <memory>
#include <string>

#include "common/error.hpp"
#include "net/asio.hpp"

namespace mailbroker::net {

struct tls_settings {
  std::string ca_file;  // PEM bundle to trust; empty = the system trust store
  bool verify = true;   // false only when a session explicitly opts out for testing
};

// TLS 1.2 or newer, peer verification on (unless !verify). Errors: failed_precondition
// naming the CA file when it cannot be loaded.
result<std::shared_ptr<asio::ssl::context>> make_client_tls_context(const tls_settings& settings);

}  // namespace mailbroker::net
