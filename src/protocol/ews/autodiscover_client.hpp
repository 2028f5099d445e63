#pragma once
// Finds a mailbox's EWS URL with POX Autodiscover (MS-OXDSCLI), for sessions configured
// with an address instead of spec.ews.url.
//
// Process (rules and their reasons in autodiscover_policy.hpp):
//   1. The candidates of the address's domain, in Microsoft's order:
//        https://<domain>/autodiscover/autodiscover.xml
//        https://autodiscover.<domain>/autodiscover/autodiscover.xml
//   2. Each gets the POX request (requests.hpp autodiscover_request) by POST, with the
//      session's credentials (Autodiscover asks for them), on a new connection that is
//      closed afterwards. The answer decides:
//        EwsUrl               checked by vet_ews_url(); accepted → done; refused → this
//                             candidate failed (the refusal is kept for the final error)
//        redirectAddr         start over with the new address: its domain's candidates
//                             replace the ones left
//        redirectUrl          POST the same request there (https only)
//        HTTP 301/302/307/308 POST the same request to Location (https only)
//        HTTP 401, another status, an HTML page, an Autodiscover <Error>, a transport
//        failure              this candidate failed; the next one is tried (a 401 on one
//                             URL does not prove the password wrong: Microsoft,
//                             "Handling Autodiscover error messages")
//   3. At most max_autodiscover_redirects redirects in all; the same URL asked twice for
//      the same address is a loop, which ends that candidate.
// Every URL asked and its outcome is recorded, so the final error (and Status) says what
// was tried and why each failed.
//
// Errors (the message lists every attempt: "1) https://...: <why>; 2) ..."):
//   invalid_argument     the address (field "email") or the options are unusable
//   failed_precondition  an Autodiscover server answered with an EWS URL that
//                        vet_ews_url() refused (the message names the host and says to
//                        set spec.ews.url); or more than max_autodiscover_redirects
//                        redirects; or every chain ended in a redirect loop
//   unauthenticated      no candidate succeeded and at least one refused the credentials
//                        (HTTP 401)
//   permission_denied    the authenticator factory refused every host it was asked for
//   deadline_exceeded    total_timeout expired, or every attempt timed out
//   unavailable          everything else: nothing answered with Autodiscover XML
// Rank when attempts failed differently: failed_precondition (a refused EWS URL), then
// unauthenticated, permission_denied, failed_precondition (loop), then unavailable.
//
// Limits: max_autodiscover_redirects; each response body at most
// max_autodiscover_body_bytes; each attempt's line in `tried` at most
// max_autodiscover_note_bytes; connect_timeout / request_timeout per request, all of it
// within total_timeout.
//
// No-secrets rule: nothing here logs. The credentials live in the authenticators;
// messages carry URLs only after they parsed as https URLs without userinfo, HTTP
// statuses, Autodiscover ErrorCodes (never the server's Message text) and our own
// transport errors.
//
// Threading: a coroutine on the caller's executor (the session's strand); it shares no
// state, so discoveries may run concurrently.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/http_authenticator.hpp"
#include "net/http_message.hpp"
#include "protocol/ews/autodiscover_policy.hpp"

namespace mailbroker::ews {

// Autodiscover answers are a few KiB (Exchange's, with every protocol, ~10 KiB).
inline constexpr std::size_t max_autodiscover_body_bytes = 1024 * 1024;
// One attempt's line in discovery::tried and the final error.
inline constexpr std::size_t max_autodiscover_note_bytes = 600;

struct discovery_options {
  std::shared_ptr<asio::ssl::context> tls;  // required (net::make_client_tls_context)
  bool verify_host = true;                  // the certificate must name the URL's host
  // Makes the authenticator for one connection to `where` (called once per request: NTLM
  // is bound to its connection). Required. An error refuses that host (the attempt fails
  // with it): the place to check where the credentials may be sent.
  std::function<result<std::shared_ptr<net::http_authenticator>>(const net::http_endpoint& where)> authenticator;
  std::chrono::milliseconds connect_timeout{10000};  // per request: DNS + TCP + TLS
  std::chrono::milliseconds request_timeout{30000};  // per request: write + whole response
  std::chrono::milliseconds total_timeout{60000};    // the whole discovery
  std::string user_agent = "mailbroker/0.1";
  // Tests only: where to connect for host:port instead (the host still goes in SNI, the
  // certificate check and Host; see http_connection_options::connect_host); nullopt
  // or an unset hook = DNS as usual.
  std::function<std::optional<net::http_endpoint>(const std::string& host, std::uint16_t port)> connect_to;
};

struct discovery {
  std::string ews_url;  // https, accepted by vet_ews_url()
  // Every request, in order: "https://example.com/autodiscover/autodiscover.xml: HTTP 404",
  // "... (for bob@example.net): redirectUrl to https://...", the last one "... : EwsUrl <url>".
  std::vector<std::string> tried;
};

// Finds the EWS URL for `email` as described above. `options` is taken by value (an
// awaitable starts lazily). Never throws.
awaitable<result<discovery>> discover_ews_url(std::string email, discovery_options options);

}  // namespace mailbroker::ews
