#pragma once
// Composing a message to send: RFC 5322 + MIME, written by GMime 3, ready for SMTP DATA
// (before dot-stuffing) or IMAP APPEND. Plus the reply / forward conventions mail
// clients follow, starting from a message parsed by parse_message.
//
// Threading: safe from any thread. Pure apart from the Message-ID's random bytes.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "mime/message_parts.hpp"

namespace mailbroker::mime {

struct attachment_data {
  std::string filename;      // UTF-8; non-ASCII names are RFC 2231-encoded by GMime
  std::string content_type;  // "type/subtype"; "" means application/octet-stream
  std::string data;          // the bytes, sent base64-encoded (so they come back byte-exact)
};

struct compose_request {
  mailbox_address from;
  std::vector<mailbox_address> to, cc, bcc, reply_to;
  std::string subject;
  std::string text_body;  // UTF-8; either or both of text_body / html_body (or neither)
  std::string html_body;  // UTF-8
  std::vector<attachment_data> attachments;
  std::string in_reply_to;              // "<id@host>", for replies
  std::vector<std::string> references;  // "<id@host>" each, oldest first
  std::optional<std::string> attached_message;  // forward as attachment: a raw RFC 5322 message
};

struct built_message {
  std::string raw;         // CRLF line ends only, every line <= 998 octets, 7-bit
  std::string message_id;  // "<random-hex@domain-of-from>", as in the Message-ID header
  // to + cc + bcc addresses, first spelling kept, duplicates (compared ASCII
  // case-insensitively) removed: the SMTP RCPT TO list.
  std::vector<std::string> envelope_recipients;
};

// Structure: text + html → multipart/alternative; attachments or an attached message →
// multipart/mixed around the body (the body first). Subject and display names are
// RFC 2047-encoded when not ASCII; Date is `now` in RFC 5322 form (UTC); MIME-Version
// 1.0. Text parts are UTF-8, 7bit when plain ASCII with short lines, else
// quoted-printable; their line ends (LF, CRLF or CR) become CRLF, and a missing final
// line end is added (parse_message gives such a body back ending in "\n"). Attachments
// are base64.
// An attached message is sent as message/rfc822 when it is 7-bit with lines <= 998
// octets; otherwise its 8-bit/binary body parts are re-encoded (quoted-printable or
// base64) and raw 8-bit header text is RFC 2047-encoded, so the result stays 7-bit.
// Bcc is never written: its addresses appear only in envelope_recipients.
//
// Errors (invalid_argument, naming the field, e.g. "to[1].address"): from.address
// missing; no recipient in to/cc/bcc; an address that is empty, has no '@', has CR, LF,
// white space, control or non-ASCII bytes or any of "<>,;\"" (quoted local parts and
// SMTPUTF8 are not supported); a display name, subject, filename or content type with CR,
// LF or NUL (header injection); a content type that is not "type/subtype"; an
// in_reply_to / references entry that is not one "<...>" id; an attached_message GMime
// cannot parse.
result<built_message> build_message(const compose_request& request, std::chrono::system_clock::time_point now);

// A reply from `me` to `original`:
//   To = original Reply-To, or its From (if that is `me` — a reply to one's own sent
//   message — the original To instead); reply_all adds the original To to To and its Cc
//   to Cc, minus `me` and duplicates (addresses compared ASCII case-insensitively);
//   subject "Re: " + original, unless it already starts with "Re:" (any case);
//   In-Reply-To = original Message-ID; References = original References (or its
//   In-Reply-To when it has none) + its Message-ID;
//   text = text_body, a blank line, "On DATE, NAME wrote:" and the original text with
//   each line prefixed "> "; html (only when html_body is given) = html_body followed by
//   the same attribution and the original HTML (or its escaped text) in a
//   <blockquote type="cite">.
compose_request make_reply(const parsed_message& original, const mailbox_address& me, bool reply_all,
                           std::string text_body, std::string html_body);

// A forward from `me` to `to`: subject "Fwd: " + original (unless it already starts with
// "Fwd:" or "Fw:", any case), text_body as the body, `original_raw` attached as
// message/rfc822.
compose_request make_forward(const parsed_message& original, std::string original_raw, const mailbox_address& me,
                             std::vector<mailbox_address> to, std::string text_body);

}  // namespace mailbroker::mime
