#pragma once
// SessionSpec in core form: what a session connects to and how, validated and
// normalised (defaults applied, host lower-cased) so that two specs for the same
// connection have the same fingerprint.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "secrets/secret_ref.hpp"

namespace mailbroker::session {

enum class protocol { imap, pop3, smtp, ews };
enum class tls_mode { implicit, starttls, plain };
enum class auth_method { none, basic, oauth2_client_credentials };
enum class oauth2_provider { unspecified, microsoft, google, yahoo, msn, custom };
enum class azure_cloud { global, us_gcc_high };

// OAuth2 client credentials. After normalise(), token_url and scopes are filled in from
// the provider preset when not given.
struct oauth2_settings {
  oauth2_provider provider = oauth2_provider::unspecified;
  std::string tenant_id;
  azure_cloud cloud = azure_cloud::global;
  std::string client_id;
  secrets::secret_ref client_secret;
  std::string token_url;
  std::vector<std::string> scopes;
  std::string token_ca_file;
};

std::string_view protocol_name(protocol p);
std::string_view tls_mode_name(tls_mode m);
std::string_view auth_method_name(auth_method m);

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
  secrets::secret_ref password;   // basic
  oauth2_settings oauth2;         // oauth2_client_credentials

  // Tuning: not part of the fingerprint.
  std::chrono::seconds keepalive{0};              // 0 = default
  std::chrono::milliseconds connect_timeout{0};   // 0 = default
  std::optional<std::chrono::seconds> linger;     // unset = daemon default
};

inline constexpr std::size_t max_session_name_length = 128;
inline constexpr std::chrono::seconds default_keepalive{60};
inline constexpr std::chrono::seconds min_keepalive{5};
// RFC 3501 5.4: servers may drop clients idle for 30 minutes; stay under it.
inline constexpr std::chrono::seconds max_keepalive{1740};
inline constexpr std::chrono::milliseconds default_connect_timeout{15000};
inline constexpr std::chrono::milliseconds max_connect_timeout{300000};
inline constexpr std::chrono::seconds max_linger{86400};

// 1..128 characters from [A-Za-z0-9._-]. Errors: invalid_argument naming `session`.
error validate_session_name(std::string_view name);

// Checks every field and applies defaults. `spec.port` out of range cannot be
// represented here, so callers pass the raw port to check. Errors: invalid_argument
// naming the field (e.g. "spec.server.host is required"), unimplemented for protocols
// not built yet.
result<session_spec> normalise(session_spec spec, std::uint32_t raw_port);

// Hex digest over the identity fields (see the proto's SessionSpec comment).
std::string fingerprint(const session_spec& spec);

// Names the first identity field in which `a` and `b` differ, e.g.
// "spec.server.port (993 vs 143)"; secrets only by name ("spec.auth.basic.password").
// Empty when they match.
std::string first_difference(const session_spec& a, const session_spec& b);

}  // namespace mailbroker::session
