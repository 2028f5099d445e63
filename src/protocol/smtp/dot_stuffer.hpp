#pragma once
// Encoder for the DATA body (RFC 5321 4.5.2 transparency, 4.1.1.4 end of data).
//
//   dot_stuffer s;
//   std::string out;
//   for (auto chunk : message) s.feed(chunk, out);   // send `out` as it grows
//   s.finish(out);                                   // adds [CRLF] ".\r\n"
//
// The message is given in chunks of any size: a chunk may end in the middle of a line
// or between the CR and LF of a line end; the output is the same whatever the chunk
// boundaries. Output rules:
//   - every line end becomes CRLF: CRLF stays, a bare LF becomes CRLF, and a bare CR
//     (not followed by LF) becomes CRLF too. RFC 5321 2.3.8 forbids bare CR and LF on
//     the wire and servers disagree on what they mean ("SMTP smuggling", 2023), so
//     neither is ever sent; making a bare CR a line end keeps the text's visible lines.
//   - a "." at the start of a line is doubled;
//   - finish() adds CRLF if the body does not end with a line end, then ".\r\n". An
//     empty body gives just ".\r\n".
// Long lines are not wrapped: the 1000-octet line limit (RFC 5321 4.5.3.1.6) is the
// message author's business.
//
// Threading: none. Memory: constant (two flags); output is appended to the caller's.
#include <string>
#include <string_view>

namespace mailbroker::smtp {

class dot_stuffer {
 public:
  // Appends the encoded form of `bytes` to `out`.
  void feed(std::string_view bytes, std::string& out);

  // Appends the end of the body and the terminator to `out`; the stuffer is then ready
  // for a new message.
  void finish(std::string& out);

  // Forgets a partly encoded message.
  void reset();

 private:
  bool at_line_start_ = true;  // the next byte starts a line
  bool after_cr_ = false;      // the last byte was a CR (already emitted as CRLF)
};

}  // namespace mailbroker::smtp
