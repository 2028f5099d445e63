// smtp::dot_stuffer, and its round trip through pop3::reply_parser's dot-unstuffing.
#include "protocol/smtp/dot_stuffer.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "protocol/pop3/reply_parser.hpp"

namespace mailbroker::smtp {
namespace {

std::string stuff(std::string_view in) {
  dot_stuffer s;
  std::string out;
  s.feed(in, out);
  s.finish(out);
  return out;
}

// What the server must store: every line end as CRLF (bare CR and bare LF too), and a
// final CRLF when the body does not end with one.
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

// Reads `wire` as the body of a POP3 RETR reply: the unstuffed body.
std::string unstuff(std::string_view wire) {
  pop3::reply_parser p({.max_line_bytes = 1 << 20, .max_multiline_bytes = 1 << 24, .max_chunk_bytes = 1 << 16});
  p.expect(pop3::reply_kind::multi_line_streamed);
  std::string in = "+OK\r\n" + std::string(wire);
  std::string_view rest = in;
  std::string body;
  for (;;) {
    const auto r = p.feed(rest);
    rest.remove_prefix(r.consumed);
    body += p.take_chunk();
    if (r.status == pop3::parse_status::complete) break;
    if (r.status != pop3::parse_status::body_chunk) {
      ADD_FAILURE() << "unexpected status " << static_cast<int>(r.status);
      return {};
    }
  }
  EXPECT_TRUE(rest.empty()) << "the terminator must be the last bytes";
  return body;
}

TEST(DotStuffer, Table) {
  struct c {
    std::string in;
    std::string out;
  };
  const std::vector<c> cases = {
      {"", ".\r\n"},
      {"a", "a\r\n.\r\n"},
      {"a\r\n", "a\r\n.\r\n"},
      {"a\n", "a\r\n.\r\n"},
      {"a\r", "a\r\n.\r\n"},
      {".", "..\r\n.\r\n"},
      {".\r\n", "..\r\n.\r\n"},
      {"..", "...\r\n.\r\n"},
      {"a.\r\n.b\r\nc", "a.\r\n..b\r\nc\r\n.\r\n"},
      {"\r\n.\r\n", "\r\n..\r\n.\r\n"},
      {"x\n.\n", "x\r\n..\r\n.\r\n"},
      {"x\r.y", "x\r\n..y\r\n.\r\n"},
      {"x\r\r\n", "x\r\n\r\n.\r\n"},
      {"x\n\r", "x\r\n\r\n.\r\n"},
      {"\n\n", "\r\n\r\n.\r\n"},
      {"a\r\n\r\n", "a\r\n\r\n.\r\n"},
      {" .x", " .x\r\n.\r\n"},
      // The SMTP-smuggling shapes: no bare LF or CR ever reaches the wire.
      {"a\n.\nMAIL FROM:<x@y>\n", "a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n"},
      {"a\r.\rb", "a\r\n..\r\nb\r\n.\r\n"},
      {std::string("nul\0byte", 8), std::string("nul\0byte\r\n.\r\n", 13)},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(testing::PrintToString(k.in));
    EXPECT_EQ(stuff(k.in), k.out);
  }
}

// Every split into two and three chunks, and byte by byte, gives the same output.
TEST(DotStuffer, EverySplitPoint) {
  const std::string in = ".start\r\n..two\r\nbare\nlf\n.\ncr\r.after-cr\r\n\r\n.\r\nend.";
  const std::string expected = stuff(in);
  for (std::size_t i = 0; i <= in.size(); ++i) {
    for (std::size_t j = i; j <= in.size(); ++j) {
      dot_stuffer s;
      std::string out;
      s.feed(std::string_view(in).substr(0, i), out);
      s.feed(std::string_view(in).substr(i, j - i), out);
      s.feed(std::string_view(in).substr(j), out);
      s.finish(out);
      ASSERT_EQ(out, expected) << "splits at " << i << " and " << j;
    }
  }
  dot_stuffer s;
  std::string out;
  for (char c : in) s.feed(std::string_view(&c, 1), out);
  s.feed("", out);
  s.finish(out);
  EXPECT_EQ(out, expected);
}

TEST(DotStuffer, FinishResetsForNextMessage) {
  dot_stuffer s;
  std::string out;
  s.feed("one\r", out);
  s.finish(out);
  s.feed("\n.two", out);  // a new message: this LF is not the end of the CR above
  s.finish(out);
  EXPECT_EQ(out, "one\r\n.\r\n\r\n..two\r\n.\r\n");
  s.feed("partial", out);
  s.reset();
  out.clear();
  s.feed(".x", out);
  s.finish(out);
  EXPECT_EQ(out, "..x\r\n.\r\n");
}

TEST(DotStuffer, OutputInvariants) {
  std::mt19937 rng(12345);
  const char alphabet[] = {'.', '.', '\r', '\n', 'a', ' ', '\0', '\xff'};
  for (int iter = 0; iter < 2000; ++iter) {
    std::string in(rng() % 40, ' ');
    for (auto& c : in) c = alphabet[rng() % sizeof alphabet];
    const std::string out = stuff(in);
    // Ends with the terminator, every CR is followed by LF and every LF preceded by CR,
    // and no line other than the last is a lone ".".
    ASSERT_GE(out.size(), 3u);
    ASSERT_EQ(out.substr(out.size() - 3), ".\r\n");
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i] == '\r') {
        ASSERT_TRUE(i + 1 < out.size() && out[i + 1] == '\n') << testing::PrintToString(in);
      }
      if (out[i] == '\n') {
        ASSERT_TRUE(i > 0 && out[i - 1] == '\r') << testing::PrintToString(in);
      }
    }
    ASSERT_EQ(out.find("\r\n.\r\n"), out.size() == 3 ? std::string::npos : out.size() - 5)
        << testing::PrintToString(in);
  }
}

// Stuffing (any chunking) then POP3 unstuffing gives back the normalised body.
TEST(DotStuffer, RoundTripThroughPop3Unstuffing) {
  std::mt19937 rng(4242);
  const char alphabet[] = {'.', '.', '.', '\r', '\n', '\n', 'a', 'b', ' ', '\0', '\xc3', '\xa4'};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string in(rng() % 64, ' ');
    for (auto& c : in) c = alphabet[rng() % sizeof alphabet];
    dot_stuffer s;
    std::string wire;
    std::string_view rest = in;
    while (!rest.empty()) {
      const std::size_t n = std::min<std::size_t>(rest.size(), rng() % 5);
      s.feed(rest.substr(0, n), wire);
      rest.remove_prefix(n);
    }
    s.finish(wire);
    ASSERT_EQ(wire, stuff(in)) << testing::PrintToString(in);
    ASSERT_EQ(unstuff(wire), normalised(in)) << testing::PrintToString(in);
  }
}

TEST(DotStuffer, RealisticMessage) {
  const std::string msg =
      "From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: dots\n\n"
      "Lines:\n.\n..\n.hidden\nSignature:\n-- \n.Alice\n";
  const std::string wire = stuff(msg);
  EXPECT_EQ(wire,
            "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: dots\r\n\r\n"
            "Lines:\r\n..\r\n...\r\n..hidden\r\nSignature:\r\n-- \r\n..Alice\r\n.\r\n");
  EXPECT_EQ(unstuff(wire), normalised(msg));
}

}  // namespace
}  // namespace mailbroker::smtp
