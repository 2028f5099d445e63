#include "daemon/daemon_config.hpp"

#include "secrets/secret_ref.hpp"
#include "trust/policy.hpp"
#include "trust/secret_destinations.hpp"

#include <algorithm>
#include <cctype>
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
  } else if (setting == "allowed-hosts") {
    conn.allowed_hosts.clear();
    std::string item;
    std::istringstream items{v};
    while (std::getline(items, item, ',')) {
      const std::string h(trim(item));
      if (auto e = trust::check_allowed_host(h, key); !e.ok()) return e;
      conn.allowed_hosts.push_back(h);
    }
  } else {
    return {errc::invalid_argument,
            std::string(key) + ": unknown setting '" + std::string(setting) +
                "' (provider, tenant-id, cloud, client-id, client-secret, token-url, authorize-url, scopes, "
                "redirect-uri, ca-file, grant, token-type, username, refresh-token, allowed-hosts)"};
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

// Where a provider's tokens are used: its own mail servers.
std::vector<std::string> preset_allowed_hosts(const session::oauth2_settings& o) {
  using P = session::oauth2_provider;
  if (o.provider == P::microsoft) {
    if (o.cloud == session::azure_cloud::us_gcc_high) return {"outlook.office365.us", "smtp.office365.us"};
    return {"outlook.office365.com", "smtp.office365.com", "smtp-mail.outlook.com"};
  }
  if (o.provider == P::google) return {"imap.gmail.com", "pop.gmail.com", "smtp.gmail.com"};
  return {};
}

error check_trust_config(const trust_config& t) {
  for (const auto& line : t.allow) {
    if (auto r = trust::parse_rule(line); !r) return r.err();
  }
  for (const auto& line : t.tokens) {
    if (auto e = check_token_line(line); !e.ok()) return e;
  }
  for (const auto& line : t.secret_hosts) {
    if (auto e = check_secret_hosts_line(line); !e.ok()) return e;
  }
  for (const auto& dir : t.secret_file_dirs) {
    if (dir.empty() || dir.front() != '/') {
      return {errc::invalid_argument, "secret-file-dir: '" + dir + "' is not an absolute path"};
    }
  }
  for (std::string_view rest = t.client_identity; !rest.empty();) {
    const auto comma = rest.find(',');
    const auto item = trim(rest.substr(0, comma));
    if (item != "uri" && item != "dns" && item != "cn") {
      return {errc::invalid_argument, "tls-client-identity: '" + std::string(item) +
                                          "' is not uri, dns or cn (a comma-separated order, e.g. uri,dns,cn)"};
    }
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  if (t.tls_cert_file.empty() != t.tls_key_file.empty()) {
    return {errc::invalid_argument, "tls-cert-file and tls-key-file go together: give both or neither"};
  }
  if (!t.tls_client_ca_file.empty() && t.tls_cert_file.empty()) {
    return {errc::invalid_argument, "tls-client-ca-file needs tls-cert-file and tls-key-file (mTLS is TLS first)"};
  }
  return error::none();
}

}  // namespace

error check_token_line(std::string_view line) {
  const auto space = line.find(' ');
  const auto name = line.substr(0, space);
  const auto hash = space == std::string_view::npos ? std::string_view{} : trim(line.substr(space + 1));
  const bool hex = hash.size() == 7 + 64 && hash.rfind("sha256:", 0) == 0 &&
                   std::all_of(hash.begin() + 7, hash.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); });
  if (name.empty() || session::validate_session_name(name).code != errc::ok || !hex) {
    return {errc::invalid_argument, "token: expected `token = NAME sha256:HEX` (NAME of [A-Za-z0-9._-]; HEX the "
                                    "SHA-256 of the token: `printf %s TOKEN | sha256sum`), never the token itself"};
  }
  return error::none();
}

error check_secret_hosts_line(std::string_view line) {
  const auto space = line.find(' ');
  const auto ref = line.substr(0, space);
  const auto hosts = space == std::string_view::npos ? std::string_view{} : trim(line.substr(space + 1));
  if (!(ref.rfind("env:", 0) == 0 || ref.rfind("file:", 0) == 0) || ref.size() <= 5 || hosts.empty()) {
    return {errc::invalid_argument, "secret-hosts: expected `secret-hosts = env:NAME HOST[:PORT][,...]` or "
                                    "`secret-hosts = file:PATH-GLOB HOST[:PORT][,...]` (vault entries carry "
                                    "their own: `mailbroker vault put NAME --allow-host HOST:PORT`)"};
  }
  for (std::string_view rest = hosts; !rest.empty();) {
    const auto comma = rest.find(',');
    if (auto e = trust::check_allowed_host(trim(rest.substr(0, comma)), "secret-hosts"); !e.ok()) return e;
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return error::none();
}

error finish_config(daemon_config& c) {
  if (const auto& l = c.registry.session.imap_limits; l.max_pending_bytes < l.parser.max_parsed_bytes) {
    return {errc::invalid_argument, "imap-max-pending-mb (" + std::to_string(l.max_pending_bytes >> 20) +
                                        ") must be at least imap-max-response-mb (" +
                                        std::to_string(l.parser.max_parsed_bytes >> 20) +
                                        "): one response the server may send must fit"};
  }
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
    if (conn.allowed_hosts.empty()) conn.allowed_hosts = preset_allowed_hosts(o);
  }
  return check_trust_config(c.trust);
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
  } else if (key == "imap-max-response-mb") {
    // One response, raw and estimated parsed size alike (response_parser.hpp, Memory);
    // one literal stays at most 32 MiB.
    if (auto e = parse_uint(key, value, 1, 1024, n); !e.ok()) return e;
    auto& p = r.session.imap_limits.parser;
    p.max_response_bytes = p.max_parsed_bytes = static_cast<std::size_t>(n) << 20;
    p.max_literal_bytes = std::min<std::size_t>(p.max_response_bytes, 32u << 20);
  } else if (key == "imap-max-pending-mb") {
    if (auto e = parse_uint(key, value, 1, 4096, n); !e.ok()) return e;
    r.session.imap_limits.max_pending_bytes = static_cast<std::size_t>(n) << 20;
  } else if (key == "dead-connection-seconds") {
    return parse_duration(key, value, 2, 600, r.session.dead_connection);
  } else if (key == "ews-connections-per-session") {
    if (auto e = parse_uint(key, value, 1, 16, n); !e.ok()) return e;
    r.session.http_connections = static_cast<std::size_t>(n);
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
  } else if (key == "allow") {
    // Checked here too (and compiled later), so a config file's bad line is named.
    if (auto rule = trust::parse_rule(value); !rule) return rule.err();
    c.trust.allow.emplace_back(value);
  } else if (key == "token") {
    if (auto e = check_token_line(value); !e.ok()) return e;
    c.trust.tokens.emplace_back(value);
  } else if (key == "secret-hosts") {
    if (auto e = check_secret_hosts_line(value); !e.ok()) return e;
    c.trust.secret_hosts.emplace_back(value);
  } else if (key == "secret-file-dir") {
    c.trust.secret_file_dirs.emplace_back(value);
  } else if (key == "tls-client-identity") {
    c.trust.client_identity = value;
  } else if (key == "tls-cert-file") {
    c.trust.tls_cert_file = value;
  } else if (key == "tls-key-file") {
    c.trust.tls_key_file = value;
  } else if (key == "tls-client-ca-file") {
    c.trust.tls_client_ca_file = value;
  } else if (key == "insecure-tcp") {
    return parse_bool(key, value, c.trust.insecure_tcp);
  } else if (key == "audit-log") {
    c.trust.audit_log = value;
  } else if (key == "max-streams") {
    if (auto e = parse_uint(key, value, 1, 1000000, n); !e.ok()) return e;
    c.trust.max_streams = n;
  } else if (key == "max-streams-per-principal") {
    if (auto e = parse_uint(key, value, 1, 1000000, n); !e.ok()) return e;
    c.trust.max_streams_per_principal = n;
  } else if (key == "ews-autodiscover-connect-to") {
    // A test hook: Autodiscover's names (autodiscover.example.test) reach a fake server
    // on loopback without DNS. Loopback targets only (parse_connect_overrides).
    auto overrides = session::parse_connect_overrides(value, key);
    if (!overrides) return overrides.err();
    r.session.ews_discovery.connect_to =
        overrides->empty() ? nullptr : std::make_shared<const session::connect_overrides>(std::move(overrides.value()));
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
      << "imap-max-response-mb = " << (c.registry.session.imap_limits.parser.max_parsed_bytes >> 20) << "\n"
      << "imap-max-pending-mb = " << (c.registry.session.imap_limits.max_pending_bytes >> 20) << "\n"
      << "dead-connection-seconds = " << c.registry.session.dead_connection.count() << "\n"
      << "ews-connections-per-session = " << c.registry.session.http_connections << "\n"
      << "message-cache-session-mb = " << (c.registry.session.cache.session_bytes >> 20) << "\n"
      << "message-cache-total-mb = " << c.message_cache_total_mb << "\n"
      << "state-dir = " << (c.state_dir == "none" ? "none" : effective_state_dir(c)) << "\n"
      << "store-path = " << effective_store_path(c) << "\n"
      << "vault-key-file = " << effective_vault_key_file(c) << "\n"
      << "restore-grace-seconds = " << c.restore_grace.count() << "\n"
      << "tls-cert-file = " << c.trust.tls_cert_file << "\n"
      << "tls-key-file = " << c.trust.tls_key_file << "\n"
      << "tls-client-ca-file = " << c.trust.tls_client_ca_file << "\n"
      << "tls-client-identity = " << c.trust.client_identity << "\n"
      << "insecure-tcp = " << (c.trust.insecure_tcp ? "true" : "false") << "\n"
      << "audit-log = " << c.trust.audit_log << "\n"
      << "max-streams = " << c.trust.max_streams << "\n"
      << "max-streams-per-principal = " << c.trust.max_streams_per_principal << "\n";
  for (const auto& line : c.trust.allow) out << "allow = " << line << "\n";
  for (const auto& line : c.trust.tokens) out << "token = " << line << "\n";
  for (const auto& line : c.trust.secret_hosts) out << "secret-hosts = " << line << "\n";
  for (const auto& dir : c.trust.secret_file_dirs) out << "secret-file-dir = " << dir << "\n";
  if (const auto& hook = c.registry.session.ews_discovery.connect_to) {
    out << "ews-autodiscover-connect-to = " << session::render_connect_overrides(*hook) << "\n";
  }
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
    std::string hosts;
    for (const auto& h : conn.allowed_hosts) hosts += (hosts.empty() ? "" : ",") + h;
    out << p << "allowed-hosts = " << hosts << "\n";
  }
  return out.str();
}

}  // namespace mailbroker::daemon
