#pragma once
// What one connection went through, phase by phase: when the name resolved, when TCP
// connected, when the TLS handshake began and ended, when the first bytes arrived, and
// who the TLS peer said it was. mail_stream fills it when one is attached
// (mail_stream::set_trace); a connection test (session/connection_probe.hpp) turns it
// into timed steps. Streams without a trace record nothing and pay one null check.
//
// Every text here comes from the network (addresses, certificate names) and is cleaned
// (common/text.hpp) and cut to max_trace_text bytes before it is stored.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

typedef struct ssl_st SSL;

namespace mailbroker::net {

// Longest certificate name kept (subject, issuer): enough for any sane DN.
inline constexpr std::size_t max_trace_text = 256;
// Resolved addresses kept (a name may resolve to dozens).
inline constexpr std::size_t max_traced_addresses = 4;

// The TLS session as the client saw it, filled once the server's certificate arrived —
// also when it did not verify (then from the chain the server sent).
struct tls_peer_info {
  std::string version;    // "TLSv1.3"; "" before the handshake completed
  std::string subject;    // RFC 2253, e.g. "CN=mail.example.com,O=Example"
  std::string issuer;     // RFC 2253
  std::string not_after;  // expiry, UTC, "2027-01-05"; "" when unknown
};

struct connection_trace {
  using time_point = std::chrono::steady_clock::time_point;

  time_point started{};                 // connect() began (resolving)
  std::optional<time_point> resolved;   // the resolver answered with addresses
  std::vector<std::string> addresses;   // at most max_traced_addresses, in resolver order
  std::size_t address_count = 0;        // how many the resolver returned
  std::optional<time_point> connected;  // a TCP connection was established
  std::string endpoint;                 // the address that answered, "127.0.0.1:993", "[::1]:993"
  std::optional<time_point> tls_started;  // the TLS handshake began (implicit or after STARTTLS)
  std::optional<time_point> tls_done;     // ... and completed
  tls_peer_info tls;
  std::optional<time_point> first_byte;   // the first bytes were read (the greeting)
};

// Fills `out` from a handshaken (or failed) SSL object: version, and the leaf
// certificate's subject, issuer and notAfter. Leaves fields it cannot learn empty.
void read_tls_peer(SSL* ssl, tls_peer_info& out);

}  // namespace mailbroker::net
