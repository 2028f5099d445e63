#pragma once
// The pure half of a connection test (connection_probe.hpp): turning what a connection
// went through (net::connection_trace, open()'s result) into named, timed steps, and
// choosing the sentence that tells the operator what to fix. No I/O: unit-tested with
// made-up traces (tests/unit/probe_steps_test.cpp).
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "net/connection_trace.hpp"
#include "session/session_spec.hpp"

namespace mailbroker::session {

// Longest server text (greeting, capability list) copied into a step's detail.
inline constexpr std::size_t max_step_detail = 200;

struct probe_step {
  std::string name;  // "dns", "tcp", "tls", ..., "smtp.auth" (connection_probe.hpp lists them)
  bool ok = true;
  std::chrono::microseconds duration{0};
  std::string detail;  // what was seen: an address, a TLS version and certificate, a count
  error failure;       // when !ok: code and message (never a secret)
  std::string fix;     // when !ok: one sentence saying what to change
};

// What the operator should change after a step failed. `cause` is the step's name
// without its "smtp." prefix, or "credentials" for a secret reference that could not
// be read; `smtp` picks the SMTP leg's field and flag names.
std::string fix_for(std::string_view cause, const error& e, bool smtp);

// How one protocol client's open() went.
struct open_observation {
  std::string prefix;  // "" for the main connection, "smtp." for the SMTP leg
  tls_mode tls = tls_mode::implicit;
  bool verify = true;  // certificate verification was on
  std::chrono::steady_clock::time_point finished{};  // open() returned
  error result;  // open()'s result
  // The server's greeting was accepted (the client keeps its text only then).
  bool greeted = false;
  std::string greeting;  // its text, as the client keeps it (cleaned and cut here)
  // A command followed the greeting (IMAP CAPABILITY when the greeting carried none,
  // POP3 CAPA, SMTP EHLO): it gets its own step, named `capability_step`.
  bool capability_exchange = true;
  std::string capability_step = "capabilities";
  std::string capabilities;  // summary for that step's detail (cleaned and cut here)
};

// Appends the steps `trace` and `o` show, in order: dns, tcp, then by TLS mode
// implicit:  tls, greeting[, capabilities]
// starttls:  greeting, starttls, capabilities
// plain:     greeting[, capabilities]
// each named with o.prefix. When open() failed, the step it failed in is the last one
// appended, with ok = false, the error and its fix; returns whether open() succeeded.
bool add_open_steps(const net::connection_trace& trace, const open_observation& o, std::vector<probe_step>& steps);

// "TLSv1.3, CN=mail.example.com, issuer CN=Example CA, expires 2027-01-05".
std::string describe_tls(const net::tls_peer_info& tls, bool verify);

}  // namespace mailbroker::session
