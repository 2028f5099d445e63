#pragma once
// Incremental parser for IMAP server output (RFC 3501 / RFC 9051 responses, with
// RFC 7888 non-synchronising literals and RFC 3516 literal8 accepted).
//
// Usage: feed bytes as they arrive and act on each status:
//
//   while (!buf.empty()) {
//     auto r = parser.feed(buf);
//     buf.remove_prefix(r.consumed);
//     switch (r.status) {
//       case parse_status::complete: handle(parser.take()); break;
//       case parse_status::need_more: break;                 // buf is now empty
//       case parse_status::recoverable_error: log(parser.error()); break;  // skip it
//       case parse_status::fatal_error: drop_connection(parser.error()); return;
//     }
//   }
//
// Framing: a response ends at CRLF (a bare LF is accepted too), except that a line of a
// data response ending in a literal marker "{n}", "{n+}" or "~{n}" is followed by
// exactly n raw bytes, after which the response continues. Status responses
// ("tag OK ...", "* BYE ...") and continuation requests ("+ ...") are always one line:
// "* OK see {5}" is text, not a literal. feed() never consumes bytes of the next
// response, so after `complete` the remaining bytes can be handed to something else
// (e.g. after a STARTTLS reply).
//
// Accepted syntax, beyond the RFC grammar: keywords are case-insensitive; tokens may be
// separated by more than one SP and a line may end with spaces; a tagged or untagged
// BYE/PREAUTH is accepted; response-code arguments may contain nested [] and quoted
// strings (parentheses in them are not checked); bytes >= 0x80 are accepted in quoted
// strings, literals and text (UTF-8 from UTF8=ACCEPT servers), never in atoms.
// Not supported: literals inside response codes or inside an atom's [...] section
// (e.g. a literal header name in BODY[HEADER.FIELDS (...)]).
//
// Memory: the raw response is buffered (at most max_response_bytes) and then parsed into
// `value`s. Parsed, a response of tiny tokens takes far more than its raw size (a `value`
// is 64 bytes, its list up to twice that: 1-byte atoms grow ~64x), so while framing the
// parser keeps an upper-bound estimate of the parsed size, cost():
//   sizeof(response) + 2 x (bytes of lines) + (bytes of literals) + 128 x (tokens)
// (tokens counted per line: atoms, strings, literals, '(' lists). A response whose
// estimate exceeds max_parsed_bytes is a fatal error, detected at the end of the line
// (or literal marker) that crosses it, before it is parsed. So reading one response
// holds at most: the raw bytes (<= min(max_response_bytes, max_parsed_bytes), in a
// buffer up to twice that by its growth) plus the parsed response (<= max_parsed_bytes):
// the worst case is ~3 x max_parsed_bytes, whatever the shape of the response.
//
// Nesting: a list nested deeper than max_depth does not fail the response: it is kept as
// an empty list, its content skipped (literals included), and `response::truncated` is
// set, so a FETCH with an absurd BODYSTRUCTURE still delivers its UID and ENVELOPE.
//
// Threading: none; one parser per connection.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/imap/response.hpp"

namespace mailbroker::imap {

struct parser_limits {
  std::size_t max_line_bytes = 64 * 1024;                // one line incl. CRLF, literal data excluded
  std::size_t max_literal_bytes = 32 * 1024 * 1024;      // one literal's announced size
  std::size_t max_response_bytes = 64 * 1024 * 1024;     // a whole response: lines + literal data
  std::size_t max_depth = 64;                            // nesting of (...) lists and [...] sections;
                                                         // deeper lists are skipped (see Nesting)
  std::size_t max_parsed_bytes = 64 * 1024 * 1024;       // estimated parsed size (see Memory)
};

enum class parse_status {
  need_more,          // every given byte was consumed; the response is not complete yet
  complete,           // a response is ready: call take()
  recoverable_error,  // a response was framed and consumed but is not valid IMAP; it is
                      // dropped and the parser is ready for the next one
  fatal_error,        // the byte stream cannot be framed any more: drop the connection
};

struct parse_result {
  parse_status status;
  std::size_t consumed;  // bytes of the input used; need_more: all of it; complete and
                         // recoverable_error: up to and including the response's final LF;
                         // fatal_error: the bytes examined before giving up
};

class response_parser {
 public:
  explicit response_parser(parser_limits limits = {});

  // Consumes bytes belonging to the current response only and reports its state.
  // A complete response not collected with take() is discarded by the next feed().
  // Fatal errors (error() says which):
  //   - a line longer than max_line_bytes (detected before its end arrives),
  //   - a literal announced larger than max_literal_bytes,
  //   - a response longer than max_response_bytes,
  //   - a response whose parsed-size estimate exceeds max_parsed_bytes,
  //   - a line of a data response ending in '}' whose "{...}" is not a valid length.
  // After a fatal error every call returns {fatal_error, 0} until reset().
  // Recoverable errors: anything else that does not follow the grammar once the
  // response is framed (bad tag, unterminated quoted string, invalid escape, CR/LF or
  // NUL where not allowed, [] sections nested deeper than max_depth (lists nested
  // deeper are skipped instead, see Nesting), number out of uint32 range, unbalanced
  // parentheses, ...).
  parse_result feed(std::string_view bytes);

  // The response after feed() returned `complete`; valid once, then the parser is ready
  // for the next response. Returns a default response if none is ready.
  response take();

  // Why the last feed() failed; "" if it did not. Contains no server bytes other than
  // single characters and numbers, so it is safe to log.
  const std::string& error() const { return error_; }

  // The parsed-size estimate (see Memory) of the last complete response: valid from the
  // feed() that returned `complete` until the next complete one. An upper bound of the
  // heap the response returned by take() holds.
  std::size_t cost() const { return last_cost_; }

  // Drops any partial response and error state, including a fatal error.
  void reset();

  // Per-token and per-response terms of the estimate (see Memory).
  static constexpr std::size_t token_cost = 2 * sizeof(value);
  static constexpr std::size_t response_cost = sizeof(response);

 private:
  struct literal_span {
    std::size_t offset;  // of the first data byte in buf_
    std::size_t size;
  };
  enum class line_action { end_of_response, literal_follows, fatal };
  class syntax;  // parses a framed response; defined in the .cpp

  void start_response();
  line_action end_of_line();
  // Adds `bytes` to cost_; false (fatal error set) past max_parsed_bytes.
  bool charge(std::size_t bytes);
  void set_fatal(std::string message);

  parser_limits limits_;
  std::string buf_;                     // the current response's bytes, lines and literals
  std::vector<literal_span> literals_;  // literal data inside buf_, in order
  std::size_t line_start_ = 0;          // offset in buf_ of the line being read
  std::size_t literal_left_ = 0;        // literal bytes still expected
  bool literals_allowed_ = false;       // decided by the first line: data responses only
  std::size_t cost_ = 0;                // estimate of the current response (see Memory)
  std::size_t last_cost_ = 0;           // ... of the last complete one
  bool fatal_ = false;
  std::optional<response> ready_;
  std::string error_;
};

}  // namespace mailbroker::imap
