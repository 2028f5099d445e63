// SMTP reply parser (reply_parser.hpp) and EHLO capabilities (reply.hpp).
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "protocol/smtp/reply_parser.hpp"

namespace mailbroker::smtp {

static void PrintTo(const reply& r, std::ostream* os) {
  *os << "{" << r.code;
  if (r.enhanced) *os << " " << r.enhanced->klass << "." << r.enhanced->subject << "." << r.enhanced->detail;
  *os << " " << testing::PrintToString(r.lines) << "}";
}

namespace {

reply make(int code, std::vector<std::string> lines, std::optional<enhanced_code> ec = std::nullopt) {
  return {code, ec, std::move(lines)};
}

struct outcome {
  parse_status status;
  reply r;
  std::string error;
  bool operator==(const outcome&) const = default;
};

void PrintTo(const outcome& o, std::ostream* os) {
  static const char* const names[] = {"need_more", "complete", "recoverable_error", "fatal_error"};
  *os << names[static_cast<int>(o.status)] << " ";
  PrintTo(o.r, os);
  *os << " " << testing::PrintToString(o.error);
}

outcome done(reply r) { return {parse_status::complete, std::move(r), ""}; }

std::vector<outcome> run(reply_parser& p, const std::vector<std::string_view>& chunks) {
  std::vector<outcome> out;
  for (std::string_view chunk : chunks) {
    while (!chunk.empty()) {
      const parse_result r = p.feed(chunk);
      EXPECT_LE(r.consumed, chunk.size());
      if (r.consumed > chunk.size()) return out;
      if (r.status == parse_status::need_more) {
        EXPECT_EQ(r.consumed, chunk.size());
      } else if (r.status != parse_status::fatal_error) {
        EXPECT_GT(r.consumed, 0u);
        if (r.consumed == 0) return out;
      }
      chunk.remove_prefix(r.consumed);
      switch (r.status) {
        case parse_status::need_more: EXPECT_TRUE(p.error().empty()); break;
        case parse_status::complete: out.push_back({r.status, p.take(), ""}); break;
        case parse_status::recoverable_error:
          EXPECT_FALSE(p.error().empty());
          out.push_back({r.status, {}, p.error()});
          break;
        case parse_status::fatal_error:
          EXPECT_FALSE(p.error().empty());
          out.push_back({r.status, {}, p.error()});
          EXPECT_EQ(p.feed("250 ok\r\n").status, parse_status::fatal_error) << "fatal must be sticky";
          return out;
      }
    }
  }
  return out;
}

void expect_chunking_invariant(std::string_view in, const std::vector<outcome>& expected, bool enhanced = false,
                               parser_limits limits = {}) {
  for (std::size_t split = 0; split <= in.size(); ++split) {
    reply_parser p(limits);
    p.enhanced_status_codes(enhanced);
    ASSERT_EQ(run(p, {in.substr(0, split), in.substr(split)}), expected) << "split at " << split;
  }
  reply_parser p(limits);
  p.enhanced_status_codes(enhanced);
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < in.size(); ++i) bytes.push_back(in.substr(i, 1));
  ASSERT_EQ(run(p, bytes), expected) << "one byte at a time";
}

const char* const postfix_ehlo =
    "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";

const char* const gmail_ehlo =
    "250-smtp.gmail.com at your service, [203.0.113.7]\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n"
    "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n250-ENHANCEDSTATUSCODES\r\n"
    "250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n";

TEST(SmtpReplyParser, Replies) {
  struct good {
    const char* name;
    std::string input;
    bool enhanced;
    reply expected;
  };
  const std::vector<good> cases = {
      {"postfix_greeting", "220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n", false,
       make(220, {"mail.example.org ESMTP Postfix (Debian/GNU)"})},
      {"bare_code", "250\r\n", false, make(250, {""})},
      {"code_space", "250 \r\n", false, make(250, {""})},
      {"bare_lf", "354 End data with <CR><LF>.<CR><LF>\n", false, make(354, {"End data with <CR><LF>.<CR><LF>"})},
      {"auth_challenge", "334 VXNlcm5hbWU6\r\n", false, make(334, {"VXNlcm5hbWU6"})},
      {"empty_challenge", "334 \r\n", false, make(334, {""})},
      {"postfix_ehlo", postfix_ehlo, false,
       make(250, {"mail.example.org", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES",
                  "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"})},
      {"multi_with_bare_dash_line", "250-\r\n250 x\r\n", false, make(250, {"", "x"})},
      {"enhanced_ignored_when_off", "250 2.0.0 Ok: queued as 4F2B81A0\r\n", false,
       make(250, {"2.0.0 Ok: queued as 4F2B81A0"})},
      {"enhanced_queued", "250 2.0.0 Ok: queued as 4F2B81A0\r\n", true,
       make(250, {"Ok: queued as 4F2B81A0"}, enhanced_code{2, 0, 0})},
      {"gmail_auth_failure",
       "535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
       "535 5.7.8  https://support.google.com/mail/?p=BadCredentials a1-20020a05\r\n",
       true,
       make(535,
            {"Username and Password not accepted. For more information, go to",
             " https://support.google.com/mail/?p=BadCredentials a1-20020a05"},
            enhanced_code{5, 7, 8})},
      {"enhanced_only_on_first_line", "550-5.1.1 no such user\r\n550 continued text\r\n", true,
       make(550, {"no such user", "continued text"}, enhanced_code{5, 1, 1})},
      {"enhanced_code_alone", "451 4.3.0\r\n", true, make(451, {""}, enhanced_code{4, 3, 0})},
      {"enhanced_three_digits", "554 5.123.456 x\r\n", true, make(554, {"x"}, enhanced_code{5, 123, 456})},
      {"enhanced_class_3_is_text", "354 3.0.0 go ahead\r\n", true, make(354, {"3.0.0 go ahead"})},
      {"enhanced_class_mismatch_is_text", "250 5.0.0 odd\r\n", true, make(250, {"5.0.0 odd"})},
      {"enhanced_four_digits_is_text", "250 2.1234.0 x\r\n", true, make(250, {"2.1234.0 x"})},
      {"enhanced_not_followed_by_space", "250 2.0.0a x\r\n", true, make(250, {"2.0.0a x"})},
      {"enhanced_missing_detail", "250 2.0 x\r\n", true, make(250, {"2.0 x"})},
      {"gmail_ehlo_enhanced_none", gmail_ehlo, true,
       make(250, {"smtp.gmail.com at your service, [203.0.113.7]", "SIZE 35882577", "8BITMIME",
                  "AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH", "ENHANCEDSTATUSCODES", "PIPELINING",
                  "CHUNKING", "SMTPUTF8"})},
      {"utf8_text", "550 5.1.1 <j\xc3\xbcrgen@example.org> unknown\r\n", true,
       make(550, {"<j\xc3\xbcrgen@example.org> unknown"}, enhanced_code{5, 1, 1})},
      {"max_code", "599 x\r\n", false, make(599, {"x"})},
      {"min_code", "200 x\r\n", false, make(200, {"x"})},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    expect_chunking_invariant(c.input, {done(c.expected)}, c.enhanced);
  }
}

TEST(SmtpReplyParser, PipelinedReplies) {
  const std::string in =
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <bob@example.org>: Recipient address rejected\r\n"
      "354 End data with <CR><LF>.<CR><LF>\r\n";
  expect_chunking_invariant(
      in,
      {done(make(250, {"Ok"}, enhanced_code{2, 1, 0})), done(make(250, {"Ok"}, enhanced_code{2, 1, 5})),
       done(make(550, {"<bob@example.org>: Recipient address rejected"}, enhanced_code{5, 1, 1})),
       done(make(354, {"End data with <CR><LF>.<CR><LF>"}))},
      true);
}

TEST(SmtpReplyParser, FeedStopsAtReplyEnd) {
  reply_parser p;
  const std::string in = "220 ready\r\n\x16\x03\x01 TLS bytes";
  const parse_result r = p.feed(in);
  EXPECT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.consumed, 11u);
  EXPECT_EQ(p.take(), make(220, {"ready"}));
  EXPECT_EQ(p.take(), reply{});
}

TEST(SmtpReplyParser, Errors) {
  struct bad {
    const char* name;
    std::string input;
    parse_status status;
    std::string error;
  };
  const parser_limits limits{.max_line_bytes = 40, .max_lines = 3};
  const std::vector<bad> cases = {
      {"code_mismatch", "250-first\r\n251 last\r\n", parse_status::recoverable_error,
       "lines of one reply have different codes"},
      {"code_too_small", "199 x\r\n", parse_status::recoverable_error, "reply code 199 out of range 200..599"},
      {"code_too_big", "600 x\r\n", parse_status::recoverable_error, "reply code 600 out of range 200..599"},
      {"code_zero", "000\r\n", parse_status::recoverable_error, "reply code 0 out of range 200..599"},
      {"no_code", "hello\r\n", parse_status::fatal_error, "line 1 does not start with a 3-digit code"},
      {"empty_line", "\r\n", parse_status::fatal_error, "line 1 does not start with a 3-digit code"},
      {"two_digits", "25\r\n", parse_status::fatal_error, "line 1 does not start with a 3-digit code"},
      {"bad_second_line", "250-a\r\nxyz\r\n", parse_status::fatal_error, "line 2 does not start with a 3-digit code"},
      {"bad_separator", "250_x\r\n", parse_status::fatal_error, "line 1: expected '-' or SP after the code"},
      {"four_digits", "2500 x\r\n", parse_status::fatal_error, "line 1: expected '-' or SP after the code"},
      {"tab_separator", "250\tx\r\n", parse_status::fatal_error, "line 1: expected '-' or SP after the code"},
      {"line_too_long", "250 " + std::string(40, 'x') + "\r\n", parse_status::fatal_error, "line longer than 40 bytes"},
      {"line_too_long_no_end", "250 " + std::string(40, 'x'), parse_status::fatal_error, "line longer than 40 bytes"},
      {"too_many_lines", "250-a\r\n250-b\r\n250-c\r\n250 d\r\n", parse_status::fatal_error,
       "reply longer than 3 lines"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    for (std::size_t split = 0; split <= c.input.size(); ++split) {
      reply_parser p(limits);
      const auto got = run(p, {std::string_view(c.input).substr(0, split), std::string_view(c.input).substr(split)});
      ASSERT_EQ(got.size(), 1u) << "split at " << split;
      EXPECT_EQ(got[0].status, c.status) << "split at " << split;
      EXPECT_EQ(got[0].error, c.error) << "split at " << split;
    }
  }
}

TEST(SmtpReplyParser, LimitsAreInclusive) {
  const parser_limits limits{.max_line_bytes = 8, .max_lines = 2};
  expect_chunking_invariant("250 abc\r\n", {{parse_status::fatal_error, {}, "line longer than 8 bytes"}}, false,
                            limits);
  expect_chunking_invariant("250 ab\r\n", {done(make(250, {"ab"}))}, false, limits);
  expect_chunking_invariant("250-a\r\n250 b\r\n", {done(make(250, {"a", "b"}))}, false, limits);
}

TEST(SmtpReplyParser, RecoversAfterMismatchedReply) {
  expect_chunking_invariant("250-a\r\n550 b\r\n221 2.0.0 Bye\r\n",
                            {{parse_status::recoverable_error, {}, "lines of one reply have different codes"},
                             done(make(221, {"Bye"}, enhanced_code{2, 0, 0}))},
                            true);
}

TEST(SmtpReplyParser, FatalIsStickyUntilReset) {
  reply_parser p;
  EXPECT_EQ(p.feed("HTTP/1.1 400 Bad Request\r\n").status, parse_status::fatal_error);
  EXPECT_EQ(p.feed("250 ok\r\n").consumed, 0u);
  p.reset();
  EXPECT_EQ(p.feed("250 ok\r\n").status, parse_status::complete);
  EXPECT_EQ(p.take(), make(250, {"ok"}));
}

TEST(SmtpReplyParser, ResetKeepsEnhancedSetting) {
  reply_parser p;
  p.enhanced_status_codes(true);
  EXPECT_EQ(p.feed("250-partial\r\n").status, parse_status::need_more);
  p.reset();
  EXPECT_EQ(p.feed("250 2.0.0 Ok\r\n").status, parse_status::complete);
  EXPECT_EQ(p.take(), make(250, {"Ok"}, enhanced_code{2, 0, 0}));
}

TEST(SmtpReplyParser, ErrorsContainNoServerText) {
  reply_parser p;
  EXPECT_EQ(p.feed("secretXYZ\r\n").status, parse_status::fatal_error);
  EXPECT_EQ(p.error().find("XYZ"), std::string::npos);
}

TEST(SmtpReply, Classes) {
  EXPECT_TRUE(make(250, {}).is_positive() && make(250, {}).is_completion());
  EXPECT_TRUE(make(354, {}).is_positive() && make(354, {}).is_intermediate());
  EXPECT_TRUE(make(334, {}).is_intermediate() && !make(334, {}).is_completion());
  EXPECT_TRUE(make(421, {}).is_transient() && !make(421, {}).is_positive());
  EXPECT_TRUE(make(554, {}).is_permanent() && !make(554, {}).is_transient());
}

// ---- EHLO ----

reply parse_one(std::string_view in) {
  reply_parser p;
  const parse_result r = p.feed(in);
  EXPECT_EQ(r.status, parse_status::complete);
  return p.take();
}

TEST(SmtpEhlo, Postfix) {
  const auto caps = parse_ehlo(parse_one(postfix_ehlo));
  ASSERT_TRUE(caps.ok()) << caps.err().message;
  EXPECT_EQ(caps->domain, "mail.example.org");
  EXPECT_EQ(caps->size, 10240000u);
  EXPECT_TRUE(caps->pipelining && caps->starttls && caps->enhanced_status_codes && caps->eightbitmime &&
              caps->smtputf8 && caps->chunking);
  EXPECT_TRUE(caps->auth.empty());
  EXPECT_EQ(caps->keywords,
            (std::vector<std::string>{"PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES",
                                      "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}));
}

TEST(SmtpEhlo, Gmail) {
  const auto caps = parse_ehlo(parse_one(gmail_ehlo));
  ASSERT_TRUE(caps.ok()) << caps.err().message;
  EXPECT_EQ(caps->domain, "smtp.gmail.com");
  EXPECT_EQ(caps->size, 35882577u);
  EXPECT_FALSE(caps->starttls);  // already on TLS
  EXPECT_EQ(caps->auth,
            (std::vector<std::string>{"LOGIN", "PLAIN", "XOAUTH2", "PLAIN-CLIENTTOKEN", "OAUTHBEARER", "XOAUTH"}));
  EXPECT_TRUE(caps->has_auth("xoauth2"));
  EXPECT_FALSE(caps->has_auth("CRAM-MD5"));
}

TEST(SmtpEhlo, CaseOldAuthAndSizeWithoutLimit) {
  const auto caps =
      parse_ehlo(parse_one("250-host\r\n250-auth plain login\r\n250-AUTH=PLAIN LOGIN CRAM-MD5\r\n250-size\r\n"
                           "250-starttls\r\n250 8bitmime\r\n"));
  ASSERT_TRUE(caps.ok()) << caps.err().message;
  EXPECT_EQ(caps->auth, (std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5"}));
  EXPECT_EQ(caps->size, 0u);
  EXPECT_TRUE(caps->starttls && caps->eightbitmime);
  EXPECT_FALSE(caps->pipelining || caps->smtputf8 || caps->chunking || caps->enhanced_status_codes);
  EXPECT_EQ(caps->keywords, (std::vector<std::string>{"AUTH", "SIZE", "STARTTLS", "8BITMIME"}));
}

TEST(SmtpEhlo, NoExtensions) {
  const auto caps = parse_ehlo(parse_one("250 tiny.example\r\n"));
  ASSERT_TRUE(caps.ok());
  EXPECT_EQ(caps->domain, "tiny.example");
  EXPECT_FALSE(caps->size.has_value());
  EXPECT_TRUE(caps->keywords.empty());
}

TEST(SmtpEhlo, Errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"502 5.5.2 Error: command not recognized\r\n", "EHLO reply code is 502, not 250"},
      {"250-host\r\n250-\r\n250 X\r\n", "EHLO line 2 has no keyword"},
      {"250-host\r\n250  SIZE\r\n", "EHLO line 2 has no keyword"},
      {"250-host\r\n250 SI_ZE\r\n", "EHLO line 2: keyword has characters other than A-Z 0-9 -"},
      {"250-host\r\n250 SIZE=100\r\n", "EHLO line 2: '=' after a keyword other than AUTH"},
      {"250-host\r\n250-PIPELINING\r\n250 SIZE 10M\r\n", "EHLO line 3: SIZE parameter is not a number"},
      {"250-host\r\n250 SIZE 18446744073709551616\r\n", "EHLO line 2: SIZE parameter out of range"},
  };
  for (const auto& [in, message] : cases) {
    SCOPED_TRACE(in);
    const auto got = parse_ehlo(parse_one(in));
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().code, errc::invalid_argument);
    EXPECT_EQ(got.err().message, message);
  }
}

}  // namespace
}  // namespace mailbroker::smtp
