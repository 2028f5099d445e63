#include "session/ews_discovery.hpp"

#include <algorithm>
#include <charconv>

#include "protocol/ews/autodiscover_client.hpp"

namespace mailbroker::session {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// "host:port" or "[v6]:port" → host (brackets removed) and port; nullopt when malformed.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view s) {
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return std::nullopt;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos || s.find(':') != colon) return std::nullopt;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  unsigned v = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (host.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size() || v == 0 || v > 65535) {
    return std::nullopt;
  }
  const bool clean = std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':';
  });
  if (!clean) return std::nullopt;
  return std::pair{lower(host), static_cast<std::uint16_t>(v)};
}

std::string authority(const std::string& host, std::uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

result<connect_overrides> parse_connect_overrides(std::string_view text, std::string_view field) {
  const std::string f(field);
  connect_overrides out;
  for (std::string_view rest = text; !trim(rest).empty();) {
    const auto comma = rest.find(',');
    const auto item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    auto from = eq == std::string_view::npos ? std::nullopt : split_host_port(trim(item.substr(0, eq)));
    auto to = eq == std::string_view::npos ? std::nullopt : split_host_port(trim(item.substr(eq + 1)));
    if (!from || !to) {
      return error{errc::invalid_argument, f + ": expected HOST:PORT=IP:PORT[,...] (e.g. "
                                               "autodiscover.example.test:443=127.0.0.1:8443)"};
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(to->first, ec);
    if (ec || !address.is_loopback()) {
      return error{errc::invalid_argument, f + ": '" + authority(to->first, to->second) +
                                               "' is not a loopback IP address; this test hook only redirects "
                                               "to 127.0.0.0/8 or [::1]"};
    }
    if (out.size() == max_connect_overrides) {
      return error{errc::invalid_argument, f + ": more than " + std::to_string(max_connect_overrides) + " entries"};
    }
    out.push_back({from->first, from->second, to->first, to->second});
  }
  return out;
}

std::string render_connect_overrides(const connect_overrides& overrides) {
  std::string out;
  for (const auto& o : overrides) {
    out += (out.empty() ? "" : ",") + authority(o.host, o.port) + "=" + authority(o.to_host, o.to_port);
  }
  return out;
}

std::optional<net::http_endpoint> override_for(const connect_overrides* overrides, const std::string& host,
                                               std::uint16_t port) {
  if (overrides == nullptr) return std::nullopt;
  const auto h = lower(host);
  for (const auto& o : *overrides) {
    if (o.host == h && o.port == port) return net::http_endpoint{true, o.to_host, o.to_port};
  }
  return std::nullopt;
}

bool uses_autodiscover(const session_spec& spec) {
  return spec.proto == protocol::ews && spec.ews && spec.ews->url.empty() && !spec.ews->autodiscover_email.empty();
}

bool sends_daemon_side_secret(const session_spec& spec) {
  auto daemon_side = [](const secrets::secret_ref& ref) {
    using S = secrets::secret_ref::source;
    return ref.kind == S::vault || ref.kind == S::env || ref.kind == S::file;
  };
  return spec.auth == auth_method::oauth2_managed || daemon_side(spec.password) ||
         daemon_side(spec.oauth2.client_secret) || daemon_side(spec.oauth2.refresh_token);
}

awaitable<result<ews_endpoint>> find_ews_endpoint(session_spec spec, std::shared_ptr<asio::ssl::context> tls,
                                                  authenticator_factory make, ews_discovery_hooks hooks,
                                                  bool rediscover) {
  if (!uses_autodiscover(spec)) co_return error{errc::invalid_argument, "the spec has no spec.ews.autodiscover_email"};
  const auto& email = spec.ews->autodiscover_email;
  if (!hooks.check_destination && sends_daemon_side_secret(spec)) {
    // Whoever built the session gave it no way to ask where its secrets may go.
    co_return error{errc::permission_denied, "spec.ews.autodiscover_email: this session has no destination check for "
                                             "its daemon-side secret, so Autodiscover cannot send it anywhere; set "
                                             "spec.ews.url (or give the secret inline)"};
  }
  auto check = [&hooks](const std::string& host, std::uint16_t port) {
    return hooks.check_destination ? hooks.check_destination(host, port) : error::none();
  };

  std::string url = hooks.found && !rediscover ? hooks.found->url : std::string();
  const bool remembered = !url.empty();
  if (!remembered) {
    ews::discovery_options o;
    o.tls = tls;
    o.verify_host = !spec.insecure_skip_verify;
    o.connect_timeout = spec.ews->timeout;
    o.request_timeout = spec.ews->timeout;
    o.total_timeout = max_autodiscover_duration;
    o.authenticator = [&](const net::http_endpoint& where) -> result<std::shared_ptr<net::http_authenticator>> {
      if (auto e = check(where.host, where.port); !e.ok()) return e;
      return make();
    };
    o.connect_to = [overrides = hooks.connect_to](const std::string& host, std::uint16_t port) {
      return override_for(overrides.get(), host, port);
    };
    auto found = co_await ews::discover_ews_url(email, std::move(o));
    if (!found) co_return found.err();
    url = found->ews_url;
    if (hooks.found) *hooks.found = ews_found_endpoint{url, std::move(found->tried)};
  }

  auto parsed = net::parse_http_url(url);
  if (!parsed) co_return error{errc::internal, "Autodiscover returned a URL that no longer parses"};
  if (auto e = check(parsed->endpoint.host, parsed->endpoint.port); !e.ok()) {
    co_return error{e.code, "Autodiscover for " + email + " found " + url + ", but " + e.message};
  }
  ews_endpoint out;
  out.url = url;
  out.endpoint = parsed->endpoint;
  out.path = parsed->target;
  if (auto to = override_for(hooks.connect_to.get(), out.endpoint.host, out.endpoint.port)) {
    out.connect_host = to->host;
    out.connect_port = to->port;
  }
  out.discovered_now = !remembered;
  co_return out;
}

}  // namespace mailbroker::session
