#pragma once
// POP3 command lines (RFC 1939, RFC 2449, RFC 5034 AUTH, RFC 2595 STLS), CRLF included.
//
// Builders with arguments return result<std::string>: invalid_argument, with a message
// naming the argument (never its value, which may be a password), when an argument
//   - contains CR, LF or NUL (it would end the command early: command injection),
//   - contains SP where the command takes a single word (USER, AUTH mechanism),
//   - makes the line longer than max_command_bytes (RFC 2449 4: 255 octets including
//     CRLF; RFC 1939's 40-character argument limit is superseded by it and not checked,
//     so that long passwords work),
//   - is a message number 0 (messages are numbered from 1).
// Argument-free commands cannot fail and return std::string. Nothing here knows the
// session state: sending USER after STLS, for example, is the caller's business.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::pop3 {

inline constexpr std::size_t max_command_bytes = 255;

// "USER name": name is 1+ bytes with no SP or control character (8-bit allowed: the
// server decides).
result<std::string> user_command(std::string_view name);
// "PASS password": spaces are allowed (RFC 1939 7 says the server may treat them as part
// of the password); an empty password is refused. The result contains the password.
result<std::string> pass_command(std::string_view password);

// "AUTH mechanism [initial-response]" (RFC 5034 4). `mechanism` is a SASL name
// (RFC 4422: 1..20 of A-Z 0-9 - _; lower case is accepted and sent upper-cased).
// `initial_response` holds the raw bytes; they are base64-encoded here and an empty one
// is sent as "=". Without it the server answers with a "+ " challenge. When the
// resulting line would exceed max_command_bytes the RFC forbids sending the initial
// response: this returns failed_precondition and the caller sends AUTH without it and
// answers the first challenge with sasl_response().
result<std::string> auth_command(std::string_view mechanism, std::optional<std::string_view> initial_response);
// The client's answer to a "+ " challenge: base64 of the raw `response` bytes + CRLF
// ("" encodes as an empty line). Not subject to the 255-octet limit. Cannot fail.
std::string sasl_response(std::string_view response);
// "*": cancels an AUTH exchange (RFC 5034 4).
std::string sasl_cancel();

std::string stat_command();
std::string list_command();                                                   // multi-line reply
result<std::string> list_command(std::uint32_t message);                      // single-line reply
std::string uidl_command();                                                   // multi-line reply
result<std::string> uidl_command(std::uint32_t message);                      // single-line reply
result<std::string> top_command(std::uint32_t message, std::uint32_t lines);  // multi-line; lines may be 0
result<std::string> retr_command(std::uint32_t message);                      // multi-line reply
result<std::string> dele_command(std::uint32_t message);
std::string noop_command();
std::string rset_command();
std::string quit_command();
std::string capa_command();  // multi-line reply
std::string stls_command();

}  // namespace mailbroker::pop3
