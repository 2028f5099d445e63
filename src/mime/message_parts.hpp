#pragma once
// A raw RFC 5322 message split into what a bot reads: decoded headers, addresses, the
// text and HTML bodies as UTF-8, and a list of attachments whose bytes can be streamed
// out one at a time. Pure (bytes in, values out); GMime 3 does the MIME parsing and is
// tolerant the way mail clients are (missing final boundaries, bad line ends, raw 8-bit).
//
// Threading: safe from any thread; nothing is shared between calls.
// Memory: GMime holds a copy of `raw` plus its parse tree (≈ 2-3 × raw) for the duration
// of one call; there is no size cap here — the caller bounds the message size (e.g. the
// IMAP fetch limit). The only structural limit is max_mime_depth.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mailbroker::mime {

// Multiparts nested deeper than this are refused (invalid_argument), not truncated: a
// legitimate message rarely exceeds 5 levels; hostile ones nest to exhaust the stack.
inline constexpr int max_mime_depth = 50;

struct mailbox_address {
  std::string name;     // display name, UTF-8 (RFC 2047 decoded, quoting removed); may be ""
  std::string address;  // "local@domain" as written
};

// Decoded header text (values, subject, display names) never contains CR or LF: line
// breaks decoded out of encoded words become spaces, so the text is safe to copy into a
// reply's headers.
struct header_field {
  std::string name;   // as written, e.g. "X-Mailer"
  std::string value;  // unfolded, RFC 2047 decoded, UTF-8
};

struct attachment_info {
  std::string part_id;       // IMAP BODY[section] numbering: "1" for a single-part message,
                             // "2", "2.1" … inside multiparts; stable for the same bytes
  std::string filename;      // RFC 2231 / RFC 2047 decoded, UTF-8; "" if none. As sent:
                             // may contain '/' — sanitise before using it as a path.
  std::string content_type;  // lower-case "type/subtype", e.g. "application/pdf"
  std::string content_id;    // without the angle brackets (what "cid:" URLs name); "" if none
  bool is_inline = false;    // Content-Disposition inline, or none but a Content-ID
  std::uint64_t size = 0;    // decoded bytes (what extract_attachment hands out)
};

struct parsed_message {
  std::vector<header_field> headers;  // top-level header fields, in order
  std::string subject;
  // Message ids keep their angle brackets ("<id@host>"), as they are written in
  // In-Reply-To / References, so they can be copied into a reply unchanged.
  std::string message_id;
  std::string in_reply_to;              // the first id of In-Reply-To
  std::vector<std::string> references;  // References, oldest first
  // Group syntax ("team: a@x, b@y;") is flattened to its members.
  std::vector<mailbox_address> from, to, cc, reply_to;
  std::optional<std::chrono::system_clock::time_point> date;  // absent if missing/unparseable
  // The first text/plain and the first text/html that are not attachments, wherever
  // they sit (multipart/alternative, related, mixed, nested). Converted to UTF-8 from the
  // declared charset; line ends normalised to "\n". See decode rules in message_parts.cpp.
  std::string text_body;
  std::string html_body;
  // Everything else that is a leaf: Content-Disposition attachment, a filename, a
  // non-text type, or a text part that did not become a body (a second text/plain,
  // text/calendar …) — listed, never dropped. An attached message/rfc822 is one entry
  // (filename: its own, else its subject + ".eml", else "message.eml").
  std::vector<attachment_info> attachments;
};

// invalid_argument when GMime cannot find a message at all (no header block: empty input,
// plain text) or the MIME structure is nested deeper than max_mime_depth. Everything else
// malformed is parsed as well as GMime can, like a mail client would.
result<parsed_message> parse_message(std::string_view raw);

// Streams the decoded bytes of leaf part `part_id` (any leaf: an attachment or a body
// part) to `sink` in chunks of exactly `chunk_bytes` bytes except the last, which may be
// shorter; `sink` is not called for an empty part. A message/rfc822 part gives the
// embedded message as GMime writes it back (its headers and bodies as sent).
// Stops at and returns the first error `sink` returns. Errors: invalid_argument for
// chunk_bytes == 0 or an unparseable message; not_found naming `part_id` when there is no
// such part or it is a multipart container.
error extract_attachment(std::string_view raw, std::string_view part_id, std::size_t chunk_bytes,
                         const std::function<error(std::string_view)>& sink);

}  // namespace mailbroker::mime
