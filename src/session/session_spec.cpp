#include "session/session_spec.hpp"

#include <algorithm>
#include <cctype>

#include "auth/url.hpp"
#include "common/random.hpp"
#include "protocol/ews/autodiscover_policy.hpp"
#include "protocol/graph/endpoints.hpp"

namespace mailbroker::session {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '_' || c == '[' || c == ']';
  });
}

error invalid(std::string message) { return {errc::invalid_argument, std::move(message)}; }

bool valid_tenant(std::string_view tenant) {
  return !tenant.empty() && std::all_of(tenant.begin(), tenant.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

// RFC 8252 7.3: a native app's redirect URI is http on a loopback host with a port.
error check_redirect_uri(const std::string& uri, const std::string& field) {
  const std::string f = field + "redirect_uri ";
  if (uri.rfind("http://", 0) != 0) {
    return invalid(f + "must be an http:// URI on a loopback host, e.g. http://localhost:9999/callback");
  }
  const std::string rest = uri.substr(7);
  std::string host;
  std::size_t after_host = 0;
  if (!rest.empty() && rest[0] == '[') {
    after_host = rest.find(']');
    if (after_host == std::string::npos) return invalid(f + "has an unterminated IPv6 address");
    host = rest.substr(0, ++after_host);
  } else {
    after_host = rest.find_first_of(":/?#");
    if (after_host == std::string::npos) after_host = rest.size();
    host = lower(rest.substr(0, after_host));
  }
  if (host != "localhost" && host != "127.0.0.1" && host != "[::1]") {
    return invalid(f + "must point at this machine (localhost, 127.0.0.1 or [::1]), where `mailbroker authorize` "
                       "listens; '" + host + "' is not a loopback host");
  }
  if (after_host >= rest.size() || rest[after_host] != ':') return invalid(f + "needs an explicit port, e.g. :9999");
  const std::size_t port_end = rest.find_first_of("/?#", after_host + 1);
  const std::string port = rest.substr(after_host + 1, port_end == std::string::npos ? std::string::npos : port_end - after_host - 1);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) || std::stoi(port) == 0 ||
      std::stoi(port) > 65535) {
    return invalid(f + "has an invalid port '" + port + "'");
  }
  if (uri.find('#') != std::string::npos) return invalid(f + "must not contain a fragment (#)");
  return error::none();
}

error check_https(const std::string& url, const std::string& what) {
  if (url.rfind("https://", 0) != 0 || url.size() <= 8) return invalid(what + " must be an https:// URL");
  return error::none();
}

}  // namespace

error normalise_oauth2(oauth2_settings& o, oauth2_grant grant, const std::string& field) {
  const std::string& f = field;
  const bool code = grant == oauth2_grant::authorization_code;
  const bool password = grant == oauth2_grant::password;
  switch (o.provider) {
    case oauth2_provider::yahoo:
    case oauth2_provider::msn:
      if (code) {
        return invalid(f + "provider: the authorization-code flow is offered for Microsoft, Google and custom "
                           "RFC 6749 servers only, not for Yahoo or MSN (use basic auth with an app password)");
      }
      [[fallthrough]];
    case oauth2_provider::google:
      if (password) {
        return invalid(f + "provider: the password grant (ROPC) is only offered by the Microsoft identity platform "
                           "(or a custom RFC 6749 server), not by Google, Yahoo or MSN");
      }
      if (!code) {
        return invalid(f + "provider: the client credentials grant is only offered by the Microsoft identity "
                           "platform (or a custom RFC 6749 server); Gmail, Yahoo and MSN mailboxes need the "
                           "authorization-code flow");
      }
      if (o.authorize_url.empty()) o.authorize_url = "https://accounts.google.com/o/oauth2/v2/auth";
      if (o.token_url.empty()) o.token_url = "https://oauth2.googleapis.com/token";
      if (o.scopes.empty()) o.scopes.push_back("https://mail.google.com/");
      if (o.redirect_uri.empty()) o.redirect_uri = "http://localhost:8888/Callback";
      break;
    case oauth2_provider::microsoft: {
      if (o.tenant_id.empty()) return invalid(f + "tenant_id is required for the Microsoft identity platform");
      if (!valid_tenant(o.tenant_id)) return invalid(f + "tenant_id has invalid characters");
      if (password && (lower(o.tenant_id) == "common" || lower(o.tenant_id) == "consumers")) {
        return invalid(f + "tenant_id '" + o.tenant_id +
                       "': the Microsoft identity platform offers the password grant for work or school accounts "
                       "only: give the directory id or domain, or 'organizations'");
      }
      const bool gcc_high = o.cloud == azure_cloud::us_gcc_high;
      const std::string authority =
          std::string(gcc_high ? "https://login.microsoftonline.us/" : "https://login.microsoftonline.com/") + o.tenant_id;
      if (o.token_url.empty()) o.token_url = authority + "/oauth2/v2.0/token";
      if (code && o.authorize_url.empty()) o.authorize_url = authority + "/oauth2/v2.0/authorize";
      if (o.scopes.empty()) {
        // Delegated: the IMAP permission on the cloud's Exchange host, plus
        // offline_access for a refresh token. App-only: the host's .default.
        const std::string host = gcc_high ? "https://outlook.office365.us/" : "https://outlook.office.com/";
        if (code) {
          o.scopes = {host + "IMAP.AccessAsUser.All", "offline_access"};
        } else if (password) {
          o.scopes = {host + "IMAP.AccessAsUser.All"};  // nothing to refresh: no offline_access
        } else {
          o.scopes.push_back(gcc_high ? "https://outlook.office365.us/.default" : "https://outlook.office365.com/.default");
        }
      }
      if (code && o.redirect_uri.empty()) o.redirect_uri = "http://localhost:9999/callback";
      break;
    }
    case oauth2_provider::unspecified:
    case oauth2_provider::custom:
      if (o.token_url.empty()) return invalid(f + "token_url is required for a custom OAuth2 server");
      o.provider = oauth2_provider::custom;
      break;
  }
  if (auto e = check_https(o.token_url, f + "token_url"); !e.ok()) return e;
  if (!o.authorize_url.empty()) {
    if (auto e = check_https(o.authorize_url, f + "authorize_url"); !e.ok()) return e;
  }
  if (o.client_id.empty()) return invalid(f + "client_id is required");
  if (grant == oauth2_grant::client_credentials && (o.client_secret.empty() || o.client_secret.value.empty())) {
    return invalid(f + "client_secret is required (inline_value, env, file or vault)");
  }
  if (!o.client_secret.empty() && o.client_secret.value.empty()) return invalid(f + "client_secret is empty");
  if (code && !o.redirect_uri.empty()) {
    if (auto e = check_redirect_uri(o.redirect_uri, f); !e.ok()) return e;
  }
  if (!code) {
    o.authorize_url.clear();
    o.redirect_uri.clear();
    o.refresh_token = {};
  }
  o.grant = grant;
  return error::none();
}


std::string_view protocol_name(protocol p) {
  switch (p) {
    case protocol::imap: return "imap";
    case protocol::pop3: return "pop3";
    case protocol::smtp: return "smtp";
    case protocol::ews: return "ews";
    case protocol::graph: return "graph";
  }
  return "unknown";
}

std::string_view graph_cloud_name(graph_cloud c) {
  switch (c) {
    case graph_cloud::global: return "global";
    case graph_cloud::us_gcc_high: return "us_gcc_high";
    case graph_cloud::custom: return "custom";
  }
  return "unknown";
}

std::string_view tls_mode_name(tls_mode m) {
  switch (m) {
    case tls_mode::implicit: return "implicit";
    case tls_mode::starttls: return "starttls";
    case tls_mode::plain: return "plain";
  }
  return "unknown";
}

std::string_view auth_method_name(auth_method m) {
  switch (m) {
    case auth_method::none: return "none";
    case auth_method::basic: return "basic";
    case auth_method::oauth2_client_credentials: return "oauth2_client_credentials";
    case auth_method::oauth2_authorization_code: return "oauth2_authorization_code";
    case auth_method::oauth2_managed: return "oauth2_managed";
    case auth_method::oauth2_password: return "oauth2_password";
  }
  return "unknown";
}

std::uint32_t max_connections_for_host(std::string_view host) {
  // Gmail allows 15 IMAP connections per account; Exchange Online 20 per mailbox (16 leaves
  // room for the user's own clients). Hosts compare lower-cased (normalise() lowers them).
  if (host == "imap.gmail.com" || host == "imap.googlemail.com") return 15;
  if (host == "outlook.office365.com" || host == "imap-mail.outlook.com" || host == "outlook.office.com") return 16;
  return max_max_connections;
}

error validate_session_name(std::string_view name) {
  if (name.empty()) return invalid("session: the session name is required");
  if (name.size() > max_session_name_length) {
    return invalid("session: the name is " + std::to_string(name.size()) + " characters long; at most " +
                   std::to_string(max_session_name_length) + " are allowed");
  }
  for (unsigned char c : name) {
    if (!(std::isalnum(c) || c == '.' || c == '_' || c == '-')) {
      return invalid("session: only letters, digits, '.', '_' and '-' are allowed in a session name");
    }
  }
  return error::none();
}

std::string auth_field(const session_spec& spec) { return "spec.auth." + std::string(auth_method_name(spec.auth)); }

std::string refresh_token_key(const session_spec& spec, std::string_view session_name) {
  if (spec.auth == auth_method::oauth2_authorization_code) return "session:" + std::string(session_name);
  if (spec.auth == auth_method::oauth2_managed && spec.oauth2.grant == oauth2_grant::authorization_code) {
    if (spec.oauth2.token_type == oauth2_token_type::per_user) return "managed:" + spec.oauth2.connection + ":" + spec.username;
    return "managed:" + spec.oauth2.connection;
  }
  return {};
}

namespace {

// The delegated permission a password-grant token needs on Microsoft's Exchange host
// for the session's protocol (EWS: the host Microsoft's EWS OAuth guide names).
std::string microsoft_password_scope(protocol p, azure_cloud cloud) {
  const bool gcc_high = cloud == azure_cloud::us_gcc_high;
  switch (p) {
    case protocol::ews:
      return std::string(gcc_high ? "https://outlook.office365.us/" : "https://outlook.office365.com/") +
             "EWS.AccessAsUser.All";
    case protocol::pop3:
      return std::string(gcc_high ? "https://outlook.office365.us/" : "https://outlook.office.com/") +
             "POP.AccessAsUser.All";
    case protocol::graph:
      // Graph's own permission on the cloud's Graph host (normalise() sets the Graph
      // scopes before this runs; kept for callers that do not).
      return std::string(gcc_high ? "https://graph.microsoft.us/" : "https://graph.microsoft.com/") +
             "Mail.ReadWrite";
    case protocol::imap:
    case protocol::smtp:
      break;
  }
  return std::string(gcc_high ? "https://outlook.office365.us/" : "https://outlook.office.com/") +
         "IMAP.AccessAsUser.All";
}

bool has_control_character(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// oauth2_password: the user signs in at the token endpoint with their password.
error normalise_password_grant(session_spec& spec, const std::string& af) {
  spec.oauth2.connection.clear();
  if (spec.oauth2.provider == oauth2_provider::microsoft && spec.oauth2.scopes.empty()) {
    spec.oauth2.scopes = {microsoft_password_scope(spec.proto, spec.oauth2.cloud)};
  }
  if (auto e = normalise_oauth2(spec.oauth2, oauth2_grant::password, af); !e.ok()) return e;
  if (spec.username.empty()) return invalid(af + "username (who signs in, and the mailbox to log in to) is required");
  if (spec.username.size() > max_oauth2_username_length || has_control_character(spec.username)) {
    return invalid(af + "username must be at most " + std::to_string(max_oauth2_username_length) +
                   " characters, without control characters");
  }
  if (spec.password.empty()) return invalid(af + "password is required (inline_value, env, file or vault)");
  if (spec.password.value.empty()) return invalid(af + "password is empty");
  return error::none();
}

}  // namespace

error normalise_auth(session_spec& spec, const managed_connections* connections, bool require_username) {
  const std::string af = auth_field(spec) + ".";
  switch (spec.auth) {
    case auth_method::none:
      return invalid(
          "spec.auth is required (basic, oauth2_client_credentials, oauth2_authorization_code, oauth2_managed or "
          "oauth2_password)");
    case auth_method::basic:
      spec.oauth2 = {};  // only the chosen method's fields count (fingerprint and first_difference agree)
      if (spec.username.empty()) return invalid("spec.auth.basic.username is required");
      if (spec.password.empty()) return invalid("spec.auth.basic.password is required (inline_value, env, file or vault)");
      if (spec.password.value.empty()) return invalid("spec.auth.basic.password is empty");
      break;
    case auth_method::oauth2_client_credentials:
    case auth_method::oauth2_authorization_code: {
      const auto grant = spec.auth == auth_method::oauth2_client_credentials ? oauth2_grant::client_credentials
                                                                             : oauth2_grant::authorization_code;
      spec.password = {};
      spec.oauth2.connection.clear();
      if (auto e = normalise_oauth2(spec.oauth2, grant, af); !e.ok()) return e;
      if (require_username && spec.username.empty()) {
        return invalid(af + "username (the mailbox to log in as) is required");
      }
      break;
    }
    case auth_method::oauth2_password:
      if (auto e = normalise_password_grant(spec, af); !e.ok()) return e;
      break;
    case auth_method::oauth2_managed: {
      if (spec.oauth2.connection.empty()) return invalid(af + "connection is required");
      const auto it = connections ? connections->find(spec.oauth2.connection) : managed_connections::const_iterator{};
      if (connections == nullptr || it == connections->end()) {
        return invalid(af + "connection: no OAuth2 connection named '" + spec.oauth2.connection +
                       "' is configured (oauth2-connection." + spec.oauth2.connection + ".* in the daemon config)");
      }
      const std::string name = spec.oauth2.connection;
      spec.password = {};
      spec.oauth2 = it->second.settings;
      spec.oauth2.connection = name;
      if (spec.username.empty()) spec.username = it->second.username;
      if (require_username && spec.username.empty()) {
        return invalid(af + "username (the mailbox to log in as) is required");
      }
      break;
    }
  }

  return error::none();
}

namespace {

// The endpoint fields shared by the main server and the SMTP leg; `field` is their
// request prefix ("spec.server", "spec.smtp.server").
struct endpoint_ref {
  std::string& host;
  std::uint32_t port;
  tls_mode& tls;
  std::string& ca_file;
  bool& insecure_skip_verify;
  std::string& tls_server_name;
  bool allow_plaintext;
};

result<std::uint16_t> normalise_endpoint(endpoint_ref ep, std::uint16_t implicit_port, std::uint16_t other_port,
                                         const std::string& field) {
  ep.host = lower(ep.host);
  if (ep.host.empty()) return invalid(field + ".host is required");
  if (!valid_host(ep.host)) return invalid(field + ".host '" + ep.host + "' is not a host name or IP address");
  if (ep.port > 65535) return invalid(field + ".port " + std::to_string(ep.port) + " is out of range (1..65535)");
  auto port = static_cast<std::uint16_t>(ep.port);
  if (port == 0) port = ep.tls == tls_mode::implicit ? implicit_port : other_port;
  if (ep.tls == tls_mode::plain && !ep.allow_plaintext) {
    return invalid(field + ".tls_mode PLAIN sends credentials in clear: set " + field +
                   ".allow_plaintext to confirm, or use TLS_MODE_IMPLICIT / TLS_MODE_STARTTLS");
  }
  if (ep.tls == tls_mode::plain) {
    ep.ca_file.clear();
    ep.insecure_skip_verify = false;
    ep.tls_server_name.clear();
  }
  ep.tls_server_name = lower(ep.tls_server_name);
  return port;
}

constexpr std::string_view ews_versions[] = {"Exchange2007_SP1", "Exchange2010",    "Exchange2010_SP1",
                                             "Exchange2010_SP2", "Exchange2013",    "Exchange2013_SP1"};

bool plain_address(const std::string& a) {
  const auto at = a.find('@');
  return at != std::string::npos && at > 0 && at + 1 < a.size() && a.find('@', at + 1) == std::string::npos &&
         std::none_of(a.begin(), a.end(), [](unsigned char c) { return c <= ' ' || c == '<' || c == '>' || c >= 0x7f; });
}

// Autodiscover instead of a URL: a plain address whose domain can name the Autodiscover
// hosts. Host, port and path stay empty until the session finds the URL; Autodiscover
// and the URL it accepts are https only.
error normalise_autodiscover(session_spec& spec) {
  auto& leg = *spec.ews;
  if (leg.autodiscover_email.size() > max_oauth2_username_length || !plain_address(leg.autodiscover_email)) {
    return invalid("spec.ews.autodiscover_email must be a plain SMTP address (user@example.com) of at most " +
                   std::to_string(max_oauth2_username_length) + " characters");
  }
  auto domain = ews::mail_domain_of(leg.autodiscover_email, "spec.ews.autodiscover_email");
  if (!domain) return invalid(domain.err().message);
  // The domain is case-insensitive: one spelling for the fingerprint.
  leg.autodiscover_email = leg.autodiscover_email.substr(0, leg.autodiscover_email.rfind('@') + 1) + domain.value();
  spec.tls = tls_mode::implicit;
  leg.path.clear();
  return error::none();
}

// PROTOCOL_EWS: host, port and TLS come from spec.ews.url (or, with autodiscover_email,
// from Autodiscover at connect time); spec.server may carry only its TLS options and
// allow_plaintext.
error normalise_ews(session_spec& spec, std::uint32_t raw_port) {
  if (!spec.ews) return invalid("spec.ews is required for PROTOCOL_EWS (spec.ews.url or spec.ews.autodiscover_email)");
  auto& leg = *spec.ews;
  if (!spec.host.empty() || raw_port != 0) {
    return invalid("spec.server.host / port: EWS sessions take them from spec.ews.url (leave them empty)");
  }
  if (!leg.url.empty() && !leg.autodiscover_email.empty()) {
    return invalid("spec.ews.url and spec.ews.autodiscover_email: give one (a URL skips Autodiscover)");
  }
  if (leg.url.empty() && leg.autodiscover_email.empty()) {
    return invalid("spec.ews.url is required, e.g. https://mail.example.com/EWS/Exchange.asmx (or "
                   "spec.ews.autodiscover_email to find it with Autodiscover)");
  }
  if (!leg.autodiscover_email.empty()) {
    if (auto e = normalise_autodiscover(spec); !e.ok()) return e;
  } else {
    auto url = auth::parse_url(leg.url, spec.allow_plaintext);
    if (!url) {
      return invalid("spec.ews.url: " + url.err().message +
                     (spec.allow_plaintext ? "" : " (http:// needs spec.server.allow_plaintext)"));
    }
    if (!url->userinfo.empty()) return invalid("spec.ews.url must not carry credentials: use spec.auth");
    if (url->target.find('?') != std::string::npos) return invalid("spec.ews.url must not have a query");
    spec.host = url->host;
    spec.port = url->port;
    spec.tls = url->scheme == "https" ? tls_mode::implicit : tls_mode::plain;
    leg.path = url->target;
    leg.url = url->scheme + "://" + (url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host) +
              ":" + std::to_string(url->port) + url->target;
  }
  if (spec.tls == tls_mode::plain) {
    spec.ca_file.clear();
    spec.insecure_skip_verify = false;
    spec.tls_server_name.clear();
  }
  spec.tls_server_name = lower(spec.tls_server_name);
  if (leg.version.empty()) leg.version = "Exchange2013_SP1";
  if (std::find(std::begin(ews_versions), std::end(ews_versions), leg.version) == std::end(ews_versions)) {
    return invalid("spec.ews.version '" + leg.version +
                   "' is not one of Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, "
                   "Exchange2013, Exchange2013_SP1 (use Exchange2013_SP1 for 2016, 2019 and SE)");
  }
  if (leg.domain.find('\\') != std::string::npos || leg.domain.find('@') != std::string::npos) {
    return invalid("spec.ews.domain is the Windows domain alone (e.g. CONTOSO), without a backslash or '@'");
  }
  if (leg.domain.size() > 255 || std::any_of(leg.domain.begin(), leg.domain.end(), [](unsigned char c) {
        return c <= ' ' || c >= 0x7f;
      })) {
    return invalid("spec.ews.domain has invalid characters");
  }
  if (!leg.mailbox.empty() && !plain_address(leg.mailbox)) {
    return invalid("spec.ews.mailbox must be an SMTP address (shared@example.com)");
  }
  if (!leg.impersonate.empty() && !plain_address(leg.impersonate)) {
    return invalid("spec.ews.impersonate must be an SMTP address (user@example.com)");
  }
  if (!leg.mailbox.empty() && !leg.impersonate.empty()) {
    return invalid("spec.ews.mailbox and spec.ews.impersonate: use one (impersonation opens that user's own mailbox)");
  }
  if (leg.timeout.count() == 0) leg.timeout = default_ews_timeout;
  if (leg.timeout < min_ews_timeout || leg.timeout > max_ews_timeout) {
    return invalid("spec.ews.timeout_seconds must be between 10 and 60");
  }
  spec.connect_timeout = leg.timeout;
  return error::none();
}

// ---- PROTOCOL_GRAPH ------------------------------------------------------------------

graph::cloud endpoint_cloud(graph_cloud c) {
  switch (c) {
    case graph_cloud::global: return graph::cloud::global;
    case graph_cloud::us_gcc_high: return graph::cloud::us_gov_high;
    case graph_cloud::custom: return graph::cloud::custom;
  }
  return graph::cloud::global;
}

graph_cloud graph_cloud_of(azure_cloud c) {
  return c == azure_cloud::us_gcc_high ? graph_cloud::us_gcc_high : graph_cloud::global;
}

std::string_view azure_cloud_name(azure_cloud c) { return c == azure_cloud::us_gcc_high ? "us_gcc_high" : "global"; }

// The Graph cloud the leg ends up with: the one given, else the OAuth2 settings' cloud
// for the Microsoft identity platform, else Global.
graph_cloud effective_graph_cloud(const graph_leg& leg, const oauth2_settings& o) {
  if (leg.cloud_given) return leg.cloud;
  return o.provider == oauth2_provider::microsoft ? graph_cloud_of(o.cloud) : graph_cloud::global;
}

// "graph mailbox: ..." / "graph base URL ..." from the endpoint helpers, renamed to the
// request field.
error graph_field_error(const error& e, std::string_view helper_prefix, const std::string& field) {
  std::string message = e.message;
  if (message.rfind(helper_prefix, 0) == 0) {
    std::string rest = message.substr(helper_prefix.size());
    if (rest.rfind(" :", 0) == 0) rest.erase(0, 1);  // "graph base URL : URL ..." → "...: URL ..."
    message = field + rest;
  }
  if (message.rfind(field, 0) != 0) message = field + ": " + message;
  return {errc::invalid_argument, std::move(message)};
}

// Microsoft's default scopes for Graph when the request names none: app-only tokens get
// the Graph host's .default; delegated ones Mail.ReadWrite and Mail.Send (plus
// offline_access for a refresh token with the authorization code; the password grant
// signs in again instead, as its IMAP preset does). Runs before normalise_auth() so the
// IMAP preset does not fill them in. Managed connections bring their own scopes.
error graph_default_scopes(session_spec& spec) {
  if (spec.oauth2.provider != oauth2_provider::microsoft || !spec.oauth2.scopes.empty()) return error::none();
  const auto& leg = *spec.graph;
  const graph_cloud cloud = effective_graph_cloud(leg, spec.oauth2);
  auto scope = graph::default_scope(endpoint_cloud(cloud), leg.base_url, spec.allow_plaintext);
  if (!scope) return error::none();  // the leg's own check names the base URL below
  const std::string def = scope.value();
  const std::string host = def.substr(0, def.size() - std::string_view("/.default").size());
  switch (spec.auth) {
    case auth_method::oauth2_client_credentials:
      spec.oauth2.scopes = {def};
      break;
    case auth_method::oauth2_authorization_code:
      spec.oauth2.scopes = {host + "/Mail.ReadWrite", host + "/Mail.Send", "offline_access"};
      break;
    case auth_method::oauth2_password:
      spec.oauth2.scopes = {host + "/Mail.ReadWrite", host + "/Mail.Send"};
      break;
    case auth_method::none:
    case auth_method::basic:
    case auth_method::oauth2_managed:
      break;
  }
  return error::none();
}

// The leg's endpoint: cloud (checked against the OAuth2 cloud), service root, and from
// it spec.host, port and tls. Runs after normalise_auth() (a managed connection's cloud
// is known only then).
error normalise_graph_endpoint(session_spec& spec) {
  auto& leg = *spec.graph;
  if (leg.cloud_given && spec.oauth2.provider == oauth2_provider::microsoft && leg.cloud != graph_cloud::custom &&
      leg.cloud != graph_cloud_of(spec.oauth2.cloud)) {
    return invalid("spec.graph.cloud (" + std::string(graph_cloud_name(leg.cloud)) + ") and " + auth_field(spec) +
                   ".cloud (" + std::string(azure_cloud_name(spec.oauth2.cloud)) +
                   ") disagree: tokens from one cloud are not accepted by the other's Graph");
  }
  leg.cloud = effective_graph_cloud(leg, spec.oauth2);
  if (leg.cloud == graph_cloud::custom && leg.base_url.empty()) {
    return invalid("spec.graph.base_url is required for GRAPH_CLOUD_CUSTOM (https://HOST[:PORT][/PREFIX])");
  }
  if (leg.cloud != graph_cloud::custom && !leg.base_url.empty()) {
    return invalid("spec.graph.base_url is only for GRAPH_CLOUD_CUSTOM (spec.graph.cloud is " +
                   std::string(graph_cloud_name(leg.cloud)) +
                   ", whose URL is fixed): set spec.graph.cloud to GRAPH_CLOUD_CUSTOM or leave base_url empty");
  }
  auto root = graph::service_root(endpoint_cloud(leg.cloud), leg.base_url, spec.allow_plaintext);
  if (!root) {
    auto e = graph_field_error(root.err(), "graph base URL", "spec.graph.base_url");
    if (!spec.allow_plaintext && leg.base_url.rfind("http://", 0) == 0) {
      e.message += " (http:// needs spec.server.allow_plaintext)";
    }
    return e;
  }
  leg.service_root = root.value();
  if (!leg.base_url.empty()) leg.base_url = leg.service_root.substr(0, leg.service_root.size() - graph::api_version.size());
  auto url = auth::parse_url(leg.service_root, spec.allow_plaintext);
  if (!url) return invalid("spec.graph.base_url: " + url.err().message);
  spec.host = url->host;  // lower case
  spec.port = url->port;  // 443 unless given
  spec.tls = url->scheme == "https" ? tls_mode::implicit : tls_mode::plain;
  if (spec.tls == tls_mode::plain) {
    spec.ca_file.clear();
    spec.insecure_skip_verify = false;
    spec.tls_server_name.clear();
  }
  spec.tls_server_name = lower(spec.tls_server_name);
  return error::none();
}

// PROTOCOL_GRAPH before the auth check: the leg's own fields, the default scopes.
error normalise_graph_leg(session_spec& spec, std::uint32_t raw_port) {
  if (!spec.graph) {
    return invalid("spec.graph is required for PROTOCOL_GRAPH (the cloud, and spec.graph.mailbox for a mailbox "
                   "other than the signed-in user's)");
  }
  auto& leg = *spec.graph;
  if (spec.ews) return invalid("spec.ews is only for PROTOCOL_EWS sessions");
  if (spec.smtp) return invalid("spec.smtp: Graph sessions send through Graph (sendMail); leave spec.smtp unset");
  if (!spec.host.empty() || raw_port != 0) {
    return invalid("spec.server.host / port: Graph sessions take them from the cloud's service root "
                   "(spec.graph.cloud, or spec.graph.base_url for GRAPH_CLOUD_CUSTOM): leave them empty");
  }
  if (spec.auth == auth_method::none || spec.auth == auth_method::basic) {
    return invalid("spec.auth: Graph takes OAuth2 tokens only (oauth2_client_credentials, "
                   "oauth2_authorization_code, oauth2_managed or oauth2_password)");
  }
  if (auto root = graph::mailbox_root(leg.mailbox); !root) {
    return graph_field_error(root.err(), "graph mailbox", "spec.graph.mailbox");
  }
  // An address is case-insensitive: one spelling for the fingerprint.
  if (leg.mailbox.find('@') != std::string::npos) leg.mailbox = lower(leg.mailbox);
  if (leg.timeout.count() == 0) leg.timeout = default_graph_timeout;
  if (leg.timeout < min_graph_timeout || leg.timeout > max_graph_timeout) {
    return invalid("spec.graph.timeout_seconds must be between " + std::to_string(min_graph_timeout.count()) +
                   " and " + std::to_string(max_graph_timeout.count()) + " (0 = " +
                   std::to_string(default_graph_timeout.count()) + ")");
  }
  if (leg.max_concurrent_requests == 0) leg.max_concurrent_requests = default_graph_concurrency;
  if (leg.max_concurrent_requests > max_graph_concurrency) {
    return invalid("spec.graph.max_concurrent_requests must be between 1 and " +
                   std::to_string(max_graph_concurrency) + " (0 = " + std::to_string(default_graph_concurrency) +
                   ", Exchange Online's limit per app and mailbox)");
  }
  spec.connect_timeout = leg.timeout;
  return graph_default_scopes(spec);
}

// PROTOCOL_GRAPH after the auth check: who the mailbox is for the grant.
error normalise_graph_mailbox_user(session_spec& spec) {
  auto& leg = *spec.graph;
  const bool app_only = spec.auth == auth_method::oauth2_client_credentials ||
                        (spec.auth == auth_method::oauth2_managed && spec.oauth2.grant == oauth2_grant::client_credentials);
  if (app_only && leg.mailbox.empty()) {
    return invalid("spec.graph.mailbox is required with app-only tokens (client credentials have no /me)");
  }
  if (spec.username.empty()) spec.username = leg.mailbox;
  if (spec.auth == auth_method::oauth2_managed && spec.oauth2.token_type == oauth2_token_type::per_user &&
      spec.username.empty()) {
    return invalid(auth_field(spec) + ".username (whose token to use) is required for a per-user connection "
                   "(or set spec.graph.mailbox)");
  }
  return error::none();
}

error normalise_smtp_leg(smtp_leg& leg) {
  auto port = normalise_endpoint({leg.host, leg.port, leg.tls, leg.ca_file, leg.insecure_skip_verify,
                                  leg.tls_server_name, leg.allow_plaintext},
                                 465, 587, "spec.smtp.server");
  if (!port) return port.err();
  leg.port = port.value();
  if (!leg.own_credentials) {
    leg.username.clear();
    leg.password = {};
    return error::none();
  }
  if (leg.username.empty()) return invalid("spec.smtp.basic.username is required (or leave spec.smtp.basic unset to use the session's auth)");
  if (leg.password.empty()) return invalid("spec.smtp.basic.password is required (inline_value, env, file or vault)");
  if (leg.password.value.empty()) return invalid("spec.smtp.basic.password is empty");
  return error::none();
}

}  // namespace

result<session_spec> normalise(session_spec spec, std::uint32_t raw_port, const managed_connections* connections) {
  if (spec.proto == protocol::smtp) {
    return error{errc::unimplemented,
                 "spec.protocol: PROTOCOL_SMTP is not a session of its own; for sending, add an SMTP leg "
                 "(spec.smtp) to an IMAP or POP3 session (EWS sessions send through Exchange)"};
  }
  if (spec.proto != protocol::graph && spec.graph) return invalid("spec.graph is only for PROTOCOL_GRAPH sessions");
  if (spec.proto == protocol::graph) {
    if (auto e = normalise_graph_leg(spec, raw_port); !e.ok()) return e;
  } else if (spec.proto == protocol::ews) {
    if (auto e = normalise_ews(spec, raw_port); !e.ok()) return e;
  } else {
    if (spec.ews) return invalid("spec.ews is only for PROTOCOL_EWS sessions");
    const bool pop3 = spec.proto == protocol::pop3;
    auto port = normalise_endpoint({spec.host, raw_port, spec.tls, spec.ca_file, spec.insecure_skip_verify,
                                    spec.tls_server_name, spec.allow_plaintext},
                                   pop3 ? 995 : 993, pop3 ? 110 : 143, "spec.server");
    if (!port) return port.err();
    spec.port = port.value();
  }
  if (spec.smtp) {
    if (auto e = normalise_smtp_leg(*spec.smtp); !e.ok()) return e;
  }

  if (spec.proto == protocol::ews && spec.oauth2.provider == oauth2_provider::microsoft && spec.oauth2.scopes.empty() &&
      (spec.auth == auth_method::oauth2_authorization_code || spec.auth == auth_method::oauth2_client_credentials)) {
    // EWS's own permission on the cloud's Exchange host (the presets are IMAP's).
    const bool gcc_high = spec.oauth2.cloud == azure_cloud::us_gcc_high;
    if (spec.auth == auth_method::oauth2_authorization_code) {
      // The host Microsoft's EWS OAuth guide names (as for the password grant).
      spec.oauth2.scopes = {std::string(gcc_high ? "https://outlook.office365.us/" : "https://outlook.office365.com/") +
                                "EWS.AccessAsUser.All",
                            "offline_access"};
    } else {
      spec.oauth2.scopes = {gcc_high ? "https://outlook.office365.us/.default" : "https://outlook.office365.com/.default"};
    }
  }
  // Graph: the mailbox user is spec.graph.mailbox ("" = the token's own user).
  if (auto e = normalise_auth(spec, connections, spec.proto != protocol::graph); !e.ok()) return e;
  if (spec.graph) {
    if (auto e = normalise_graph_endpoint(spec); !e.ok()) return e;
    if (auto e = normalise_graph_mailbox_user(spec); !e.ok()) return e;
  }
  if (spec.ews) {
    auto& leg = *spec.ews;
    const bool oauth2 = spec.auth != auth_method::basic && spec.auth != auth_method::none;
    if (spec.auth == auth_method::none) return invalid("spec.auth is required for EWS (basic for NTLM / Basic, or OAuth2)");
    if (oauth2 && leg.auth_given) {
      return invalid("spec.ews.auth_scheme: NTLM and BASIC use spec.auth.basic; OAuth2 sessions send a Bearer token "
                     "(leave auth_scheme unset)");
    }
    if (oauth2) leg.auth = ews_auth::bearer;
    if (leg.auth == ews_auth::basic && spec.tls == tls_mode::plain) {
      return invalid("spec.ews.auth_scheme BASIC over http:// sends the password in clear: use an https:// URL");
    }
  }
  if (spec.max_connections > max_max_connections) {
    return invalid("spec.max_connections must be between 0 and " + std::to_string(max_max_connections) + " (0 = 1)");
  }
  if (spec.max_connections == 0) spec.max_connections = 1;
  if (spec.max_connections > 1 && spec.proto != protocol::imap) {
    return invalid("spec.max_connections: only IMAP sessions hold extra connections (EWS pools by the daemon's "
                   "ews-connections-per-session, Graph by spec.graph.max_concurrent_requests); leave it 0 or 1");
  }
  spec.max_connections = std::min(spec.max_connections, max_connections_for_host(spec.host));
  if (spec.read_ahead_bytes > max_read_ahead_bytes) {
    return invalid("spec.read_ahead_bytes must be between 0 (off) and " + std::to_string(max_read_ahead_bytes) +
                   " (16 MiB)");
  }
  if (spec.read_ahead_bytes > 0 && spec.proto != protocol::imap) {
    return invalid("spec.read_ahead_bytes: only IMAP sessions read ahead (EWS and Graph bring the bodies other "
                   "callers wait for along in one request already); leave it 0");
  }
  if (spec.poll_interval.count() == 0) spec.poll_interval = default_poll_interval;
  if (spec.poll_interval.count() < 1 || spec.poll_interval > max_poll_interval) {
    return invalid("spec.poll_interval_seconds must be between 1 and " + std::to_string(max_poll_interval.count()));
  }

  if (spec.keepalive.count() == 0) spec.keepalive = default_keepalive;
  if (spec.keepalive < min_keepalive || spec.keepalive > max_keepalive) {
    return invalid("spec.keepalive_seconds must be between " + std::to_string(min_keepalive.count()) + " and " +
                   std::to_string(max_keepalive.count()));
  }
  if (spec.connect_timeout.count() == 0) spec.connect_timeout = default_connect_timeout;
  if (spec.connect_timeout > max_connect_timeout) {
    return invalid("spec.connect_timeout_ms must be at most " + std::to_string(max_connect_timeout.count()));
  }
  if (spec.linger && *spec.linger > max_linger) {
    return invalid("spec.linger_seconds must be at most " + std::to_string(max_linger.count()));
  }
  return spec;
}

std::string_view ews_auth_name(ews_auth a) {
  switch (a) {
    case ews_auth::ntlm: return "ntlm";
    case ews_auth::basic: return "basic";
    case ews_auth::bearer: return "bearer";
  }
  return "?";
}

std::string connection_target(const session_spec& spec) {
  if (spec.proto == protocol::ews && spec.ews && spec.host.empty() && !spec.ews->autodiscover_email.empty()) {
    const auto& email = spec.ews->autodiscover_email;
    return "autodiscover:" + email.substr(email.rfind('@') + 1);
  }
  const bool v6 = spec.host.find(':') != std::string::npos;
  return (v6 ? "[" + spec.host + "]" : spec.host) + ":" + std::to_string(spec.port);
}

std::string fingerprint(const session_spec& s) {
  std::string canonical;
  auto add = [&canonical](std::string_view key, std::string_view value) {
    canonical.append(key).append("=").append(std::to_string(value.size())).append(":").append(value).append(";");
  };
  add("protocol", protocol_name(s.proto));
  add("host", s.host);
  add("port", std::to_string(s.port));
  add("tls", tls_mode_name(s.tls));
  add("ca_file", s.ca_file);
  add("skip_verify", s.insecure_skip_verify ? "1" : "0");
  add("server_name", s.tls_server_name);
  add("auth", auth_method_name(s.auth));
  add("username", s.username);
  add("password", secrets::identity(s.password));
  if (s.auth == auth_method::oauth2_managed) {
    add("connection", s.oauth2.connection);
  } else if (s.auth != auth_method::basic) {
    add("token_url", s.oauth2.token_url);
    add("client_id", s.oauth2.client_id);
    add("client_secret", secrets::identity(s.oauth2.client_secret));
    std::string scopes;
    for (const auto& sc : s.oauth2.scopes) scopes += sc + " ";
    add("scopes", scopes);
    add("token_ca_file", s.oauth2.token_ca_file);
  }
  if (s.smtp) {
    add("smtp.host", s.smtp->host);
    add("smtp.port", std::to_string(s.smtp->port));
    add("smtp.tls", tls_mode_name(s.smtp->tls));
    add("smtp.ca_file", s.smtp->ca_file);
    add("smtp.skip_verify", s.smtp->insecure_skip_verify ? "1" : "0");
    add("smtp.server_name", s.smtp->tls_server_name);
    add("smtp.username", s.smtp->own_credentials ? s.smtp->username : std::string("(session)"));
    add("smtp.password", secrets::identity(s.smtp->password));
  }
  if (s.ews) {
    add("ews.path", s.ews->path);
    add("ews.version", s.ews->version);
    add("ews.auth", ews_auth_name(s.ews->auth));
    add("ews.domain", s.ews->domain);
    add("ews.mailbox", s.ews->mailbox);
    add("ews.impersonate", s.ews->impersonate);
    // Only when set: fingerprints of URL sessions stay what they were.
    if (!s.ews->autodiscover_email.empty()) add("ews.autodiscover_email", s.ews->autodiscover_email);
  }
  if (s.graph) {
    // Identity only: the timeout and max_concurrent_requests are tuning (as EWS's timeout).
    add("graph.cloud", graph_cloud_name(s.graph->cloud));
    add("graph.service_root", s.graph->service_root);
    add("graph.mailbox", s.graph->mailbox);
  }
  return sha256_hex(canonical);
}

std::string first_difference(const session_spec& a, const session_spec& b) {
  auto diff = [](std::string_view field, const std::string& x, const std::string& y) {
    return std::string(field) + " ('" + x + "' vs '" + y + "')";
  };
  if (a.proto != b.proto) return diff("spec.protocol", std::string(protocol_name(a.proto)), std::string(protocol_name(b.proto)));
  if (a.host != b.host) return diff("spec.server.host", a.host, b.host);
  if (a.port != b.port) return diff("spec.server.port", std::to_string(a.port), std::to_string(b.port));
  if (a.tls != b.tls) return diff("spec.server.tls_mode", std::string(tls_mode_name(a.tls)), std::string(tls_mode_name(b.tls)));
  if (a.ca_file != b.ca_file) return diff("spec.server.tls.ca_file", a.ca_file, b.ca_file);
  if (a.insecure_skip_verify != b.insecure_skip_verify) return "spec.server.tls.insecure_skip_verify";
  if (a.tls_server_name != b.tls_server_name) return diff("spec.server.tls.server_name", a.tls_server_name, b.tls_server_name);
  // Graph's leg before the auth fields: its mailbox also fills in an empty username, and
  // the mailbox is what the caller chose.
  if (a.graph.has_value() != b.graph.has_value()) return a.graph ? "spec.graph (set vs unset)" : "spec.graph (unset vs set)";
  if (a.graph) {
    const auto &x = *a.graph, &y = *b.graph;
    if (x.cloud != y.cloud) {
      return diff("spec.graph.cloud", std::string(graph_cloud_name(x.cloud)), std::string(graph_cloud_name(y.cloud)));
    }
    if (x.service_root != y.service_root) return diff("spec.graph.base_url (service root)", x.service_root, y.service_root);
    if (x.mailbox != y.mailbox) return diff("spec.graph.mailbox", x.mailbox, y.mailbox);
  }
  if (a.auth != b.auth) return diff("spec.auth", std::string(auth_method_name(a.auth)), std::string(auth_method_name(b.auth)));
  const std::string f = auth_field(a) + ".";
  if (a.username != b.username) return diff(f + "username", a.username, b.username);
  if (secrets::identity(a.password) != secrets::identity(b.password)) return f + "password";
  if (a.oauth2.connection != b.oauth2.connection) return diff(f + "connection", a.oauth2.connection, b.oauth2.connection);
  if (a.oauth2.token_url != b.oauth2.token_url) return diff(f + "token_url", a.oauth2.token_url, b.oauth2.token_url);
  if (a.oauth2.client_id != b.oauth2.client_id) return diff(f + "client_id", a.oauth2.client_id, b.oauth2.client_id);
  if (secrets::identity(a.oauth2.client_secret) != secrets::identity(b.oauth2.client_secret)) return f + "client_secret";
  if (a.oauth2.scopes != b.oauth2.scopes) return f + "scopes";
  if (a.oauth2.token_ca_file != b.oauth2.token_ca_file) return f + "token_ca_file";
  if (a.smtp.has_value() != b.smtp.has_value()) return a.smtp ? "spec.smtp (set vs unset)" : "spec.smtp (unset vs set)";
  if (a.smtp) {
    const auto &x = *a.smtp, &y = *b.smtp;
    if (x.host != y.host) return diff("spec.smtp.server.host", x.host, y.host);
    if (x.port != y.port) return diff("spec.smtp.server.port", std::to_string(x.port), std::to_string(y.port));
    if (x.tls != y.tls) return diff("spec.smtp.server.tls_mode", std::string(tls_mode_name(x.tls)), std::string(tls_mode_name(y.tls)));
    if (x.ca_file != y.ca_file) return diff("spec.smtp.server.tls.ca_file", x.ca_file, y.ca_file);
    if (x.insecure_skip_verify != y.insecure_skip_verify) return "spec.smtp.server.tls.insecure_skip_verify";
    if (x.tls_server_name != y.tls_server_name) return diff("spec.smtp.server.tls.server_name", x.tls_server_name, y.tls_server_name);
    if (x.own_credentials != y.own_credentials) return "spec.smtp.basic (set vs unset)";
    if (x.username != y.username) return diff("spec.smtp.basic.username", x.username, y.username);
    if (secrets::identity(x.password) != secrets::identity(y.password)) return "spec.smtp.basic.password";
  }
  if (a.ews.has_value() != b.ews.has_value()) return a.ews ? "spec.ews (set vs unset)" : "spec.ews (unset vs set)";
  if (a.ews) {
    const auto &x = *a.ews, &y = *b.ews;
    if (x.autodiscover_email != y.autodiscover_email) {
      return diff("spec.ews.autodiscover_email", x.autodiscover_email, y.autodiscover_email);
    }
    if (x.path != y.path) return diff("spec.ews.url (path)", x.path, y.path);
    if (x.version != y.version) return diff("spec.ews.version", x.version, y.version);
    if (x.auth != y.auth) return diff("spec.ews.auth_scheme", std::string(ews_auth_name(x.auth)), std::string(ews_auth_name(y.auth)));
    if (x.domain != y.domain) return diff("spec.ews.domain", x.domain, y.domain);
    if (x.mailbox != y.mailbox) return diff("spec.ews.mailbox", x.mailbox, y.mailbox);
    if (x.impersonate != y.impersonate) return diff("spec.ews.impersonate", x.impersonate, y.impersonate);
  }
  return {};
}

}  // namespace mailbroker::session
