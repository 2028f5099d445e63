#pragma once
// Incremental parser for SMTP replies (RFC 5321 4.2).
//
// Usage, as for imap::response_parser:
//
//   while (!buf.empty()) {
//     auto r = parser.feed(buf);
//     buf.remove_prefix(r.consumed);
//     switch (r.status) {
//       case parse_status::complete: handle(parser.take()); break;
//       case parse_status::need_more: break;                                  // buf is empty
//       case parse_status::recoverable_error: log(parser.error()); break;     // skipped
//       case parse_status::fatal_error: drop_connection(parser.error()); return;
//     }
//   }
//
// Framing: a line ends at LF (a CR just before it is dropped, so a bare LF is accepted).
// Every line starts with three digits, then '-' (more lines follow), SP (last line) or
// the line end (a bare "250" is a last line). The reply ends after its last line; feed()
// never consumes bytes of the next reply, so pipelined replies (RFC 2920) come one by
// one and after the 220 to STARTTLS the rest can go to TLS.
//
// Validity, checked once the reply is framed (recoverable_error, the whole reply is
// consumed and dropped): every line has the same code as the first; the code is 200..599
// (RFC 5321 4.2.1 uses first digits 2 to 5 only; second digit 0..5 is not checked, as
// servers invent codes). Any byte other than LF (8-bit SMTPUTF8 text, TAB, even CR inside
// a line) is kept in the text; callers clean it before logging (common/text.hpp).
//
// Enhanced status codes (RFC 3463 / RFC 2034) are parsed only after
// enhanced_status_codes(true), i.e. once the server advertised ENHANCEDSTATUSCODES:
// without it, text such as "2.0.1 release notes" is just text. The code is taken from
// the first line's text when it is "x.y.z" followed by SP or the end, x is 2, 4 or 5 and
// equals the reply code's first digit, and y, z are 1 to 3 digits; otherwise `enhanced`
// stays empty (not an error).
//
// Threading: none; one parser per connection.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/smtp/reply.hpp"

namespace mailbroker::smtp {

struct parser_limits {
  // One line including its line end. RFC 5321 4.5.3.1.5 says 512; real servers send
  // longer lines (long AUTH/ESMTP lists, verbose errors), hence a larger default.
  std::size_t max_line_bytes = 4096;
  std::size_t max_lines = 128;  // lines in one reply (EHLO replies have ~10-20)
};

enum class parse_status {
  need_more,          // every given byte was consumed; the reply is not complete yet
  complete,           // a reply is ready: call take()
  recoverable_error,  // a reply was framed and consumed but is not valid; it is dropped
  fatal_error,        // the stream cannot be framed any more: drop the connection
};

struct parse_result {
  parse_status status;
  std::size_t consumed;  // bytes of the input used; need_more: all of it; complete and
                         // recoverable_error: up to and including the reply's final LF;
                         // fatal_error: the bytes examined before giving up
};

class reply_parser {
 public:
  explicit reply_parser(parser_limits limits = {});

  // Whether to parse RFC 3463 codes; applies from the next reply on. Default false.
  void enhanced_status_codes(bool enabled) { enhanced_ = enabled; }

  // Consumes bytes of the current reply only and reports its state. A complete reply not
  // collected with take() is discarded by the next feed().
  // Fatal errors (error() says which): a line longer than max_line_bytes (detected before
  // its end arrives); more than max_lines lines; a line that does not start with three
  // digits followed by '-', SP or its end (the reply's end cannot be found). After a
  // fatal error every call returns {fatal_error, 0} until reset().
  parse_result feed(std::string_view bytes);

  // The reply after `complete`; valid once. Returns a default reply (code 0) otherwise.
  reply take();

  // Why the last feed() failed; "" if it did not. Contains no server bytes other than
  // single characters and numbers, so it is safe to log.
  const std::string& error() const { return error_; }

  // Drops any partial reply and error state, including a fatal error. Keeps the
  // enhanced_status_codes() setting.
  void reset();

 private:
  enum class line_result { more, done, invalid, fatal };
  line_result end_of_line();
  void finish(reply& r);
  void set_fatal(std::string message);

  parser_limits limits_;
  bool enhanced_ = false;
  std::string line_;  // the current line so far, LF excluded
  reply current_;
  bool mismatch_ = false;  // a line's code differed from the first line's
  std::optional<reply> ready_;
  bool fatal_ = false;
  std::string error_;
};

}  // namespace mailbroker::smtp
