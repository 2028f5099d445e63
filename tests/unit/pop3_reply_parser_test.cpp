#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "protocol/pop3/reply_parser.hpp"

namespace mailbroker::pop3 {

static void PrintTo(const reply& r, std::ostream* os) {
  static const char* const types[] = {"+OK", "-ERR", "+"};
  *os << "{" << types[static_cast<int>(r.type)] << " code=" << r.code << " text=" << testing::PrintToString(r.text)
      << " lines=" << testing::PrintToString(r.lines) << "}";
}

namespace {

using namespace std::string_literals;

reply ok(std::string text, std::vector<std::string> lines = {}) { return {reply_type::ok, "", text, lines}; }
reply err(std::string code, std::string text) { return {reply_type::err, code, text, {}}; }
reply cont(std::string text) { return {reply_type::continuation, "", text, {}}; }

struct outcome {
  parse_status status;
  reply r;           // complete only
  std::string body;  // streamed replies: every chunk, concatenated
  std::string error;
  bool operator==(const outcome&) const = default;
};

void PrintTo(const outcome& o, std::ostream* os) {
  static const char* const names[] = {"need_more", "body_chunk", "complete", "recoverable_error", "fatal_error"};
  *os << names[static_cast<int>(o.status)] << " ";
  if (o.status == parse_status::complete) PrintTo(o.r, os);
  *os << " body=" << testing::PrintToString(o.body) << " error=" << testing::PrintToString(o.error);
}

// The documented caller loop; `kinds[i]` is expected for the i-th reply (single_line
// once they run out). Checks the feed() contract on every call.
std::vector<outcome> run(reply_parser& p, const std::vector<std::string_view>& chunks,
                         const std::vector<reply_kind>& kinds, parser_limits limits) {
  std::vector<outcome> out;
  std::string body;
  std::size_t index = 0;
  auto next_kind = [&] { EXPECT_TRUE(p.expect(index < kinds.size() ? kinds[index] : reply_kind::single_line)); };
  next_kind();
  for (std::string_view chunk : chunks) {
    while (!chunk.empty()) {
      const parse_result r = p.feed(chunk);
      EXPECT_LE(r.consumed, chunk.size());
      if (r.consumed > chunk.size()) return out;
      if (r.status == parse_status::need_more) {
        EXPECT_EQ(r.consumed, chunk.size());
      }
      if (r.status == parse_status::complete || r.status == parse_status::recoverable_error ||
          r.status == parse_status::body_chunk) {
        EXPECT_GT(r.consumed, 0u);
        if (r.consumed == 0) return out;
      }
      chunk.remove_prefix(r.consumed);
      switch (r.status) {
        case parse_status::need_more: EXPECT_TRUE(p.error().empty()); break;
        case parse_status::body_chunk: {
          std::string c = p.take_chunk();
          EXPECT_FALSE(c.empty());
          EXPECT_LE(c.size(), limits.max_chunk_bytes + limits.max_line_bytes);
          body += c;
          break;
        }
        case parse_status::complete:
          body += p.take_chunk();
          out.push_back({r.status, p.take(), std::exchange(body, {}), ""});
          ++index;
          next_kind();
          break;
        case parse_status::recoverable_error:
          EXPECT_FALSE(p.error().empty());
          out.push_back({r.status, {}, "", p.error()});
          ++index;
          next_kind();
          break;
        case parse_status::fatal_error:
          EXPECT_FALSE(p.error().empty());
          out.push_back({r.status, {}, "", p.error()});
          EXPECT_EQ(p.feed("+OK\r\n").status, parse_status::fatal_error) << "fatal must be sticky";
          return out;
      }
    }
  }
  return out;
}

std::vector<outcome> run_whole(std::string_view in, const std::vector<reply_kind>& kinds = {},
                               parser_limits limits = {}) {
  reply_parser p(limits);
  return run(p, {in}, kinds, limits);
}

// Every two-chunk split and byte-at-a-time feeding must give `expected`.
void expect_chunking_invariant(std::string_view in, const std::vector<reply_kind>& kinds,
                               const std::vector<outcome>& expected, parser_limits limits = {}) {
  for (std::size_t split = 0; split <= in.size(); ++split) {
    reply_parser p(limits);
    ASSERT_EQ(run(p, {in.substr(0, split), in.substr(split)}, kinds, limits), expected) << "split at " << split;
  }
  reply_parser p(limits);
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < in.size(); ++i) bytes.push_back(in.substr(i, 1));
  ASSERT_EQ(run(p, bytes, kinds, limits), expected) << "one byte at a time";
}

outcome done(reply r, std::string body = "") { return {parse_status::complete, std::move(r), std::move(body), ""}; }

struct single_case {
  const char* name;
  std::string input;
  reply expected;
};

TEST(Pop3ReplyParser, SingleLineReplies) {
  const std::vector<single_case> cases = {
      {"dovecot_greeting", "+OK Dovecot (Debian) ready.\r\n", ok("Dovecot (Debian) ready.")},
      {"apop_greeting", "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
       ok("POP3 server ready <1896.697170952@dbc.mtview.ca.us>")},
      {"bare_ok", "+OK\r\n", ok("")},
      {"ok_space", "+OK \r\n", ok("")},
      {"lower_case_bare_lf", "+ok Logged in.\n", ok("Logged in.")},
      {"code_after_ok",
       "+OK [XYZ/ABC] allowed by the grammar\r\n",
       {reply_type::ok, "XYZ/ABC", "allowed by the grammar", {}}},
      {"code_runs_into_text", "-ERR [IN-USE]locked\r\n", err("IN-USE", "locked")},
      {"bad_code_stays_text", "+OK [A//B] x\r\n", ok("[A//B] x")},
      {"trailing_slash_stays_text", "-ERR [SYS/] x\r\n", err("", "[SYS/] x")},
      {"bracket_inside_code", "-ERR [A[B] x\r\n", err("A[B", "x")},
      {"continuation_no_code", "+ [AUTH]\r\n", cont("[AUTH]")},
      {"stat", "+OK 2 320\r\n", ok("2 320")},
      {"auth_failed", "-ERR [AUTH] Authentication failed.\r\n", err("AUTH", "Authentication failed.")},
      {"sys_temp", "-ERR [SYS/TEMP] Temporary authentication failure. [host:2026-11-27 10:00:00]\r\n",
       err("SYS/TEMP", "Temporary authentication failure. [host:2026-11-27 10:00:00]")},
      {"in_use", "-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n",
       err("IN-USE", "Mailbox is locked by another POP3 session.")},
      {"code_lower_case", "-ERR [sys/perm] no\r\n", err("SYS/PERM", "no")},
      {"code_only", "-ERR [LOGIN-DELAY]\r\n", err("LOGIN-DELAY", "")},
      {"unclosed_code_is_text", "-ERR [AUTH failed\r\n", err("", "[AUTH failed")},
      {"empty_brackets_are_text", "-ERR [] x\r\n", err("", "[] x")},
      {"code_with_space_is_text", "-ERR [A B] x\r\n", err("", "[A B] x")},
      {"bare_err", "-ERR\r\n", err("", "")},
      {"err_text", "-ERR Unknown command: FOO\r\n", err("", "Unknown command: FOO")},
      {"continuation_empty", "+ \r\n", cont("")},
      {"continuation_bare", "+\r\n", cont("")},
      {"continuation_base64", "+ UGFzc3dvcmQ6\r\n", cont("UGFzc3dvcmQ6")},
      {"eight_bit_and_tab", "-ERR Zugriff\tverweigert \xc3\xa4\r\n", err("", "Zugriff\tverweigert \xc3\xa4")},
      {"bare_cr_kept", "+OK a\rb\r\n", ok("a\rb")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    expect_chunking_invariant(c.input, {}, {done(c.expected)});
  }
}

TEST(Pop3ReplyParser, MultiLineReplies) {
  struct multi_case {
    const char* name;
    std::string input;
    reply expected;
  };
  const std::vector<multi_case> cases = {
      {"dovecot_capa",
       "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\n"
       "SASL PLAIN LOGIN\r\n.\r\n",
       ok("",
          {"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS", "USER", "SASL PLAIN LOGIN"})},
      {"list", "+OK 2 messages:\r\n1 120\r\n2 200\r\n.\r\n", ok("2 messages:", {"1 120", "2 200"})},
      {"uidl", "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n",
       ok("", {"1 whqtswO00WBw418f9t5JxYwZ", "2 QhdPYR:00WBw1Ph7x7"})},
      {"empty_list", "+OK 0 messages:\r\n.\r\n", ok("0 messages:")},
      {"dot_unstuffing", "+OK\r\n..\r\n...\r\n.x\r\n..hidden\r\n a.\r\n.\r\n",
       ok("", {".", "..", "x", ".hidden", " a."})},
      {"empty_lines_and_bare_lf", "+OK\n\nline\n\r\n.\n", ok("", {"", "line", ""})},
      {"dot_with_space_is_data", "+OK\r\n. \r\n.\r\n", ok("", {" "})},
      {"err_ends_at_once", "-ERR [SYS/TEMP] Try again\r\n", err("SYS/TEMP", "Try again")},
      {"continuation_ends_at_once", "+ \r\n", cont("")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    expect_chunking_invariant(c.input, {reply_kind::multi_line}, {done(c.expected)});
  }
}

TEST(Pop3ReplyParser, StreamedRetrDeliversUnstuffedCrlfBody) {
  const std::string in =
      "+OK 95 octets\r\nFrom: a@example.org\r\nSubject: dots\r\n\r\n..leading dot\r\n...\r\nbare lf\nend\r\n.\r\n";
  const std::string body = "From: a@example.org\r\nSubject: dots\r\n\r\n.leading dot\r\n..\r\nbare lf\r\nend\r\n";
  expect_chunking_invariant(in, {reply_kind::multi_line_streamed}, {done(ok("95 octets"), body)});
  // A -ERR to RETR has no body.
  expect_chunking_invariant("-ERR [IN-USE] locked\r\n", {reply_kind::multi_line_streamed},
                            {done(err("IN-USE", "locked"))});
}

TEST(Pop3ReplyParser, StreamedChunksAreBounded) {
  std::string in = "+OK\r\n";
  std::string body;
  for (int i = 0; i < 200; ++i) {
    const std::string line = "line " + std::to_string(i) + " of a longer message body";
    in += line + "\r\n";
    body += line + "\r\n";
  }
  in += ".\r\n";
  const parser_limits limits{.max_line_bytes = 100, .max_multiline_bytes = 1000, .max_chunk_bytes = 256};
  reply_parser p(limits);
  p.expect(reply_kind::multi_line_streamed);
  std::string_view rest = in;
  std::string got;
  int chunks = 0;
  for (;;) {
    const parse_result r = p.feed(rest);
    rest.remove_prefix(r.consumed);
    const std::string c = p.take_chunk();
    EXPECT_LE(c.size(), limits.max_chunk_bytes + limits.max_line_bytes);
    got += c;
    if (r.status == parse_status::complete) break;
    ASSERT_EQ(r.status, parse_status::body_chunk);
    ++chunks;
  }
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(got, body);
  EXPECT_GT(chunks, 10);  // the body is ~8 KiB, far above max_multiline_bytes: never buffered whole
}

TEST(Pop3ReplyParser, DovecotSessionTranscript) {
  const std::string in =
      "+OK Dovecot (Debian) ready.\r\n"
      "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n"
      "+OK\r\n"
      "-ERR [AUTH] Authentication failed.\r\n"
      "+ \r\n"
      "+OK Logged in.\r\n"
      "+OK 2 330\r\n"
      "+OK 2 messages:\r\n1 130\r\n2 200\r\n.\r\n"
      "+OK\r\n1 UID1-1700000000\r\n2 UID2-1700000000\r\n.\r\n"
      "+OK 130 octets\r\nSubject: hi\r\n\r\n..\r\nbye\r\n.\r\n"
      "+OK Logging out.\r\n";
  using k = reply_kind;
  const std::vector<reply_kind> kinds = {k::single_line, k::multi_line,          k::single_line, k::single_line,
                                         k::single_line, k::single_line,         k::single_line, k::multi_line,
                                         k::multi_line,  k::multi_line_streamed, k::single_line};
  const std::vector<outcome> expected = {
      done(ok("Dovecot (Debian) ready.")),
      done(ok("", {"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS", "USER", "SASL PLAIN"})),
      done(ok("")),
      done(err("AUTH", "Authentication failed.")),
      done(cont("")),
      done(ok("Logged in.")),
      done(ok("2 330")),
      done(ok("2 messages:", {"1 130", "2 200"})),
      done(ok("", {"1 UID1-1700000000", "2 UID2-1700000000"})),
      done(ok("130 octets"), "Subject: hi\r\n\r\n.\r\nbye\r\n"),
      done(ok("Logging out.")),
  };
  expect_chunking_invariant(in, kinds, expected);
}

struct error_case {
  const char* name;
  std::string input;
  reply_kind kind;
  parse_status status;
  std::string error;
};

TEST(Pop3ReplyParser, Errors) {
  const parser_limits limits{.max_line_bytes = 32, .max_multiline_bytes = 64, .max_chunk_bytes = 16};
  const std::vector<error_case> cases = {
      {"garbage_single", "HELLO\r\n", reply_kind::single_line, parse_status::recoverable_error,
       "status line does not start with +OK, -ERR or +"},
      {"empty_single", "\r\n", reply_kind::single_line, parse_status::recoverable_error, "empty status line"},
      {"okay_is_not_ok", "+OKAY\r\n", reply_kind::single_line, parse_status::recoverable_error,
       "status line does not start with +OK, -ERR or +"},
      {"errx", "-ERRx\r\n", reply_kind::single_line, parse_status::recoverable_error,
       "status line does not start with +OK, -ERR or +"},
      {"plus_tab", "+\tx\r\n", reply_kind::single_line, parse_status::recoverable_error,
       "status line does not start with +OK, -ERR or +"},
      {"garbage_multi", "* OK\r\n", reply_kind::multi_line, parse_status::fatal_error,
       "status line does not start with +OK, -ERR or + where a multi-line reply was expected"},
      {"garbage_streamed", "\r\n", reply_kind::multi_line_streamed, parse_status::fatal_error,
       "empty status line where a multi-line reply was expected"},
      {"long_status_line", "+OK " + std::string(40, 'x') + "\r\n", reply_kind::single_line, parse_status::fatal_error,
       "line longer than 32 bytes"},
      {"long_line_without_end", "+OK " + std::string(40, 'x'), reply_kind::single_line, parse_status::fatal_error,
       "line longer than 32 bytes"},
      {"long_body_line", "+OK\r\n" + std::string(40, 'x') + "\r\n.\r\n", reply_kind::multi_line_streamed,
       parse_status::fatal_error, "line longer than 32 bytes"},
      {"multiline_too_big",
       "+OK\r\n" + std::string(20, 'a') + "\r\n" + std::string(20, 'b') + "\r\n" + std::string(20, 'c') + "\r\n.\r\n",
       reply_kind::multi_line, parse_status::fatal_error, "multi-line reply longer than 64 bytes"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto got = run_whole(c.input, {c.kind}, limits);
    ASSERT_FALSE(got.empty());
    const outcome& last = got.back();
    EXPECT_EQ(last.status, c.status);
    EXPECT_EQ(last.error, c.error);
    // The same verdict whatever the chunking (body chunks before a fatal error aside).
    for (std::size_t split = 0; split <= c.input.size(); ++split) {
      reply_parser p(limits);
      const auto again = run(p, {std::string_view(c.input).substr(0, split), std::string_view(c.input).substr(split)},
                             {c.kind}, limits);
      ASSERT_FALSE(again.empty());
      EXPECT_EQ(again.back().status, c.status) << "split at " << split;
      EXPECT_EQ(again.back().error, c.error) << "split at " << split;
    }
  }
}

TEST(Pop3ReplyParser, LineLimitIsInclusive) {
  const parser_limits limits{.max_line_bytes = 8, .max_multiline_bytes = 64, .max_chunk_bytes = 16};
  EXPECT_EQ(run_whole("+OK 1234\r\n", {}, limits).back().status, parse_status::fatal_error);  // 10 bytes
  EXPECT_EQ(run_whole("+OK 12\r\n", {}, limits), std::vector<outcome>{done(ok("12"))});       // 8 bytes
  EXPECT_EQ(run_whole("+OK 123\n", {}, limits), std::vector<outcome>{done(ok("123"))});       // 8 bytes, bare LF
}

TEST(Pop3ReplyParser, RecoversAfterInvalidSingleLine) {
  const std::vector<outcome> expected = {
      {parse_status::recoverable_error, {}, "", "status line does not start with +OK, -ERR or +"},
      done(ok("fine")),
  };
  expect_chunking_invariant("junk\r\n+OK fine\r\n", {}, expected);
}

TEST(Pop3ReplyParser, ExpectIsRefusedMidReply) {
  reply_parser p;
  EXPECT_TRUE(p.expect(reply_kind::multi_line));
  EXPECT_EQ(p.feed("+OK\r\nline").status, parse_status::need_more);
  EXPECT_FALSE(p.expect(reply_kind::single_line));
  const parse_result r = p.feed("\r\n.\r\n+OK next\r\n");
  EXPECT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.consumed, 5u);
  EXPECT_EQ(p.take(), ok("", {"line"}));
  // Back to single_line by itself: "+OK next" is a whole reply.
  EXPECT_EQ(p.feed("+OK next\r\n").status, parse_status::complete);
  EXPECT_EQ(p.take(), ok("next"));
}

TEST(Pop3ReplyParser, FeedStopsAtReplyEnd) {
  reply_parser p;
  const std::string in = "+OK a\r\n+OK b\r\n";
  const parse_result r = p.feed(in);
  EXPECT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.consumed, 7u);
  EXPECT_EQ(p.take(), ok("a"));
  EXPECT_EQ(p.take(), reply{});  // once only
}

TEST(Pop3ReplyParser, EmptyLineFloodCountsWhatTheLinesCostInMemory) {
  // 100 empty lines are 200 bytes on the wire but 100 strings in memory: the limit
  // counts the strings, so a hostile server cannot multiply its bytes ~16x.
  reply_parser p({.max_line_bytes = 64, .max_multiline_bytes = 1000, .max_chunk_bytes = 16});
  std::string flood = "+OK\r\n";
  for (int i = 0; i < 100; ++i) flood += "\r\n";
  flood += ".\r\n";
  ASSERT_TRUE(p.expect(reply_kind::multi_line));
  const auto r = p.feed(flood);
  EXPECT_EQ(r.status, parse_status::fatal_error);
  EXPECT_NE(p.error().find("multi-line reply longer than 1000 bytes"), std::string::npos) << p.error();
}

TEST(Pop3ReplyParser, FatalIsStickyUntilReset) {
  reply_parser p({.max_line_bytes = 6, .max_multiline_bytes = 64, .max_chunk_bytes = 16});
  EXPECT_EQ(p.feed("+OK hello\r\n").status, parse_status::fatal_error);
  EXPECT_EQ(p.feed("+OK\r\n").status, parse_status::fatal_error);
  EXPECT_EQ(p.feed("+OK\r\n").consumed, 0u);
  p.reset();
  EXPECT_TRUE(p.error().empty());
  EXPECT_EQ(p.feed("+OK\r\n").status, parse_status::complete);
}

TEST(Pop3ReplyParser, ResetDropsPartialReply) {
  reply_parser p;
  p.expect(reply_kind::multi_line);
  EXPECT_EQ(p.feed("+OK\r\npartial").status, parse_status::need_more);
  p.reset();
  EXPECT_EQ(p.feed("-ERR x\r\n").status, parse_status::complete);
  EXPECT_EQ(p.take(), err("", "x"));
}

TEST(Pop3ReplyParser, ErrorsContainNoServerText) {
  reply_parser p;
  EXPECT_EQ(p.feed("secret-token-XYZ\r\n").status, parse_status::recoverable_error);
  EXPECT_EQ(p.error().find("XYZ"), std::string::npos);
}

TEST(Pop3ReplyParser, BodyJoinsLinesWithCrlf) {
  EXPECT_EQ(ok("", {"a", "", ".b"}).body(), "a\r\n\r\n.b\r\n");
  EXPECT_EQ(ok("").body(), "");
}

}  // namespace
}  // namespace mailbroker::pop3
