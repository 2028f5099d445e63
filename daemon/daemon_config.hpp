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

struct daemon_config {
  std::string socket_path;        // "" = default_socket_path(); "none" = no unix socket
  std::string listen;             // optional TCP "host:port"; loopback unless allow_remote
  bool allow_remote = false;      // permit a non-loopback TCP listener (no TLS on it yet!)
  std::uint32_t socket_mode = 0660;
  std::string log_level = "info";
  unsigned io_threads = 2;
  bool allow_core_dumps = false;
  session::registry_settings registry;
};

// Applies one setting. Errors: invalid_argument naming the key and the accepted values.
error apply_setting(daemon_config& config, std::string_view key, std::string_view value);

// Parses config-file text (pure; `origin` names the file in messages, with line numbers).
error apply_config_text(daemon_config& config, std::string_view text, std::string_view origin);

// Reads and applies a config file. Errors: failed_precondition if unreadable.
error apply_config_file(daemon_config& config, const std::string& path);

// Every key with its current value, in config-file syntax (for --print-config).
std::string render_config(const daemon_config& config);

}  // namespace mailbroker::daemon
