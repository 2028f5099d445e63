#pragma once
// Helpers for building IMAP commands (RFC 3501 / RFC 9051 section 9 grammar).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailbroker::imap {

// Quoted-string form of `s`: '"' + s with '\' and '"' backslash-escaped + '"'. Returns
// nullopt when `s` cannot be sent as a quoted string: it contains CR, LF, NUL or any byte
// >= 0x80. The caller then uses a literal or AUTHENTICATE. Other control characters
// (e.g. TAB) are allowed by the grammar and kept. "" gives "\"\"".
std::optional<std::string> quote(std::string_view s);

// `s` as an IMAP astring: `s` itself when it is non-empty and every byte is an ATOM-CHAR
// (no "(){ %*\"\\]", no CTL, no space, no byte >= 0x80), else quote(s); nullopt as for
// quote(). "NIL" in any case is quoted too, so that it can never be read as nil.
std::optional<std::string> astring(std::string_view s);

// Command tags "A0001", "A0002", ...; the number widens past 9999 ("A10000") and wraps
// to "A0000" after 2^32 - 1 tags. Not thread-safe.
class tag_generator {
 public:
  // Returns a fresh tag.
  std::string next();

 private:
  std::uint32_t n_ = 0;
};

// Whether `caps` (as from capabilities_of) contains `cap`, compared ASCII
// case-insensitively as a whole atom ("AUTH=PLAIN" does not match "AUTH").
bool has_capability(const std::vector<std::string>& caps, std::string_view cap);

// Whether `command` (without tag) changes what the server stores: STORE, COPY, MOVE,
// EXPUNGE, APPEND, CREATE, DELETE, RENAME (with or without "UID "), compared ASCII
// case-insensitively. Once such a command has been written, a connection lost before
// its tagged reply leaves its outcome unknown (client::execute() reports aborted).
bool changes_mailbox(std::string_view command);

}  // namespace mailbroker::imap
