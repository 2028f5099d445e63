#include "daemon/daemon_config.hpp"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace mailbroker::daemon {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

error parse_uint(std::string_view key, std::string_view value, std::uint64_t min, std::uint64_t max,
                 std::uint64_t& out, int base = 10) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v, base);
  if (ec != std::errc() || ptr != value.data() + value.size() || v < min || v > max) {
    return {errc::invalid_argument, std::string(key) + ": '" + std::string(value) + "' is not a number in " +
                                        std::to_string(min) + ".." + std::to_string(max)};
  }
  out = v;
  return error::none();
}

error parse_bool(std::string_view key, std::string_view value, bool& out) {
  if (value == "true" || value == "yes" || value == "1" || value == "on") {
    out = true;
  } else if (value == "false" || value == "no" || value == "0" || value == "off") {
    out = false;
  } else {
    return {errc::invalid_argument, std::string(key) + ": '" + std::string(value) + "' is not true/false"};
  }
  return error::none();
}

template <class Duration>
error parse_duration(std::string_view key, std::string_view value, std::uint64_t min, std::uint64_t max,
                     Duration& out) {
  std::uint64_t v = 0;
  if (auto e = parse_uint(key, value, min, max, v); !e.ok()) return e;
  out = Duration(static_cast<typename Duration::rep>(v));
  return error::none();
}

}  // namespace

error apply_setting(daemon_config& c, std::string_view key, std::string_view value) {
  auto& r = c.registry;
  std::uint64_t n = 0;
  if (key == "socket") {
    c.socket_path = value;
  } else if (key == "listen") {
    c.listen = value;
  } else if (key == "allow-remote") {
    return parse_bool(key, value, c.allow_remote);
  } else if (key == "socket-mode") {
    if (auto e = parse_uint(key, value, 0, 0777, n, 8); !e.ok()) return e;
    c.socket_mode = static_cast<std::uint32_t>(n);
  } else if (key == "log-level") {
    if (value != "trace" && value != "debug" && value != "info" && value != "warn" && value != "error" &&
        value != "critical" && value != "off") {
      return {errc::invalid_argument, "log-level: '" + std::string(value) +
                                          "' is not one of trace, debug, info, warn, error, critical, off"};
    }
    c.log_level = value;
  } else if (key == "io-threads") {
    if (auto e = parse_uint(key, value, 1, 64, n); !e.ok()) return e;
    c.io_threads = static_cast<unsigned>(n);
  } else if (key == "allow-core-dumps") {
    return parse_bool(key, value, c.allow_core_dumps);
  } else if (key == "default-linger-seconds") {
    return parse_duration(key, value, 0, 86400, r.session.default_linger);
  } else if (key == "default-lease-ttl-seconds") {
    return parse_duration(key, value, 1, 86400, r.default_lease_ttl);
  } else if (key == "max-lease-ttl-seconds") {
    return parse_duration(key, value, 1, 7 * 86400, r.max_lease_ttl);
  } else if (key == "max-sessions") {
    if (auto e = parse_uint(key, value, 1, 1000000, n); !e.ok()) return e;
    r.max_sessions = n;
  } else if (key == "reconnect-initial-ms") {
    return parse_duration(key, value, 10, 3600000, r.session.reconnect.initial);
  } else if (key == "reconnect-max-ms") {
    return parse_duration(key, value, 10, 3600000, r.session.reconnect.max);
  } else if (key == "dead-session-retention-seconds") {
    return parse_duration(key, value, 0, 30 * 86400, r.dead_session_retention);
  } else if (key == "command-timeout-ms") {
    return parse_duration(key, value, 100, 3600000, r.session.command_timeout);
  } else {
    return {errc::invalid_argument, "unknown setting '" + std::string(key) + "' (see mailbrokerd --help)"};
  }
  return error::none();
}

error apply_config_text(daemon_config& config, std::string_view text, std::string_view origin) {
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    const auto eq = line.find('=');
    const std::string where = std::string(origin) + ":" + std::to_string(line_no) + ": ";
    if (eq == std::string_view::npos) return {errc::invalid_argument, where + "expected 'key = value'"};
    if (auto e = apply_setting(config, trim(line.substr(0, eq)), trim(line.substr(eq + 1))); !e.ok()) {
      return {e.code, where + e.message};
    }
  }
  return error::none();
}

error apply_config_file(daemon_config& config, const std::string& path) {
  std::ifstream in(path);
  if (!in) return {errc::failed_precondition, "cannot read config file '" + path + "'"};
  std::ostringstream text;
  text << in.rdbuf();
  return apply_config_text(config, text.str(), path);
}

std::string render_config(const daemon_config& c) {
  std::ostringstream out;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", c.socket_mode);
  out << "socket = " << (c.socket_path.empty() ? default_socket_path() : c.socket_path) << "\n"
      << "listen = " << c.listen << "\n"
      << "allow-remote = " << (c.allow_remote ? "true" : "false") << "\n"
      << "socket-mode = " << mode << "\n"
      << "log-level = " << c.log_level << "\n"
      << "io-threads = " << c.io_threads << "\n"
      << "allow-core-dumps = " << (c.allow_core_dumps ? "true" : "false") << "\n"
      << "default-linger-seconds = " << c.registry.session.default_linger.count() << "\n"
      << "default-lease-ttl-seconds = " << c.registry.default_lease_ttl.count() << "\n"
      << "max-lease-ttl-seconds = " << c.registry.max_lease_ttl.count() << "\n"
      << "max-sessions = " << c.registry.max_sessions << "\n"
      << "reconnect-initial-ms = " << c.registry.session.reconnect.initial.count() << "\n"
      << "reconnect-max-ms = " << c.registry.session.reconnect.max.count() << "\n"
      << "command-timeout-ms = " << c.registry.session.command_timeout.count() << "\n"
      << "dead-session-retention-seconds = " << c.registry.dead_session_retention.count() << "\n";
  return out.str();
}

}  // namespace mailbroker::daemon
