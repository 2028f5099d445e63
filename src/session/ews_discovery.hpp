#pragma once
// EWS sessions configured by mailbox address (spec.ews.autodiscover_email, no url): the
// EWS URL is found with POX Autodiscover (protocol/ews/autodiscover_client.hpp) when the
// session first logs in, with the session's own credentials, and kept for its reconnects.
//
// Security: Autodiscover sends the credentials to every candidate host it asks
// (<domain>, autodiscover.<domain>, and wherever redirects lead within the rules of
// autodiscover_policy.hpp), then to the EWS host it found. A daemon-side secret (vault,
// env:, file:, a managed OAuth2 connection) is bound to hosts, and which hosts those
// are only becomes known here, at run time: so every host is passed to the session's
// destination_check before anything is sent to it. Inline secrets (the caller's own)
// are restricted by vet_ews_url() alone.
//
// Threading: on the session's strand (the upstreams of one session all run there).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/http_authenticator.hpp"
#include "net/http_message.hpp"
#include "session/session_spec.hpp"

namespace mailbroker::session {

// May the session's daemon-side secrets be sent to host:port? error::none() when yes;
// otherwise permission_denied naming the field, the secret (by reference, never its
// value) and the host. Asked on the session's strand; must not block.
using destination_check = std::function<error(const std::string& host, std::uint16_t port)>;

// Tests only (daemon config `ews-autodiscover-connect-to`): connect to `to_host`:`to_port`
// (a loopback address) whenever `host`:`port` is asked for, as curl --resolve does; the
// name still goes in SNI, the certificate check and Host.
struct connect_override {
  std::string host;  // lower case
  std::uint16_t port = 0;
  std::string to_host;
  std::uint16_t to_port = 0;
};
using connect_overrides = std::vector<connect_override>;

// At most this many entries in one ews-autodiscover-connect-to value.
inline constexpr std::size_t max_connect_overrides = 32;

// Parses "HOST:PORT=IP:PORT[,HOST:PORT=IP:PORT...]" (HOST a DNS name; IP 127.x.y.z or
// [::1]). Errors: invalid_argument naming `field`: the syntax, a port out of 1..65535,
// a target that is not a loopback IP literal (this hook must never send credentials
// anywhere but the test machine), more than max_connect_overrides entries.
result<connect_overrides> parse_connect_overrides(std::string_view text, std::string_view field);
// The same syntax back (for --print-config).
std::string render_connect_overrides(const connect_overrides& overrides);
// Where to connect instead for host:port, or nullopt.
std::optional<net::http_endpoint> override_for(const connect_overrides* overrides, const std::string& host,
                                               std::uint16_t port);

// What Autodiscover found for one session, kept across its reconnects (its upstreams
// come and go; this stays with the session).
struct ews_found_endpoint {
  std::string url;                 // https://host:port/path; "" = nothing found yet
  std::vector<std::string> tried;  // what the discovery that found it asked
};

// What a session's EWS upstream needs for Autodiscover; part of session_settings and
// upstream_options. Unused by sessions configured with spec.ews.url.
struct ews_discovery_hooks {
  // Per session (the registry asks registry_settings::destination_checks). Null: a
  // spec with a daemon-side secret is refused (fail closed); inline secrets go on.
  destination_check check_destination;
  std::shared_ptr<const connect_overrides> connect_to;  // daemon-wide; tests only; may be null
  std::shared_ptr<ews_found_endpoint> found;            // per session; null: nothing is kept
};

// The whole of one discovery (every request and redirect) ends within this.
inline constexpr std::chrono::seconds max_autodiscover_duration{60};

// Whether `spec` (normalised) finds its EWS URL by Autodiscover.
bool uses_autodiscover(const session_spec& spec);

// Whether `spec` sends a daemon-side secret (or a token bought with one) to the mail
// server: a vault / env / file reference or a managed OAuth2 connection.
bool sends_daemon_side_secret(const session_spec& spec);

// A fresh authenticator holding the session's credentials, for one HTTP connection
// (NTLM is bound to its connection).
using authenticator_factory = std::function<std::shared_ptr<net::http_authenticator>()>;

struct ews_endpoint {
  std::string url;  // https://host:port/path, as found
  net::http_endpoint endpoint;
  std::string path;                // e.g. /EWS/Exchange.asmx
  std::string connect_host;        // tests: where to connect instead ("" = endpoint.host)
  std::uint16_t connect_port = 0;  // 0 = endpoint.port
  bool discovered_now = false;     // false: hooks.found's URL from an earlier connect
};

// The EWS endpoint of `spec` (uses_autodiscover()): hooks.found's URL when one was found
// before and `rediscover` is false, otherwise discover_ews_url() with authenticators
// from `make`; then remembered in hooks.found. Every host credentials would go to is
// first passed to hooks.check_destination: each Autodiscover request's host (a refusal
// fails that request, so the refused host receives nothing) and the EWS host found
// (checked again on every reconnect: the daemon's rules may have been reloaded).
// Errors: discover_ews_url()'s (the message lists every URL asked and why it failed);
// permission_denied from check_destination for the EWS host, or when a daemon-side
// secret has no check (fail closed); invalid_argument for a spec without Autodiscover.
awaitable<result<ews_endpoint>> find_ews_endpoint(session_spec spec, std::shared_ptr<asio::ssl::context> tls,
                                                  authenticator_factory make, ews_discovery_hooks hooks,
                                                  bool rediscover);

}  // namespace mailbroker::session
