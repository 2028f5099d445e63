// POP3 command builders (command.hpp) and the reply helpers (reply.hpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/pop3/command.hpp"
#include "protocol/pop3/reply.hpp"

namespace mailbroker::pop3 {
namespace {

using namespace std::string_literals;

TEST(Pop3Command, FixedCommands) {
  EXPECT_EQ(stat_command(), "STAT\r\n");
  EXPECT_EQ(list_command(), "LIST\r\n");
  EXPECT_EQ(uidl_command(), "UIDL\r\n");
  EXPECT_EQ(noop_command(), "NOOP\r\n");
  EXPECT_EQ(rset_command(), "RSET\r\n");
  EXPECT_EQ(quit_command(), "QUIT\r\n");
  EXPECT_EQ(capa_command(), "CAPA\r\n");
  EXPECT_EQ(stls_command(), "STLS\r\n");
  EXPECT_EQ(sasl_cancel(), "*\r\n");
}

TEST(Pop3Command, MessageCommands) {
  EXPECT_EQ(list_command(3).value(), "LIST 3\r\n");
  EXPECT_EQ(uidl_command(4294967295u).value(), "UIDL 4294967295\r\n");
  EXPECT_EQ(retr_command(1).value(), "RETR 1\r\n");
  EXPECT_EQ(dele_command(12).value(), "DELE 12\r\n");
  EXPECT_EQ(top_command(7, 0).value(), "TOP 7 0\r\n");
  EXPECT_EQ(top_command(7, 25).value(), "TOP 7 25\r\n");
  for (const auto& r : {list_command(0), uidl_command(0), retr_command(0), dele_command(0), top_command(0, 5)}) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_EQ(r.err().message, "message number 0: messages are numbered from 1");
  }
}

TEST(Pop3Command, UserAndPass) {
  EXPECT_EQ(user_command("alice@example.org").value(), "USER alice@example.org\r\n");
  EXPECT_EQ(user_command("j\xc3\xbcrgen").value(), "USER j\xc3\xbcrgen\r\n");
  EXPECT_EQ(pass_command("pass word with spaces").value(), "PASS pass word with spaces\r\n");
  // Longer than RFC 1939's 40 characters: allowed, the line stays under 255.
  const std::string long_pass(60, 'p');
  EXPECT_EQ(pass_command(long_pass).value(), "PASS " + long_pass + "\r\n");
}

struct refusal {
  const char* name;
  result<std::string> got;
  errc code;
  std::string message;
};

TEST(Pop3Command, Refusals) {
  const std::vector<refusal> cases = {
      {"user_empty", user_command(""), errc::invalid_argument, "user name is empty"},
      {"user_crlf_injection", user_command("bob\r\nDELE 1"), errc::invalid_argument,
       "user name contains CR, LF or NUL"},
      {"user_lf", user_command("bob\n"), errc::invalid_argument, "user name contains CR, LF or NUL"},
      {"user_nul", user_command("bob\0x"s), errc::invalid_argument, "user name contains CR, LF or NUL"},
      {"user_space", user_command("bob smith"), errc::invalid_argument, "user name contains a space"},
      {"user_tab", user_command("bob\tsmith"), errc::invalid_argument, "user name contains a control character"},
      {"user_del", user_command("bob\x7f"), errc::invalid_argument, "user name contains a control character"},
      {"user_too_long", user_command(std::string(249, 'u')), errc::invalid_argument,
       "user name makes the command longer than 255 bytes"},
      {"pass_empty", pass_command(""), errc::invalid_argument, "password is empty"},
      {"pass_cr", pass_command("se\rcret"), errc::invalid_argument, "password contains CR, LF or NUL"},
      {"pass_nul", pass_command("se\0cret"s), errc::invalid_argument, "password contains CR, LF or NUL"},
      {"pass_too_long", pass_command(std::string(249, 'p')), errc::invalid_argument,
       "password makes the command longer than 255 bytes"},
      {"mech_empty", auth_command("", std::nullopt), errc::invalid_argument,
       "SASL mechanism must be 1 to 20 characters"},
      {"mech_too_long", auth_command(std::string(21, 'A'), std::nullopt), errc::invalid_argument,
       "SASL mechanism must be 1 to 20 characters"},
      {"mech_injection", auth_command("PLAIN\r\nQUIT", std::nullopt), errc::invalid_argument,
       "SASL mechanism contains a character other than A-Z 0-9 - _"},
      {"mech_space", auth_command("PLAIN X", std::nullopt), errc::invalid_argument,
       "SASL mechanism contains a character other than A-Z 0-9 - _"},
      {"ir_too_long", auth_command("XOAUTH2", std::string(200, 'x')), errc::failed_precondition,
       "initial response makes AUTH longer than 255 bytes: send it after the challenge"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_FALSE(c.got.ok());
    EXPECT_EQ(c.got.err().code, c.code);
    EXPECT_EQ(c.got.err().message, c.message);
  }
}

TEST(Pop3Command, LineLimitBoundary) {
  // "USER " + 248 + CRLF = 255 bytes: the largest allowed line.
  EXPECT_TRUE(user_command(std::string(248, 'u')).ok());
  EXPECT_FALSE(user_command(std::string(249, 'u')).ok());
}

TEST(Pop3Command, Auth) {
  EXPECT_EQ(auth_command("plain", std::nullopt).value(), "AUTH PLAIN\r\n");
  EXPECT_EQ(auth_command("PLAIN", "\0alice\0secret"s).value(), "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  EXPECT_EQ(auth_command("EXTERNAL", ""s).value(), "AUTH EXTERNAL =\r\n");  // RFC 5034: "=" is empty
  EXPECT_EQ(auth_command("SCRAM-SHA-256", std::nullopt).value(), "AUTH SCRAM-SHA-256\r\n");
  EXPECT_EQ(sasl_response("\0alice\0secret"s), "AGFsaWNlAHNlY3JldA==\r\n");
  EXPECT_EQ(sasl_response(""), "\r\n");
  // The challenge answer is not bound by the 255-octet line limit.
  EXPECT_EQ(sasl_response(std::string(300, 'x')).size(), 400u + 2u);
}

TEST(Pop3Command, NoValueInErrors) {
  const auto r = pass_command("hunter2\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().message.find("hunter2"), std::string::npos);
}

// ---- reply helpers ----

reply ok(std::string text) { return {reply_type::ok, "", std::move(text), {}}; }

TEST(Pop3Helpers, Stat) {
  EXPECT_EQ(parse_stat(ok("2 320")).value(), (maildrop_stat{2, 320}));
  EXPECT_EQ(parse_stat(ok("0 0")).value(), (maildrop_stat{0, 0}));
  EXPECT_EQ(parse_stat(ok("4294967295 18446744073709551615")).value(),
            (maildrop_stat{4294967295u, 18446744073709551615ull}));
  EXPECT_EQ(parse_stat(ok("3 100 extra info")).value(), (maildrop_stat{3, 100}));
  struct bad {
    reply r;
    std::string message;
  };
  const std::vector<bad> cases = {
      {{reply_type::err, "", "2 320", {}}, "STAT reply is not +OK"},
      {ok(""), "message count is not a decimal number in range"},
      {ok("x 1"), "message count is not a decimal number in range"},
      {ok("4294967296 1"), "message count is not a decimal number in range"},
      {ok("2"), "expected SP after message count"},
      {ok("2  320"), "maildrop size is not a decimal number in range"},
      {ok("2 18446744073709551616"), "maildrop size is not a decimal number in range"},
      {ok("2 320x"), "unexpected character after maildrop size"},
      {ok("-1 320"), "message count is not a decimal number in range"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.r.text);
    const auto got = parse_stat(c.r);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().code, errc::invalid_argument);
    EXPECT_EQ(got.err().message, c.message);
  }
}

TEST(Pop3Helpers, ScanListing) {
  EXPECT_EQ(parse_scan_listing("1 120").value(), (scan_listing{1, 120}));
  EXPECT_EQ(parse_scan_listing("2 200 more").value(), (scan_listing{2, 200}));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0 120", "message number 0"},
      {"", "message number is not a decimal number in range"},
      {"1", "expected SP after message number"},
      {"1 ", "message size is not a decimal number in range"},
      {"1 12a", "unexpected character after message size"},
      {"1\t12", "expected SP after message number"},
  };
  for (const auto& [in, message] : cases) {
    SCOPED_TRACE(in);
    const auto got = parse_scan_listing(in);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().message, message);
  }
}

TEST(Pop3Helpers, UniqueIdListing) {
  EXPECT_EQ(parse_unique_id_listing("1 whqtswO00WBw418f9t5JxYwZ").value(),
            (unique_id_listing{1, "whqtswO00WBw418f9t5JxYwZ"}));
  EXPECT_EQ(parse_unique_id_listing("9 !~").value(), (unique_id_listing{9, "!~"}));
  EXPECT_EQ(parse_unique_id_listing("3 " + std::string(70, 'u')).value(), (unique_id_listing{3, std::string(70, 'u')}));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0 abc", "message number 0"},
      {"x abc", "message number is not a decimal number in range"},
      {"1", "expected SP after message number"},
      {"1 ", "empty unique-id"},
      {"1 " + std::string(71, 'u'), "unique-id longer than 70 characters"},
      {"1 ab c", "invalid character at offset 2 of unique-id"},
      {"1 ab\x7f", "invalid character at offset 2 of unique-id"},
      {"1 \xc3\xa4", "invalid character at offset 0 of unique-id"},
  };
  for (const auto& [in, message] : cases) {
    SCOPED_TRACE(in);
    const auto got = parse_unique_id_listing(in);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().message, message);
  }
}

TEST(Pop3Helpers, CapabilitiesDovecot) {
  const auto caps = parse_capabilities({"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS",
                                        "USER", "SASL PLAIN login xoauth2", "IMPLEMENTATION Dovecot (Debian)"});
  ASSERT_TRUE(caps.ok());
  EXPECT_TRUE(caps->top && caps->uidl && caps->resp_codes && caps->pipelining && caps->auth_resp_code && caps->stls &&
              caps->user);
  EXPECT_EQ(caps->sasl_mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN", "XOAUTH2"}));
  EXPECT_TRUE(caps->has_sasl("XOAuth2"));
  EXPECT_FALSE(caps->has_sasl("CRAM-MD5"));
  EXPECT_EQ(caps->implementation, "Dovecot (Debian)");
  EXPECT_EQ(caps->names.size(), 10u);
  EXPECT_EQ(caps->names.back(), "IMPLEMENTATION");
}

TEST(Pop3Helpers, CapabilitiesMinimalAndCase) {
  const auto caps = parse_capabilities({"user", "top", "expire 31", "login-delay 900", "sasl  plain"});
  ASSERT_TRUE(caps.ok());
  EXPECT_TRUE(caps->user && caps->top);
  EXPECT_FALSE(caps->stls || caps->uidl || caps->pipelining);
  EXPECT_EQ(caps->names, (std::vector<std::string>{"USER", "TOP", "EXPIRE", "LOGIN-DELAY", "SASL"}));
  EXPECT_EQ(caps->sasl_mechanisms, (std::vector<std::string>{"PLAIN"}));
  EXPECT_TRUE(parse_capabilities({}).ok());
}

TEST(Pop3Helpers, CapabilitiesErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"TOP", ""}, "capability line 2 is empty"},
      {{" TOP"}, "capability line 1 starts with SP"},
      {{"TO\tP"}, "capability line 1: invalid character in capability name"},
      {{"UIDL", "ST\xc3\xa4LS"}, "capability line 2: invalid character in capability name"},
  };
  for (const auto& [lines, message] : cases) {
    const auto got = parse_capabilities(lines);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().message, message);
  }
}

}  // namespace
}  // namespace mailbroker::pop3
