#pragma once
// SMTP command lines (RFC 5321 4.1, RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 1870 SIZE,
// RFC 6152 8BITMIME, RFC 6531 SMTPUTF8), CRLF included.
//
// Builders with arguments return result<std::string>; on invalid_argument the message
// names the field (the caller may pass a name such as "recipient 2") and the reason, and
// never contains the value. Nothing here knows the session state or what the server
// advertised: the caller only asks for SIZE, BODY=8BITMIME or SMTPUTF8 when the EHLO
// reply offered them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::smtp {

// "EHLO domain" / "HELO domain". `domain` is a host name (labels of A-Z a-z 0-9 '-',
// separated by single dots, 1..255 characters) or an address literal "[...]" of printable
// ASCII without SP, '[' or ']' inside (e.g. "[192.0.2.1]", "[IPv6:2001:db8::1]").
result<std::string> ehlo_command(std::string_view domain);
result<std::string> helo_command(std::string_view domain);

std::string starttls_command();

// "AUTH mechanism [initial-response]" (RFC 4954 4). `mechanism`: 1..20 of A-Z 0-9 - _
// (lower case accepted, sent upper-cased). `initial_response` holds raw bytes, base64-
// encoded here; an empty one is sent as "=". RFC 4954 lets the line grow to 12288
// octets for it; longer gives invalid_argument.
result<std::string> auth_command(std::string_view mechanism, std::optional<std::string_view> initial_response);
// The answer to a 334 challenge: base64 of the raw bytes + CRLF (may be an empty line).
std::string sasl_response(std::string_view response);
// "*": cancels the AUTH exchange (RFC 4954 4).
std::string sasl_cancel();

// Parameters of MAIL FROM (ESMTP extensions); the caller decides based on the EHLO reply.
struct mail_parameters {
  std::optional<std::uint64_t> size;  // SIZE=n (RFC 1870), the message size estimate
  bool body_8bitmime = false;         // BODY=8BITMIME (RFC 6152)
  bool smtputf8 = false;              // SMTPUTF8 (RFC 6531): allows non-ASCII addresses
};

// "MAIL FROM:<reverse-path>[ params]". An empty `reverse_path` gives "MAIL FROM:<>"
// (the null sender of bounces). Addresses are given without angle brackets and checked
// as described at check_address(), under the field name "sender".
result<std::string> mail_command(std::string_view reverse_path, const mail_parameters& params = {});

// "RCPT TO:<forward-path>". `smtputf8` allows non-ASCII (it must match the MAIL
// command's); `field` names the address in errors, e.g. "recipient 2".
result<std::string> rcpt_command(std::string_view forward_path, bool smtputf8 = false,
                                 std::string_view field = "recipient");

std::string data_command();
std::string rset_command();
std::string noop_command();
std::string quit_command();

// Checks one mailbox for MAIL/RCPT. Refused (invalid_argument "<field> ..."):
//   - empty (MAIL's null path is handled by mail_command, not here),
//   - CR, LF, NUL or any other control character (command injection),
//   - SP, '<' or '>' (no quoted local parts with spaces: rare, and easy to misuse),
//   - no '@', an empty local part or domain (except "postmaster", RFC 5321 4.1.1.3),
//   - local part over 64 octets, domain over 255, path over 256 with its brackets
//     (RFC 5321 4.5.3.1),
//   - bytes >= 0x80 unless `smtputf8` (the UTF-8 itself is not validated: the server
//     does that).
error check_address(std::string_view address, bool smtputf8, std::string_view field);

}  // namespace mailbroker::smtp
