#pragma once
// mailbrokerd's settings: embedded defaults, overridden by an optional config file,
// overridden by command-line flags. The file format is one `key = value` per line;
// `#` starts a comment; blank lines are ignored; unknown keys are errors (a typo must
// not silently fall back to a default). Keys are the long flag names without "--".
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/paths.hpp"
#include "session/session_registry.hpp"

namespace mailbroker::daemon {

// Who may do what (issue #10). Raw lines are kept for --print-config; finish_config()
// checks them, daemon/access_rules compiles them.
struct trust_config {
  std::vector<std::string> allow;             // `allow = PRINCIPALS PERMISSIONS TARGETS` (trust/policy.hpp)
  std::vector<std::string> tokens;            // `token = NAME sha256:HEX` bearer tokens for TCP clients
  std::vector<std::string> secret_hosts;      // `secret-hosts = env:NAME|file:GLOB HOST[,HOST...]`
  std::vector<std::string> secret_file_dirs;  // `secret-file-dir = DIR`: where file: references may point
  std::string client_identity = "uri,dns,cn";  // which certificate name is the principal, first present wins
  std::string tls_cert_file;       // TCP listener: server certificate chain (PEM)
  std::string tls_key_file;        // TCP listener: its private key (PEM)
  std::string tls_client_ca_file;  // TCP listener: CAs that sign client certificates (mTLS); "" = tokens only
  bool insecure_tcp = false;       // a TCP listener without TLS (loopback only)
  std::string audit_log;           // "" = STATE_DIR/audit.log (or the log when state-dir none); "-" = the log
  std::size_t max_streams = 4096;              // WatchStatus + WatchMessages streams open at once, in all
  std::size_t max_streams_per_principal = 64;  // ... and per principal
};

struct daemon_config {
  std::string socket_path;        // "" = default_socket_path(); "none" = no unix socket
  std::string listen;             // optional TCP "host:port"; loopback unless allow_remote
  bool allow_remote = false;      // obsolete (TCP is TLS + client identities now); accepted, ignored
  std::uint32_t socket_mode = 0660;
  // Prometheus /metrics over HTTP: "HOST:PORT", or "" / "off" for none (the default: a
  // fixed port would collide between per-user daemons). Loopback unless
  // metrics_allow_remote (the endpoint has no TLS or auth).
  std::string metrics_listen;
  bool metrics_allow_remote = false;
  std::string log_level = "info";
  unsigned io_threads = 2;
  bool allow_core_dumps = false;
  // Durable state: "" = default_state_dir(); "none" = no store (memory only: no vault,
  // refresh tokens and sessions are lost on restart).
  std::string state_dir;
  std::string store_path;      // "" = STATE_DIR/mailbroker.db
  std::string vault_key_file;  // "" = STATE_DIR/vault.key (created 0600 on first start)
  // Sessions restored at start are held this long for their bots to attach again.
  std::chrono::seconds restore_grace{300};
  // The message cache: what the cache of all sessions together may hold (MiB).
  std::size_t message_cache_total_mb = 1024;
  session::registry_settings registry;  // registry.oauth2_connections: oauth2-connection.NAME.*
  trust_config trust;
};

// Applies one setting. Errors: invalid_argument naming the key and the accepted values.
error apply_setting(daemon_config& config, std::string_view key, std::string_view value);

// Parses config-file text (pure; `origin` names the file in messages, with line numbers).
error apply_config_text(daemon_config& config, std::string_view text, std::string_view origin);

// Syntax checks of one `token` / `secret-hosts` value. Errors: invalid_argument.
error check_token_line(std::string_view line);
error check_secret_hosts_line(std::string_view line);

// Reads and applies a config file. Errors: failed_precondition if unreadable.
error apply_config_file(daemon_config& config, const std::string& path);

// Checks what needs every line read first (managed OAuth2 connections: presets filled
// in, required keys present). Call once after all settings. Errors: invalid_argument.
error finish_config(daemon_config& config);

// The state directory, store path and key file with defaults applied ("" when
// state_dir is "none").
std::string effective_state_dir(const daemon_config& config);
std::string effective_store_path(const daemon_config& config);
std::string effective_vault_key_file(const daemon_config& config);

// Every key with its current value, in config-file syntax (for --print-config).
std::string render_config(const daemon_config& config);

}  // namespace mailbroker::daemon
