#pragma once
// POP3 server replies (RFC 1939, RFC 2449 CAPA and response codes, RFC 3206 SYS/AUTH
// codes, RFC 5034 SASL continuations) and pure helpers that read the common ones.
//
// Every helper is a pure function: no I/O, no state. Errors are values (`result<T>`)
// with code invalid_argument and a message that names what is wrong but contains no
// server bytes other than single characters and numbers, so it is safe to log.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mailbroker::pop3 {

enum class reply_type {
  ok,            // "+OK [[code]] [text]"
  err,           // "-ERR [[code]] [text]"
  continuation,  // "+ [base64]" or "+": a SASL challenge (RFC 5034), only during AUTH
};

struct reply {
  reply_type type = reply_type::ok;
  // The RFC 2449 response code without its brackets, ASCII upper-cased, e.g. "AUTH",
  // "SYS/TEMP", "IN-USE", "LOGIN-DELAY"; "" when there is none. Servers put them on -ERR
  // in practice, but the grammar (text = *schar / resp-code *CHAR) allows them after +OK
  // too, so both are read. Never set for continuations.
  std::string code;
  // The status line after the indicator (and after the code), without the separating
  // SP or the line end; for a continuation, the challenge (base64, not decoded).
  std::string text;
  // Multi-line replies read in buffered mode: the lines between the status line and the
  // terminating ".", dot-unstuffed, without their line ends. The message (RETR/TOP) is
  // every line followed by CRLF: see body(). Empty for single-line replies, -ERR and
  // streamed replies.
  std::vector<std::string> lines;

  bool ok() const { return type == reply_type::ok; }
  // `lines`, each followed by CRLF: the message as the server stored it (RETR/TOP).
  std::string body() const;
  bool operator==(const reply&) const = default;
};

// STAT: "+OK nn mm" (RFC 1939 5): message count and total size in octets. Text after
// "nn mm SP" is allowed and ignored. Errors: not +OK, missing or non-decimal numbers,
// numbers out of range (count > 2^32-1, size > 2^64-1).
struct maildrop_stat {
  std::uint32_t count = 0;
  std::uint64_t size = 0;
  bool operator==(const maildrop_stat&) const = default;
};
result<maildrop_stat> parse_stat(const reply& r);

// One scan listing: a line of a multi-line LIST reply, or the text of "+OK" to "LIST n"
// ("msg size", RFC 1939 5). The message number is at least 1. Extra text after
// "msg size SP" is allowed (RFC 1939 permits it) and ignored. Separators are one SP.
struct scan_listing {
  std::uint32_t message = 0;
  std::uint64_t size = 0;
  bool operator==(const scan_listing&) const = default;
};
result<scan_listing> parse_scan_listing(std::string_view line);

// One unique-id listing: a line of a multi-line UIDL reply, or the text of "+OK" to
// "UIDL n" ("msg uid", RFC 1939 7). The uid is 1..70 characters in 0x21..0x7E and is
// compared byte-wise (it is case-sensitive). Nothing may follow the uid.
struct unique_id_listing {
  std::uint32_t message = 0;
  std::string uid;
  bool operator==(const unique_id_listing&) const = default;
};
result<unique_id_listing> parse_unique_id_listing(std::string_view line);

// What a CAPA reply (RFC 2449 5) advertises. Capability names are case-insensitive:
// they are stored upper-cased; arguments are kept as sent, except SASL mechanism
// names, which are upper-cased too.
struct capabilities {
  std::vector<std::string> names;            // every capability name, upper-cased, in order
  std::vector<std::string> sasl_mechanisms;  // from "SASL PLAIN XOAUTH2 ..." (RFC 5034)
  bool stls = false;                         // RFC 2595
  bool top = false;
  bool uidl = false;
  bool user = false;
  bool pipelining = false;
  bool resp_codes = false;
  bool auth_resp_code = false;  // RFC 3206
  std::string implementation;   // the IMPLEMENTATION argument, "" if absent; server text
  bool operator==(const capabilities&) const = default;

  // Whether `mechanism` is in sasl_mechanisms, ASCII case-insensitively.
  bool has_sasl(std::string_view mechanism) const;
};

// Reads the lines of a multi-line CAPA reply (reply::lines). Each line is a name of 1..
// printable ASCII characters (no SP), optionally followed by SP-separated arguments.
// Errors: an empty line, a line starting with SP, or a name containing a control or
// 8-bit byte (the error names the 1-based line number).
result<capabilities> parse_capabilities(const std::vector<std::string>& lines);

}  // namespace mailbroker::pop3
