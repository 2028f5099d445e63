#pragma once
// Incremental parser for POP3 server replies (RFC 1939 3, RFC 2449, RFC 5034).
//
// POP3 replies do not say whether they are multi-line: the command does. Before the
// bytes of each reply, the caller tells the parser what it expects with expect(); the
// setting applies to one reply and goes back to single_line when that reply ends.
//
//   parser.expect(reply_kind::multi_line);      // after sending CAPA, LIST, UIDL
//   while (!buf.empty()) {
//     auto r = parser.feed(buf);
//     buf.remove_prefix(r.consumed);
//     switch (r.status) {
//       case parse_status::need_more: break;                  // buf is now empty
//       case parse_status::body_chunk: sink(parser.take_chunk()); break;  // streamed only
//       case parse_status::complete:
//         sink(parser.take_chunk());                          // streamed only: the rest
//         handle(parser.take()); break;
//       case parse_status::recoverable_error: log(parser.error()); break;  // skipped
//       case parse_status::fatal_error: drop_connection(parser.error()); return;
//     }
//   }
//
// Framing: a line ends at LF; a CR just before it is dropped (CRLF, or a bare LF). A
// single-line reply is one line. A multi-line reply is a "+OK" line followed by lines up
// to one that is exactly "."; every other line starting with "." loses that first dot
// (RFC 1939 3 dot-unstuffing, so ".." becomes "." and ".x" becomes "x"). "-ERR" and
// "+ " continuation lines always end the reply, whatever was expected. feed() never
// consumes bytes of the next reply, so pipelined replies (RFC 2449 PIPELINING) are read
// by calling expect() between them, and after STLS the rest can go to TLS.
//
// Status lines: "+OK", "-ERR" (ASCII case-insensitive), either alone or followed by SP
// and text; "+" alone or "+ " then a base64 challenge is a continuation. After "+OK " or
// "-ERR ", a leading "[code]" (RFC 2449 3: levels of printable ASCII separated by '/',
// no SP, ']' or empty level) is split off into reply::code; a malformed one stays in the
// text. Any other byte (8-bit text, TAB) is kept in the text.
//
// Streaming (reply_kind::multi_line_streamed, for RETR/TOP): body lines are not kept in
// reply::lines but handed out through take_chunk() as dot-unstuffed bytes in which
// every line ends with CRLF (bare LFs become CRLF; other bytes, bare CR included, are
// kept). feed() returns body_chunk when the pending body reaches max_chunk_bytes or the
// given bytes run out, so a chunk holds at most max_chunk_bytes + max_line_bytes bytes
// and no more than that is ever buffered. The final lines come with `complete`: call
// take_chunk() then too (it may return "").
//
// Threading: none; one parser per connection.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/pop3/reply.hpp"

namespace mailbroker::pop3 {

struct parser_limits {
  // One line including its line end. RFC 2449 4 caps status lines at 512 octets, but
  // body lines of real messages are often much longer (RFC 5322's 998 is not enforced
  // by servers), hence the default.
  std::size_t max_line_bytes = 64 * 1024;
  // A buffered multi-line reply (multi_line): the memory its kept lines take, each
  // counted as its length + 2 + sizeof(std::string), so 16 MiB of empty lines cannot
  // become ~512 MiB of strings.
  std::size_t max_multiline_bytes = 16 * 1024 * 1024;
  // Streamed replies: body_chunk is returned once this many bytes are pending.
  std::size_t max_chunk_bytes = 64 * 1024;
};

enum class reply_kind {
  single_line,          // USER, PASS, AUTH, STAT, LIST n, UIDL n, DELE, NOOP, RSET, QUIT, STLS, greeting
  multi_line,           // CAPA, LIST, UIDL (and RETR/TOP when small): lines kept in reply::lines
  multi_line_streamed,  // RETR, TOP: body through take_chunk()
};

enum class parse_status {
  need_more,          // every given byte was consumed; the reply is not complete yet
  body_chunk,         // streamed reply: body bytes are ready, call take_chunk(); not complete
  complete,           // a reply is ready: call take() (and take_chunk() if streamed)
  recoverable_error,  // a single-line reply was framed and consumed but is not a valid
                      // status line; it is dropped and the parser is ready for the next
  fatal_error,        // the stream cannot be framed any more: drop the connection
};

struct parse_result {
  parse_status status;
  std::size_t consumed;  // bytes of the input used; need_more and body_chunk at the end of
                         // the input: all of it; complete and recoverable_error: up to and
                         // including the reply's final LF; fatal_error: the bytes examined
};

class reply_parser {
 public:
  explicit reply_parser(parser_limits limits = {});

  // What the next reply is. Returns false and changes nothing when a reply is already
  // partly read (feed() consumed some of its bytes): the setting would come too late.
  bool expect(reply_kind kind);

  // Consumes bytes belonging to the current reply only and reports its state. A complete
  // reply (or chunk) not collected is discarded by the next feed().
  // Fatal errors (error() says which):
  //   - a line longer than max_line_bytes (detected before its end arrives),
  //   - a buffered multi-line reply longer than max_multiline_bytes,
  //   - a first line that is not a valid status line while a multi-line reply is
  //     expected (whether a body follows is unknown, so framing is lost).
  // After a fatal error every call returns {fatal_error, 0} until reset().
  // Recoverable error: an invalid status line while a single-line reply is expected.
  parse_result feed(std::string_view bytes);

  // The reply after `complete`; valid once, then the parser is ready for the next one.
  // Returns a default reply if none is ready.
  reply take();

  // Streamed replies: the body bytes gathered since the last call (after body_chunk or
  // complete). "" otherwise.
  std::string take_chunk();

  // Why the last feed() failed; "" if it did not. Contains no server bytes other than
  // single characters and numbers, so it is safe to log.
  const std::string& error() const { return error_; }

  // Drops any partial reply, pending chunk and error state (including a fatal one); the
  // next reply is expected to be single_line.
  void reset();

 private:
  enum class line_result { more, done, invalid, fatal };

  line_result end_of_line();
  line_result status_line();
  void set_fatal(std::string message);

  parser_limits limits_;
  reply_kind kind_ = reply_kind::single_line;
  std::string line_;            // the current line so far, LF excluded
  bool in_body_ = false;        // the +OK line of a multi-line reply was read
  bool started_ = false;        // bytes of the current reply were consumed
  std::size_t body_bytes_ = 0;  // buffered multi-line size so far
  reply current_;
  std::optional<reply> ready_;
  std::string chunk_;
  bool fatal_ = false;
  std::string error_;
};

}  // namespace mailbroker::pop3
