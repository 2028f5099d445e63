#include "trust/secret_destinations.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "auth/url.hpp"
#include "common/text.hpp"
#include "trust/policy.hpp"

namespace mailbroker::trust {
namespace {

using session::session_spec;
using session::tls_mode;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

struct endpoint {
  std::string host;
  std::uint16_t port = 0;
  bool plaintext = false;
  bool skip_verify = false;
};

std::uint16_t smtp_port(const session::smtp_leg& leg) {
  if (leg.port != 0) return static_cast<std::uint16_t>(leg.port);
  return leg.tls == tls_mode::implicit ? 465 : 587;
}

std::vector<endpoint> mail_endpoints(const session_spec& spec, bool include_smtp_reusing_auth) {
  std::vector<endpoint> out{{lower(spec.host), spec.port, spec.tls == tls_mode::plain, spec.insecure_skip_verify}};
  if (include_smtp_reusing_auth && spec.smtp && !spec.smtp->own_credentials) {
    const auto& leg = *spec.smtp;
    out.push_back({lower(leg.host), smtp_port(leg), leg.tls == tls_mode::plain, leg.insecure_skip_verify});
  }
  return out;
}

std::optional<secret_use::kind> daemon_side(const secrets::secret_ref& ref) {
  using S = secrets::secret_ref::source;
  switch (ref.kind) {
    case S::vault: return secret_use::kind::vault;
    case S::env: return secret_use::kind::env;
    case S::file: return secret_use::kind::file;
    default: return std::nullopt;
  }
}

void add_uses(std::vector<secret_use>& out, secret_use::kind k, const std::string& name, const std::string& field,
              const std::vector<endpoint>& where) {
  for (const auto& e : where) out.push_back({k, name, field, e.host, e.port, e.plaintext, e.skip_verify});
}

// Unparsable token URLs were refused by normalise(); an empty host never matches anyway.
endpoint token_endpoint(const session::oauth2_settings& o) {
  auto url = auth::parse_url(o.token_url, /*allow_http=*/true);
  if (!url) return {};
  return {url->host, url->port, url->scheme == "http", false};
}

}  // namespace

std::string secret_use::ref() const {
  switch (k) {
    case kind::vault: return "vault:" + name;
    case kind::env: return "env:" + name;
    case kind::file: return "file:" + name;
    case kind::managed_connection: return "oauth2-connection:" + name;
  }
  return name;
}

std::string secret_use::destination() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::vector<secret_use> secret_uses(const session_spec& spec) {
  using session::auth_method;
  std::vector<secret_use> out;
  const auto field = session::auth_field(spec);
  switch (spec.auth) {
    case auth_method::basic:
      if (auto k = daemon_side(spec.password)) add_uses(out, *k, spec.password.value, field + ".password", mail_endpoints(spec, true));
      break;
    case auth_method::oauth2_client_credentials:
    case auth_method::oauth2_authorization_code:
    case auth_method::oauth2_password: {
      auto where = mail_endpoints(spec, true);
      where.push_back(token_endpoint(spec.oauth2));
      if (auto k = daemon_side(spec.oauth2.client_secret)) {
        add_uses(out, *k, spec.oauth2.client_secret.value, field + ".client_secret", where);
      }
      if (auto k = daemon_side(spec.oauth2.refresh_token)) {
        add_uses(out, *k, spec.oauth2.refresh_token.value, field + ".refresh_token", where);
      }
      // The user's password itself is sent to the token endpoint only; the token it
      // buys goes to the mail server(s), so they count as destinations too (like a
      // client secret's).
      if (spec.auth == auth_method::oauth2_password) {
        if (auto k = daemon_side(spec.password)) add_uses(out, *k, spec.password.value, field + ".password", where);
      }
      break;
    }
    case auth_method::oauth2_managed:
      add_uses(out, secret_use::kind::managed_connection, spec.oauth2.connection, field + ".connection",
               mail_endpoints(spec, true));
      break;
    case auth_method::none: break;
  }
  if (spec.smtp && spec.smtp->own_credentials) {
    if (auto k = daemon_side(spec.smtp->password)) {
      const auto& leg = *spec.smtp;
      add_uses(out, *k, leg.password.value, "spec.smtp.password",
               {{lower(leg.host), smtp_port(leg), leg.tls == tls_mode::plain, leg.insecure_skip_verify}});
    }
  }
  return out;
}

namespace {

struct host_pattern {
  std::string host;
  std::optional<std::uint16_t> port;
};

std::optional<host_pattern> parse_host_pattern(std::string_view entry) {
  host_pattern p;
  std::string_view port_text;
  if (!entry.empty() && entry.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    p.host = lower(entry.substr(1, close - 1));
    auto rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
  } else {
    const auto colon = entry.find(':');
    if (colon != std::string_view::npos && entry.find(':', colon + 1) != std::string_view::npos) return std::nullopt;
    p.host = lower(entry.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = entry.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
  }
  if (p.host.empty()) return std::nullopt;
  for (const char c : p.host) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)) || c == ',') {
      return std::nullopt;
    }
  }
  if (!port_text.empty()) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || v == 0 || v > 65535) return std::nullopt;
    p.port = static_cast<std::uint16_t>(v);
  }
  return p;
}

}  // namespace

bool destination_allowed(const std::vector<std::string>& allowed, std::string_view host, std::uint16_t port) {
  if (host.empty()) return false;
  const auto h = lower(host);
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& entry) {
    auto p = parse_host_pattern(entry);
    return p && (!p->port || *p->port == port) && glob_match(p->host, h);
  });
}

error check_allowed_host(std::string_view entry, std::string_view field) {
  if (parse_host_pattern(entry)) return error::none();
  return error{errc::invalid_argument, std::string(field) + ": '" + clean_text(entry, 200) +
                                           "' is not HOST or HOST:PORT (HOST may be a glob such as "
                                           "*.corp.example; IPv6 as [::1]:993)"};
}

}  // namespace mailbroker::trust
