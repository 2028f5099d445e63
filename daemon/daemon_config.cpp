#include "daemon/daemon_config.hpp"

#include "secrets/secret_ref.hpp"

#include <algorithm>
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

// oauth2-connection.NAME.KEY = value
error apply_connection_setting(daemon_config& c, std::string_view key, std::string_view value) {
  const std::string_view rest = key.substr(std::string_view("oauth2-connection.").size());
  const auto dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0) {
    return {errc::invalid_argument, std::string(key) + ": expected oauth2-connection.NAME.SETTING"};
  }
  const std::string name(rest.substr(0, dot));
  if (auto e = session::validate_session_name(name); !e.ok()) {
    return {errc::invalid_argument, std::string(key) + ": connection names use letters, digits, '.', '_', '-'"};
  }
  const std::string_view setting = rest.substr(dot + 1);
  auto& conn = c.registry.oauth2_connections[name];
  conn.name = name;
  auto& o = conn.settings;
  const std::string v(value);
  auto bad = [&](std::string_view accepted) {
    return error{errc::invalid_argument, std::string(key) + ": '" + v + "' is not one of " + std::string(accepted)};
  };
  if (setting == "provider") {
    if (v == "microsoft") o.provider = session::oauth2_provider::microsoft;
    else if (v == "google") o.provider = session::oauth2_provider::google;
    else if (v == "yahoo") o.provider = session::oauth2_provider::yahoo;
    else if (v == "msn") o.provider = session::oauth2_provider::msn;
    else if (v == "custom") o.provider = session::oauth2_provider::custom;
    else return bad("microsoft, google, yahoo, msn, custom");
  } else if (setting == "cloud") {
    if (v == "global") o.cloud = session::azure_cloud::global;
    else if (v == "us-gcc-high") o.cloud = session::azure_cloud::us_gcc_high;
    else return bad("global, us-gcc-high");
  } else if (setting == "grant") {
    if (v == "client_credentials") o.grant = session::oauth2_grant::client_credentials;
    else if (v == "authorization_code") o.grant = session::oauth2_grant::authorization_code;
    else return bad("client_credentials, authorization_code");
  } else if (setting == "token-type") {
    if (v == "shared") o.token_type = session::oauth2_token_type::shared;
    else if (v == "per-user") o.token_type = session::oauth2_token_type::per_user;
    else return bad("shared, per-user");
  } else if (setting == "client-secret") {
    auto ref = secrets::parse_secret_ref_text(value, key);
    if (!ref) return ref.err();
    o.client_secret = ref.value();
  } else if (setting == "refresh-token") {
    auto ref = secrets::parse_secret_ref_text(value, key);
    if (!ref) return ref.err();
    o.refresh_token = ref.value();
  } else if (setting == "scopes") {
    o.scopes.clear();
    std::istringstream words{v};
    for (std::string w; words >> w;) o.scopes.push_back(w);
  } else if (setting == "tenant-id") { o.tenant_id = v;
  } else if (setting == "client-id") { o.client_id = v;
  } else if (setting == "token-url") { o.token_url = v;
  } else if (setting == "authorize-url") { o.authorize_url = v;
  } else if (setting == "redirect-uri") { o.redirect_uri = v;
  } else if (setting == "ca-file") { o.token_ca_file = v;
  } else if (setting == "username") { conn.username = v;
  } else {
    return {errc::invalid_argument,
            std::string(key) + ": unknown setting '" + std::string(setting) +
                "' (provider, tenant-id, cloud, client-id, client-secret, token-url, authorize-url, scopes, "
                "redirect-uri, ca-file, grant, token-type, username, refresh-token)"};
  }
  return error::none();
}

std::string_view provider_name(session::oauth2_provider p) {
  switch (p) {
    case session::oauth2_provider::microsoft: return "microsoft";
    case session::oauth2_provider::google: return "google";
    case session::oauth2_provider::yahoo: return "yahoo";
    case session::oauth2_provider::msn: return "msn";
    case session::oauth2_provider::unspecified:  // finish_config() makes it custom
    case session::oauth2_provider::custom: return "custom";
  }
  return "custom";
}

}  // namespace

error finish_config(daemon_config& c) {
  for (auto& [name, conn] : c.registry.oauth2_connections) {
    auto& o = conn.settings;
    if (o.grant == session::oauth2_grant::client_credentials && o.token_type == session::oauth2_token_type::per_user) {
      return {errc::invalid_argument, "oauth2-connection." + name +
                                          ".token-type: per-user needs grant = authorization_code (client "
                                          "credentials tokens belong to the app, not to a user)"};
    }
    if (auto e = session::normalise_oauth2(o, o.grant, "oauth2-connection." + name + "."); !e.ok()) {
      // The shared checker names proto fields (tenant_id); the config spells keys tenant-id.
      const std::string prefix = "oauth2-connection." + name + ".";
      if (e.message.rfind(prefix, 0) == 0) {
        const auto end = e.message.find(' ', prefix.size());
        std::replace(e.message.begin() + static_cast<std::ptrdiff_t>(prefix.size()),
                     e.message.begin() + static_cast<std::ptrdiff_t>(end == std::string::npos ? e.message.size() : end),
                     '_', '-');
      }
      return e;
    }
    o.connection = name;
  }
  return error::none();
}

std::string effective_state_dir(const daemon_config& c) {
  if (c.state_dir == "none") return {};
  return c.state_dir.empty() ? default_state_dir() : c.state_dir;
}

std::string effective_store_path(const daemon_config& c) {
  const auto dir = effective_state_dir(c);
  if (dir.empty()) return {};
  return c.store_path.empty() ? dir + "/mailbroker.db" : c.store_path;
}

std::string effective_vault_key_file(const daemon_config& c) {
  const auto dir = effective_state_dir(c);
  if (dir.empty()) return {};
  return c.vault_key_file.empty() ? dir + "/vault.key" : c.vault_key_file;
}

error apply_setting(daemon_config& c, std::string_view key, std::string_view value) {
  auto& r = c.registry;
  std::uint64_t n = 0;
  if (key == "socket") {
    c.socket_path = value;
  } else if (key == "listen") {
    c.listen = value;
  } else if (key == "allow-remote") {
    return parse_bool(key, value, c.allow_remote);
  } else if (key == "metrics-listen") {
    c.metrics_listen = value;
  } else if (key == "metrics-allow-remote") {
    return parse_bool(key, value, c.metrics_allow_remote);
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
  } else if (key == "login-concurrency-per-host") {
    if (auto e = parse_uint(key, value, 0, 100000, n); !e.ok()) return e;
    r.logins.concurrency_per_host = n;
  } else if (key == "login-rate-per-host") {
    if (auto e = parse_uint(key, value, 0, 100000, n); !e.ok()) return e;
    r.logins.rate_per_host = static_cast<double>(n);
  } else if (key == "reconnect-initial-ms") {
    return parse_duration(key, value, 10, 3600000, r.session.reconnect.initial);
  } else if (key == "reconnect-max-ms") {
    return parse_duration(key, value, 10, 3600000, r.session.reconnect.max);
  } else if (key == "dead-session-retention-seconds") {
    return parse_duration(key, value, 0, 30 * 86400, r.dead_session_retention);
  } else if (key == "command-timeout-ms") {
    return parse_duration(key, value, 100, 3600000, r.session.command_timeout);
  } else if (key == "imap-idle-restart-seconds") {
    // RFC 2177: servers may log out a client idle for 30 minutes; 29 is the most.
    std::chrono::seconds restart{};
    if (auto e = parse_duration(key, value, 1, 1740, restart); !e.ok()) return e;
    r.session.idle_restart = restart;
  } else if (key == "message-cache-session-mb") {
    if (auto e = parse_uint(key, value, 0, 1u << 20, n); !e.ok()) return e;
    r.session.cache.session_bytes = static_cast<std::size_t>(n) << 20;
  } else if (key == "message-cache-total-mb") {
    if (auto e = parse_uint(key, value, 0, 1u << 24, n); !e.ok()) return e;
    c.message_cache_total_mb = static_cast<std::size_t>(n);
  } else if (key == "state-dir") {
    c.state_dir = value;
  } else if (key == "store-path") {
    c.store_path = value;
  } else if (key == "vault-key-file") {
    c.vault_key_file = value;
  } else if (key == "restore-grace-seconds") {
    return parse_duration(key, value, 0, 86400, c.restore_grace);
  } else if (key.rfind("oauth2-connection.", 0) == 0) {
    return apply_connection_setting(c, key, value);
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
      << "metrics-listen = " << c.metrics_listen << "\n"
      << "metrics-allow-remote = " << (c.metrics_allow_remote ? "true" : "false") << "\n"
      << "log-level = " << c.log_level << "\n"
      << "io-threads = " << c.io_threads << "\n"
      << "allow-core-dumps = " << (c.allow_core_dumps ? "true" : "false") << "\n"
      << "default-linger-seconds = " << c.registry.session.default_linger.count() << "\n"
      << "default-lease-ttl-seconds = " << c.registry.default_lease_ttl.count() << "\n"
      << "max-lease-ttl-seconds = " << c.registry.max_lease_ttl.count() << "\n"
      << "max-sessions = " << c.registry.max_sessions << "\n"
      << "login-concurrency-per-host = " << c.registry.logins.concurrency_per_host << "\n"
      << "login-rate-per-host = " << static_cast<std::uint64_t>(c.registry.logins.rate_per_host) << "\n"
      << "reconnect-initial-ms = " << c.registry.session.reconnect.initial.count() << "\n"
      << "reconnect-max-ms = " << c.registry.session.reconnect.max.count() << "\n"
      << "command-timeout-ms = " << c.registry.session.command_timeout.count() << "\n"
      << "imap-idle-restart-seconds = "
      << std::chrono::duration_cast<std::chrono::seconds>(c.registry.session.idle_restart).count() << "\n"
      << "dead-session-retention-seconds = " << c.registry.dead_session_retention.count() << "\n"
      << "message-cache-session-mb = " << (c.registry.session.cache.session_bytes >> 20) << "\n"
      << "message-cache-total-mb = " << c.message_cache_total_mb << "\n"
      << "state-dir = " << (c.state_dir == "none" ? "none" : effective_state_dir(c)) << "\n"
      << "store-path = " << effective_store_path(c) << "\n"
      << "vault-key-file = " << effective_vault_key_file(c) << "\n"
      << "restore-grace-seconds = " << c.restore_grace.count() << "\n";
  for (const auto& [name, conn] : c.registry.oauth2_connections) {
    const auto& o = conn.settings;
    const std::string p = "oauth2-connection." + name + ".";
    std::string scopes;
    for (const auto& sc : o.scopes) scopes += (scopes.empty() ? "" : " ") + sc;
    out << p << "provider = " << provider_name(o.provider) << "\n"
        << p << "tenant-id = " << o.tenant_id << "\n"
        << p << "cloud = " << (o.cloud == session::azure_cloud::us_gcc_high ? "us-gcc-high" : "global") << "\n"
        << p << "grant = " << (o.grant == session::oauth2_grant::client_credentials ? "client_credentials" : "authorization_code") << "\n"
        << p << "token-type = " << (o.token_type == session::oauth2_token_type::shared ? "shared" : "per-user") << "\n"
        << p << "client-id = " << o.client_id << "\n";
    // A public client has no secret: "none" would not parse back as a reference.
    if (!o.client_secret.empty()) out << p << "client-secret = " << secrets::describe(o.client_secret) << "\n";
    if (!o.refresh_token.empty()) out << p << "refresh-token = " << secrets::describe(o.refresh_token) << "\n";
    out << p << "token-url = " << o.token_url << "\n"
        << p << "authorize-url = " << o.authorize_url << "\n"
        << p << "redirect-uri = " << o.redirect_uri << "\n"
        << p << "scopes = " << scopes << "\n"
        << p << "ca-file = " << o.token_ca_file << "\n"
        << p << "username = " << conn.username << "\n";
  }
  return out.str();
}

}  // namespace mailbroker::daemon
