// libFuzzer target for smtp::reply_parser, parse_ehlo, the command builders and
// smtp::dot_stuffer.
//
// 1. The input as server output, parsed whole and in chunks whose sizes come from its
//    first bytes (enhanced status codes on or off, also from the first byte); both runs
//    must give the same replies and errors, and feed() must keep its contract.
// 2. The input as a message body: dot-stuffed whole and in random chunks (same output
//    required); the wire form must have CRLF line ends only, end in the one and only
//    "CRLF.CRLF" and, read back by pop3::reply_parser's dot-unstuffing, give the input
//    with its line ends normalised to CRLF.
// 3. The input as an address / domain / mechanism: builders that accept it must produce
//    exactly one line.
// Any violation aborts.
//
// Run:   ./smtp_reply_fuzz -max_len=4096 WORK_DIR tests/fuzz/corpus/smtp_reply
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/pop3/reply_parser.hpp"
#include "protocol/smtp/command.hpp"
#include "protocol/smtp/dot_stuffer.hpp"
#include "protocol/smtp/reply_parser.hpp"

namespace {

using namespace mailbroker::smtp;

struct outcome {
  parse_status status;
  reply r;
  std::string error;
  bool operator==(const outcome&) const = default;
};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::uint32_t next(std::uint32_t& state) {
  state = state * 1664525u + 1013904223u;
  return state >> 16;
}

std::vector<outcome> drive(std::string_view in, std::uint32_t seed, std::size_t max_chunk, bool enhanced) {
  const parser_limits limits{.max_line_bytes = 120, .max_lines = 8};
  reply_parser parser(limits);
  parser.enhanced_status_codes(enhanced);
  std::vector<outcome> out;
  std::uint32_t state = seed;
  while (!in.empty()) {
    const std::size_t size = max_chunk == 0 ? in.size() : 1 + next(state) % max_chunk;
    std::string_view chunk = in.substr(0, size);
    in.remove_prefix(chunk.size());
    while (!chunk.empty()) {
      const parse_result r = parser.feed(chunk);
      check(r.consumed <= chunk.size());
      if (r.status == parse_status::need_more) check(r.consumed == chunk.size());
      if (r.status == parse_status::complete || r.status == parse_status::recoverable_error) check(r.consumed > 0);
      chunk.remove_prefix(r.consumed);
      switch (r.status) {
        case parse_status::need_more: check(parser.error().empty()); break;
        case parse_status::complete: {
          reply resp = parser.take();
          check(resp.code >= 200 && resp.code <= 599 && !resp.lines.empty() && resp.lines.size() <= limits.max_lines);
          if (resp.enhanced) check(resp.enhanced->klass == resp.code / 100);
          if (auto caps = parse_ehlo(resp); caps.ok()) check(resp.code == 250);
          out.push_back({r.status, std::move(resp), {}});
          break;
        }
        case parse_status::recoverable_error:
        case parse_status::fatal_error:
          check(!parser.error().empty() && parser.error().size() <= 120);
          out.push_back({r.status, {}, parser.error()});
          if (r.status == parse_status::fatal_error) {
            const parse_result again = parser.feed("250 ok\r\n");
            check(again.status == parse_status::fatal_error && again.consumed == 0);
            return out;
          }
          break;
      }
    }
  }
  return out;
}

std::string normalised(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out += "\r\n";
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else if (in[i] == '\n') {
      out += "\r\n";
    } else {
      out += in[i];
    }
  }
  if (!out.empty() && out.back() != '\n') out += "\r\n";
  return out;
}

void round_trip(std::string_view in, std::uint32_t seed) {
  dot_stuffer whole;
  std::string wire;
  whole.feed(in, wire);
  whole.finish(wire);

  dot_stuffer pieces;
  std::string wire2;
  std::uint32_t state = seed;
  for (std::string_view rest = in; !rest.empty();) {
    const std::size_t n = std::min<std::size_t>(rest.size(), next(state) % 9);
    pieces.feed(rest.substr(0, n), wire2);
    rest.remove_prefix(n);
  }
  pieces.finish(wire2);
  check(wire == wire2);

  check(wire.size() >= 3 && wire.compare(wire.size() - 3, 3, ".\r\n") == 0);
  check(wire.size() == 3 || wire.find("\r\n.\r\n") == wire.size() - 5);
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\r') check(i + 1 < wire.size() && wire[i + 1] == '\n');
    if (wire[i] == '\n') check(i > 0 && wire[i - 1] == '\r');
  }

  namespace pop3 = mailbroker::pop3;
  pop3::reply_parser unstuffer({.max_line_bytes = 1 << 20, .max_multiline_bytes = 1 << 20, .max_chunk_bytes = 256});
  check(unstuffer.expect(pop3::reply_kind::multi_line_streamed));
  const std::string framed = "+OK\r\n" + wire;
  std::string_view rest = framed;
  std::string body;
  for (;;) {
    const auto r = unstuffer.feed(rest);
    rest.remove_prefix(r.consumed);
    body += unstuffer.take_chunk();
    if (r.status == pop3::parse_status::complete) break;
    check(r.status == pop3::parse_status::body_chunk);
  }
  check(rest.empty());
  check(body == normalised(in));
}

bool one_line(const mailbroker::result<std::string>& r) {
  if (!r.ok()) return true;
  const std::string& s = r.value();
  return s.size() >= 2 && s.find('\n') == s.size() - 1 && s.find('\r') == s.size() - 2 &&
         s.find('\0') == std::string::npos;
}

void builders(std::string_view in) {
  check(one_line(ehlo_command(in)));
  check(one_line(auth_command(in.substr(0, 24), in)));
  check(one_line(mail_command(in, {.size = in.size(), .body_8bitmime = true, .smtputf8 = !in.empty() && in[0] & 1})));
  check(one_line(rcpt_command(in, true, "recipient 1")));
  if (auto r = rcpt_command(in, false); r.ok()) {
    for (char c : in) check(static_cast<unsigned char>(c) > ' ' && c != 0x7f && c != '<' && c != '>');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::uint32_t seed = 0;
  for (std::size_t i = 0; i < size && i < 4; ++i) seed = seed << 8 | data[i];
  const std::size_t max_chunk = size == 0 ? 1 : 1 + data[0] % 16;
  const bool enhanced = size > 0 && (data[0] & 0x80) != 0;
  check(drive(in, seed, max_chunk, enhanced) == drive(in, 0, 0, enhanced));
  round_trip(in, seed);
  builders(in);
  return 0;
}
