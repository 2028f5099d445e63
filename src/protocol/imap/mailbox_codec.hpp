#pragma once
// IMAP mailbox operations as pure data transformations: mailbox names in modified UTF-7,
// LIST replies, UID sets and COPYUID codes, UID SEARCH commands and replies, FETCH
// summaries and raw-body chunks. No I/O: callers build commands with these functions
// and hand the `response`s from response_parser back to them.
//
// Errors are `errc::invalid_argument` unless said otherwise; their messages name the
// field or the cause and contain no server data beyond short keywords and numbers.
// Threading: none; every function is reentrant.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "protocol/imap/response.hpp"

namespace mailbroker::imap {

// ---- Mailbox names (RFC 3501 5.1.3 modified UTF-7) -----------------------------------

// The modified UTF-7 form of a UTF-8 mailbox name: printable ASCII (0x20-0x7e) stands for
// itself except '&', which becomes "&-"; every run of other characters becomes
// '&' + modified base64 (',' for '/', no padding) of its UTF-16BE + '-'. The result is
// the canonical form, so decode_mailbox_name(encode_mailbox_name(s)) == s.
// Errors: `utf8` is not valid UTF-8 (truncated or overlong sequences, surrogates,
// code points above U+10FFFF).
result<std::string> encode_mailbox_name(std::string_view utf8);

// The UTF-8 name for a modified UTF-7 mailbox name. Only the canonical form is accepted,
// so that encode_mailbox_name(decode_mailbox_name(m)) == m and the daemon can always send
// back exactly the server's name. Errors: bytes outside 0x20-0x7e; an '&' section that is
// unterminated, empty-but-not-"&-", not modified base64, has leftover or non-zero padding
// bits, an odd number of UTF-16 bytes, an unpaired surrogate, or encodes printable ASCII;
// two '&' sections back to back ("&AOQ-&APY-" is one section "&AOQA9g-").
result<std::string> decode_mailbox_name(std::string_view mutf7);

// ---- LIST -------------------------------------------------------------------------------

struct folder_entry {
  std::string name_utf8;                // decoded from modified UTF-7; "INBOX" as sent
  std::string delimiter;                // one character, or "" when the server says NIL
  std::vector<std::string> attributes;  // as sent, e.g. "\HasNoChildren", "\Noselect"
};

// One "* LIST (attrs) delim name" (or LSUB) data response. The name may be an atom,
// quoted string or literal; RFC 5258 extended data after the name is ignored.
// Errors: not a LIST/LSUB response, attributes not a list of atoms, delimiter neither a
// one-character string nor NIL, name missing or not valid modified UTF-7.
result<folder_entry> parse_list_response(const response& r);

// ---- UID sets -------------------------------------------------------------------------

// "1:3,7,9:10" for the given uids: sorted, duplicates and 0 (not a valid uid) dropped,
// consecutive uids joined into ranges. "" when no uid remains; callers must not send an
// empty set.
std::string format_uid_set(std::vector<std::uint32_t> uids);

// The uids of a sequence set as servers send them in COPYUID (RFC 4315 uid-set): ranges
// "a:b" expand in ascending order whatever the order of a and b, elements keep their
// order, duplicates are kept. Errors: empty set or element, "*", 0, a number above
// 2^32-1, any other character, or more than `max_uids` uids in all (checked before
// expanding, so a hostile "1:4294967295" costs nothing).
result<std::vector<std::uint32_t>> parse_uid_set(std::string_view set, std::size_t max_uids = 100000);

struct copyuid {
  std::uint32_t uid_validity = 0;     // of the destination mailbox
  std::vector<std::uint32_t> source;  // source[i] was copied to dest[i]
  std::vector<std::uint32_t> dest;
};

// The code_text of a "[COPYUID uidvalidity source-set dest-set]" response code (RFC 4315
// section 3; `response::code` == "COPYUID"), e.g. "38505 304,319:320 3956:3958".
// Errors: not three space-separated fields, uidvalidity 0 or not a number, a set that
// parse_uid_set refuses, sets of different sizes.
result<copyuid> parse_copyuid(std::string_view code_text);

// ---- SELECT -----------------------------------------------------------------------------

// What a SELECT/EXAMINE answer says about the mailbox (RFC 3501 6.3.1, RFC 7162 3.1.2.1).
// With CONDSTORE enabled ("SELECT name (CONDSTORE)"), HIGHESTMODSEQ grows with every
// flag change, UIDNEXT with every new message and EXISTS falls with every expunge not
// offset by an arrival (which moves UIDNEXT), and none of them ever goes back: two
// complete states that are equal mean nothing in the mailbox changed between them.
struct selected_state {
  std::uint32_t uid_validity = 0;
  std::uint32_t uid_next = 0;
  std::uint32_t exists = 0;
  bool exists_seen = false;
  std::uint64_t highest_modseq = 0;  // 0: not sent (no CONDSTORE, or NOMODSEQ)

  // Every part was sent and the mailbox keeps mod-sequences.
  bool complete() const { return uid_validity != 0 && uid_next != 0 && exists_seen && highest_modseq != 0; }
  // "validity/uidnext/exists/modseq": equal only for equal complete states ("" if incomplete).
  std::string version() const;
};

// From the untagged responses of one SELECT/EXAMINE: the UIDVALIDITY, UIDNEXT and
// HIGHESTMODSEQ response codes and the last "* n EXISTS"; "* OK [NOMODSEQ]" clears the
// mod-sequence. Unreadable numbers count as not sent.
selected_state parse_selected_state(const std::vector<response>& untagged);

// ---- SEARCH -----------------------------------------------------------------------------

struct search_criteria {
  enum class read_state { all, unread, read };
  read_state read = read_state::all;
  std::string from_contains;     // "" = no criterion; UTF-8
  std::string subject_contains;  // "" = no criterion; UTF-8
  std::optional<std::chrono::sys_days> since;   // internal date on or after this day
  std::optional<std::chrono::sys_days> before;  // internal date before this day
  std::uint32_t after_uid = 0;                  // > 0: only uids above this one
};

// The command after the tag, without the final CRLF, e.g.
//   UID SEARCH UNSEEN FROM "bob" SINCE 1-Feb-2026 UID 101:*
// "UID SEARCH ALL" when no criterion is set. after_uid > 0 adds "UID <after_uid+1>:*";
// beware that "n:*" also matches the highest uid of the mailbox when that is below n
// (RFC 3501 6.4.8: "*" is the largest uid in use), so callers must drop results <= after_uid.
// ASCII strings are sent quoted. When a string has a byte >= 0x80 the command starts
// with "CHARSET UTF-8" and such strings are sent as non-synchronising literals
// "{n+}\r\n<bytes>" (RFC 7888), so the returned command then contains CRLFs and is sent
// as is in one write.
// Errors: a string with CR, LF or NUL, or invalid UTF-8; a non-ASCII string when
// !literal_plus (non-ASCII search needs the LITERAL+ capability); a date whose year is
// outside 0-9999; after_uid == 4294967295 (no uid can follow it).
result<std::string> build_uid_search(const search_criteria& criteria, bool literal_plus);

// Every number of every "* SEARCH n n ..." response in `untagged`, in order; other
// responses and non-numeric tokens (e.g. a CONDSTORE "(MODSEQ n)") are ignored.
std::vector<std::uint32_t> parse_search_response(const std::vector<response>& untagged);

// ---- FETCH ------------------------------------------------------------------------------

struct fetched_summary {
  struct address {
    std::string name_raw;  // display name as sent (may hold RFC 2047 words); "" if NIL
    std::string mailbox;   // local part
    std::string host;      // domain

    bool operator==(const address&) const = default;
  };
  std::uint32_t uid = 0;
  std::vector<std::string> flags;  // as sent, e.g. "\Seen"
  std::uint64_t size = 0;          // RFC822.SIZE; 0 when absent
  std::optional<std::chrono::system_clock::time_point> internal_date;
  std::optional<std::chrono::system_clock::time_point> date;  // ENVELOPE date; nullopt if
                                                              // NIL or unparseable
  std::string subject_raw;  // as sent (may hold RFC 2047 words); "" if NIL
  std::string message_id, in_reply_to;  // as sent, with their <>
  std::vector<address> from, to, cc;    // group markers skipped, group members kept
  // True when some part of BODYSTRUCTURE is an attachment:
  //   - any part (multipart or not) with Content-Disposition "attachment", or
  //   - any non-multipart part whose type is not text/* unless it is an embedded
  //     resource: it has a Content-ID and no "attachment" disposition (an image of an
  //     HTML body in multipart/related).
  // message/rfc822 parts count as attachments and are not looked into. The signature
  // (second) part of a multipart/signed never counts (smime.p7s, signature.asc).
  bool has_attachments = false;
  // True when ENVELOPE, BODYSTRUCTURE or INTERNALDATE could not be fully read: nested
  // deeper than the parser keeps (response::truncated) or this codec follows, or
  // malformed. The fields they fill are then empty or partial (has_attachments: what
  // was seen before the unreadable part); UID, FLAGS and RFC822.SIZE are still exact.
  // A message is listed with what is known rather than left out.
  bool summary_incomplete = false;
};

// One "* n FETCH (...)" response to UID FETCH set (UID FLAGS RFC822.SIZE INTERNALDATE
// ENVELOPE BODYSTRUCTURE); items not fetched stay at their defaults, unknown items are
// ignored. The ENVELOPE date is read as RFC 5322 (see date_time.hpp). Errors: not a FETCH
// response, no valid UID, FLAGS or RFC822.SIZE of the wrong shape. An unreadable
// ENVELOPE, BODYSTRUCTURE or INTERNALDATE is no error: it sets summary_incomplete.
result<fetched_summary> parse_fetch_summary(const response& r);

struct body_chunk {
  std::uint32_t uid = 0;
  std::uint64_t offset = 0;  // the origin from "BODY[]<origin>"; 0 for "BODY[]"
  std::string data;          // "" when the server sent NIL or "" (origin past the end)
  std::optional<std::uint64_t> total_size;  // RFC822.SIZE when the response carries it
};

// One "* n FETCH (UID u BODY[]<origin> {len}...)" response to
// UID FETCH u (BODY.PEEK[]<origin.length>) or to a whole BODY.PEEK[].
// Errors: invalid_argument when the response is malformed (no UID, body not a string);
// not_found when it is a well-formed FETCH that is not the awaited chunk: another uid
// than `expected_uid`, or no BODY[] item (e.g. an unsolicited FLAGS update) — skip it.
result<body_chunk> parse_fetch_body_chunk(const response& r, std::uint32_t expected_uid);

}  // namespace mailbroker::imap
