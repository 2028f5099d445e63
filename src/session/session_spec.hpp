#pragma once
// SessionSpec in core form: what a session connects to and how, validated and
// normalised (defaults applied, host lower-cased) so that two specs for the same
// connection have the same fingerprint.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "secrets/secret_ref.hpp"

namespace mailbroker::session {

enum class protocol { imap, pop3, smtp, ews, graph };
// How many protocols there are: arrays indexed by protocol are this long.
inline constexpr std::size_t protocol_count = static_cast<std::size_t>(protocol::graph) + 1;
enum class tls_mode { implicit, starttls, plain };
// oauth2_password: RFC 6749 4.3 (ROPC): `username` and `password` go to the token
// endpoint, the access token to the mail server.
enum class auth_method { none, basic, oauth2_client_credentials, oauth2_authorization_code, oauth2_managed, oauth2_password };
enum class oauth2_provider { unspecified, microsoft, google, yahoo, msn, custom };
enum class azure_cloud { global, us_gcc_high };

// `password` is only for auth_method::oauth2_password (managed connections do not offer it).
enum class oauth2_grant { client_credentials, authorization_code, password };
enum class oauth2_token_type { shared, per_user };

// OAuth2 settings of a session (or of a managed connection). After normalise(),
// token_url, authorize_url, scopes and redirect_uri are filled in from the provider
// preset when not given.
struct oauth2_settings {
  oauth2_provider provider = oauth2_provider::unspecified;
  std::string tenant_id;
  azure_cloud cloud = azure_cloud::global;
  std::string client_id;
  secrets::secret_ref client_secret;  // optional for authorization_code and password (public client)
  std::string token_url;
  std::vector<std::string> scopes;
  std::string token_ca_file;
  // authorization code (+ refresh token)
  std::string authorize_url;
  std::string redirect_uri;
  secrets::secret_ref refresh_token;  // optional starting refresh token
  // oauth2_managed: the connection's name; the rest is copied from it by normalise().
  std::string connection;
  oauth2_grant grant = oauth2_grant::client_credentials;
  oauth2_token_type token_type = oauth2_token_type::shared;
};

// An OAuth2 connection defined in the daemon's config, referenced by sessions by name.
struct managed_connection {
  std::string name;
  oauth2_settings settings;  // grant and token_type included
  std::string username;      // default mailbox user (shared connections)
  // Mail servers its tokens may be sent to ("HOST" or "HOST:PORT", globs): provider
  // presets fill it in when the config does not (oauth2-connection.NAME.allowed-hosts).
  std::vector<std::string> allowed_hosts;
};
using managed_connections = std::map<std::string, managed_connection>;

std::string_view protocol_name(protocol p);
std::string_view tls_mode_name(tls_mode m);
std::string_view auth_method_name(auth_method m);

// SMTP submission next to a session's IMAP or POP3 connection (SessionSpec.smtp).
struct smtp_leg {
  std::string host;
  std::uint32_t port = 0;  // 0 = 465 implicit, 587 otherwise (checked by normalise())
  tls_mode tls = tls_mode::implicit;
  std::string ca_file;
  bool insecure_skip_verify = false;
  std::string tls_server_name;
  bool allow_plaintext = false;
  // Basic credentials of its own; false = the session's auth (same user, password or token).
  bool own_credentials = false;
  std::string username;
  secrets::secret_ref password;
};

// Exchange Web Services (SessionSpec.ews). normalise() fills session_spec host, port and
// tls from `url` and checks every field. With autodiscover_email instead of url, host,
// port and path stay empty (tls implicit): the session finds the URL when it connects
// (session/ews_discovery.hpp).
enum class ews_auth { ntlm, basic, bearer };
std::string_view ews_auth_name(ews_auth a);

struct ews_leg {
  std::string url;        // as given, e.g. https://mail.example.com/EWS/Exchange.asmx
  std::string path;       // after normalise(): the URL's path, e.g. /EWS/Exchange.asmx
  std::string autodiscover_email;  // instead of url; after normalise(): domain lower case
  std::string version;    // RequestServerVersion name; "" → Exchange2013_SP1
  ews_auth auth = ews_auth::ntlm;  // normalise(): bearer for the OAuth2 methods
  bool auth_given = false;         // the request named a scheme (checked against auth)
  std::string domain;
  std::string mailbox;     // shared / delegate mailbox
  std::string impersonate; // ExchangeImpersonation
  std::chrono::seconds timeout{0};  // 0 → 10 s; 10..60
};

inline constexpr std::chrono::seconds default_ews_timeout{10};
inline constexpr std::chrono::seconds min_ews_timeout{10};
inline constexpr std::chrono::seconds max_ews_timeout{60};

// Microsoft Graph (SessionSpec.graph). normalise() fills session_spec host (lower case),
// port (443 unless base_url names one) and tls (implicit for https; plain for http, which
// needs allow_plaintext) from the cloud's service root (or base_url), requires an OAuth2
// auth method (basic and none are refused) and, for provider Microsoft, fills in the
// scopes when none are given: client credentials "<graph>/.default"; authorization code
// Mail.ReadWrite, Mail.Send and offline_access on the cloud's Graph host; the password
// grant the same without offline_access (it signs in again, as its IMAP preset does).
// Managed connections keep the scopes of their config. The mailbox user is `mailbox`:
// spec.username is not required and, when empty, becomes `mailbox`; app-only tokens
// (client credentials, also through a managed connection) need a mailbox. Also refused:
// spec.server host / port, spec.ews, spec.smtp (Graph sends itself), a cloud that
// disagrees with the Microsoft OAuth2 settings' cloud.
enum class graph_cloud { global, us_gcc_high, custom };
std::string_view graph_cloud_name(graph_cloud c);

struct graph_leg {
  // normalise(): when not given, from oauth2.cloud for provider Microsoft (us_gcc_high →
  // us_gcc_high), else global. Given with provider Microsoft, it must match oauth2.cloud
  // (custom matches any).
  graph_cloud cloud = graph_cloud::global;
  bool cloud_given = false;  // the request named a cloud (checked against oauth2.cloud)
  std::string base_url;      // custom only (required there), as given; after normalise(): without a trailing '/'
  std::string service_root;  // after normalise(): e.g. https://graph.microsoft.com/v1.0 (fingerprinted)
  // "" = /me; else /users/{mailbox} (graph::mailbox_root() rules). Lower-cased by
  // normalise() when it is an address (holds '@'), so fingerprints match.
  std::string mailbox;
  std::chrono::seconds timeout{0};  // 0 → 30 s; 10..120; also spec.connect_timeout; tuning, not in the fingerprint
  std::uint32_t max_concurrent_requests = 0;  // 0 → 4; 1..16; tuning, not in the fingerprint
};

inline constexpr std::chrono::seconds default_graph_timeout{30};
inline constexpr std::chrono::seconds min_graph_timeout{10};
inline constexpr std::chrono::seconds max_graph_timeout{120};
// Exchange Online's limit of concurrent requests per app and mailbox.
inline constexpr std::uint32_t default_graph_concurrency = 4;
inline constexpr std::uint32_t max_graph_concurrency = 16;

struct session_spec {
  protocol proto = protocol::imap;
  std::string host;
  std::uint16_t port = 0;  // 0 = protocol default for the TLS mode
  tls_mode tls = tls_mode::implicit;
  std::string ca_file;
  bool insecure_skip_verify = false;
  std::string tls_server_name;
  bool allow_plaintext = false;

  auth_method auth = auth_method::none;
  std::string username;           // basic and OAuth2: the mailbox user
  secrets::secret_ref password;   // basic, oauth2_password (the user's password)
  oauth2_settings oauth2;         // every oauth2_* method

  std::optional<smtp_leg> smtp;   // part of the fingerprint
  std::optional<ews_leg> ews;     // PROTOCOL_EWS only; part of the fingerprint
  std::optional<graph_leg> graph; // PROTOCOL_GRAPH only; part of the fingerprint (not its tuning)

  // Tuning: not part of the fingerprint.
  std::chrono::seconds keepalive{0};              // 0 = default
  std::chrono::milliseconds connect_timeout{0};   // 0 = default
  std::optional<std::chrono::seconds> linger;     // unset = daemon default
  std::chrono::seconds poll_interval{0};          // 0 = default
  // IMAP: connections the session may hold (the main one + extras for reads); 0 = 1,
  // capped per provider by normalise() (max_connections_for_host).
  std::uint32_t max_connections = 0;
  // IMAP: after a ListMessages page, bring up to this many bytes of its messages' bodies
  // into the message cache (SessionSpec.read_ahead_bytes); 0 = off.
  std::uint32_t read_ahead_bytes = 0;
};

inline constexpr std::size_t max_session_name_length = 128;
inline constexpr std::chrono::seconds default_keepalive{60};
inline constexpr std::chrono::seconds min_keepalive{5};
// RFC 3501 5.4: servers may drop clients idle for 30 minutes; stay under it.
inline constexpr std::chrono::seconds max_keepalive{1740};
inline constexpr std::chrono::milliseconds default_connect_timeout{15000};
inline constexpr std::chrono::milliseconds max_connect_timeout{300000};
inline constexpr std::chrono::seconds max_linger{86400};
inline constexpr std::chrono::seconds default_poll_interval{30};
inline constexpr std::chrono::seconds max_poll_interval{3600};
inline constexpr std::uint32_t max_max_connections = 32;
inline constexpr std::uint32_t max_read_ahead_bytes = 16u << 20;

// The most IMAP connections a session keeps to `host` (lower-cased): below the
// provider's per-mailbox limit where it is known (Gmail 15, Exchange Online 20), else
// max_max_connections.
std::uint32_t max_connections_for_host(std::string_view host);
// oauth2_password's username: an e-mail address at most (RFC 3696 errata: 64 + 1 + 255).
inline constexpr std::size_t max_oauth2_username_length = 320;

// 1..128 characters from [A-Za-z0-9._-]. Errors: invalid_argument naming `session`.
error validate_session_name(std::string_view name);

// Checks every field and applies defaults. `spec.port` out of range cannot be
// represented here, so callers pass the raw port to check. `connections` resolves
// oauth2_managed (nullptr: none configured). Errors: invalid_argument naming the field
// (e.g. "spec.server.host is required"), unimplemented for SMTP as the main protocol.
result<session_spec> normalise(session_spec spec, std::uint32_t raw_port,
                               const managed_connections* connections = nullptr);

// The auth part of normalise(): checks spec.auth and its fields, resolves a managed
// connection into spec.oauth2. `require_username` false skips the mailbox-user check of
// the OAuth2 methods (authorizing a shared managed connection needs no user).
// Errors: invalid_argument naming the field.
error normalise_auth(session_spec& spec, const managed_connections* connections, bool require_username = true);

// Checks and fills in one set of OAuth2 settings for `grant` (provider presets,
// redirect URI rules); `field` prefixes error messages. Used for session specs and for
// managed connections in the daemon config. The password grant is offered for
// Microsoft (work or school tenants: not "common" or "consumers") and custom servers;
// its Microsoft default scope is IMAP's (normalise_auth() picks the protocol's first).
error normalise_oauth2(oauth2_settings& o, oauth2_grant grant, const std::string& field);

// Where a session's refresh token is stored: "session:NAME" for
// oauth2_authorization_code, "managed:CONN" or "managed:CONN:USER" for managed
// connections with the authorization_code grant; "" when the session uses none.
std::string refresh_token_key(const session_spec& spec, std::string_view session_name);

// The request-field prefix of the spec's auth method, e.g. "spec.auth.basic".
std::string auth_field(const session_spec& spec);

// Where a session connects, for messages and the login gate's per-host admission:
// "host:port" ("[::1]:993"); for EWS by Autodiscover (host unknown until the session
// runs) "autodiscover:<mail domain>", so the sessions of one organisation share a queue.
std::string connection_target(const session_spec& spec);

// Hex digest over the identity fields (see the proto's SessionSpec comment).
std::string fingerprint(const session_spec& spec);

// Names the first identity field in which `a` and `b` differ, e.g.
// "spec.server.port (993 vs 143)"; secrets only by name ("spec.auth.basic.password").
// Empty when they match.
std::string first_difference(const session_spec& a, const session_spec& b);

}  // namespace mailbroker::session
