#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/smtp/command.hpp"

namespace mailbroker::smtp {
namespace {

using namespace std::string_literals;

TEST(SmtpCommand, FixedCommands) {
  EXPECT_EQ(starttls_command(), "STARTTLS\r\n");
  EXPECT_EQ(data_command(), "DATA\r\n");
  EXPECT_EQ(rset_command(), "RSET\r\n");
  EXPECT_EQ(noop_command(), "NOOP\r\n");
  EXPECT_EQ(quit_command(), "QUIT\r\n");
  EXPECT_EQ(sasl_cancel(), "*\r\n");
}

TEST(SmtpCommand, Greetings) {
  EXPECT_EQ(ehlo_command("client.example.org").value(), "EHLO client.example.org\r\n");
  EXPECT_EQ(helo_command("localhost").value(), "HELO localhost\r\n");
  EXPECT_EQ(ehlo_command("[192.0.2.1]").value(), "EHLO [192.0.2.1]\r\n");
  EXPECT_EQ(ehlo_command("[IPv6:2001:db8::1]").value(), "EHLO [IPv6:2001:db8::1]\r\n");
  EXPECT_EQ(ehlo_command("a-b.c1").value(), "EHLO a-b.c1\r\n");
  EXPECT_TRUE(ehlo_command(std::string(255, 'a')).ok());
}

TEST(SmtpCommand, GreetingRefusals) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "domain is empty"},
      {"host\r\nMAIL FROM:<x@y>", "domain contains a character other than A-Z a-z 0-9 - ."},
      {"ho st", "domain contains a character other than A-Z a-z 0-9 - ."},
      {"h\xc3\xb6st", "domain contains a character other than A-Z a-z 0-9 - ."},
      {"a..b", "domain has an empty label"},
      {".a", "domain has an empty label"},
      {"a.", "domain ends with '.'"},
      {"-a.b", "domain has a label starting with '-'"},
      {"a-.b", "domain has a label ending in '-'"},
      {"a.b-", "domain has a label ending in '-'"},
      {std::string(256, 'a'), "domain is longer than 255 characters"},
      {"[1.2.3.4", "domain address literal is not closed by ']'"},
      {"[]", "domain address literal is not closed by ']'"},
      {"[1.2 .3]", "domain address literal contains an invalid character"},
      {"[1.2\n.3]", "domain address literal contains an invalid character"},
      {"[a]b]", "domain address literal contains an invalid character"},
  };
  for (const auto& [in, message] : cases) {
    SCOPED_TRACE(in);
    for (const auto& got : {ehlo_command(in), helo_command(in)}) {
      ASSERT_FALSE(got.ok());
      EXPECT_EQ(got.err().code, errc::invalid_argument);
      EXPECT_EQ(got.err().message, message);
    }
  }
}

TEST(SmtpCommand, Auth) {
  EXPECT_EQ(auth_command("login", std::nullopt).value(), "AUTH LOGIN\r\n");
  EXPECT_EQ(auth_command("PLAIN", "\0alice\0secret"s).value(), "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  EXPECT_EQ(auth_command("EXTERNAL", ""s).value(), "AUTH EXTERNAL =\r\n");
  // XOAUTH2 tokens are long; RFC 4954 allows up to 12288 octets for the line.
  const auto big = auth_command("XOAUTH2", std::string(2000, 't'));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->size(), 13u + 2668u + 2u);  // "AUTH XOAUTH2 " + base64 + CRLF
  EXPECT_EQ(sasl_response("alice"), "YWxpY2U=\r\n");
  EXPECT_EQ(sasl_response(""), "\r\n");

  const std::vector<std::pair<result<std::string>, std::string>> bad = {
      {auth_command("", std::nullopt), "SASL mechanism must be 1 to 20 characters"},
      {auth_command(std::string(21, 'X'), std::nullopt), "SASL mechanism must be 1 to 20 characters"},
      {auth_command("PLAIN\r\nRSET", std::nullopt), "SASL mechanism contains a character other than A-Z 0-9 - _"},
      {auth_command("PLAIN", std::string(9300, 'x')), "initial response makes AUTH longer than 12288 bytes"},
  };
  for (const auto& [got, message] : bad) {
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().message, message);
  }
}

TEST(SmtpCommand, Mail) {
  EXPECT_EQ(mail_command("alice@example.org").value(), "MAIL FROM:<alice@example.org>\r\n");
  EXPECT_EQ(mail_command("").value(), "MAIL FROM:<>\r\n");
  EXPECT_EQ(mail_command("a@b.c", {.size = 12345, .body_8bitmime = true, .smtputf8 = false}).value(),
            "MAIL FROM:<a@b.c> SIZE=12345 BODY=8BITMIME\r\n");
  EXPECT_EQ(
      mail_command("j\xc3\xbcrgen@b\xc3\xa4r.de", {.size = std::nullopt, .body_8bitmime = false, .smtputf8 = true})
          .value(),
      "MAIL FROM:<j\xc3\xbcrgen@b\xc3\xa4r.de> SMTPUTF8\r\n");
  EXPECT_EQ(mail_command("", {.size = 0, .body_8bitmime = false, .smtputf8 = false}).value(),
            "MAIL FROM:<> SIZE=0\r\n");
}

TEST(SmtpCommand, Rcpt) {
  EXPECT_EQ(rcpt_command("bob@example.org").value(), "RCPT TO:<bob@example.org>\r\n");
  EXPECT_EQ(rcpt_command("Postmaster").value(), "RCPT TO:<Postmaster>\r\n");
  EXPECT_EQ(rcpt_command("\"odd\"@example.org").value(), "RCPT TO:<\"odd\"@example.org>\r\n");
  EXPECT_EQ(rcpt_command("\xe7\x94\xa8\xe6\x88\xb7@example.org", true).value(),
            "RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@example.org>\r\n");
  // Boundaries: local part 64, path 256 with brackets.
  EXPECT_TRUE(rcpt_command(std::string(64, 'l') + "@x.org").ok());
  EXPECT_TRUE(rcpt_command(std::string(64, 'l') + "@" + std::string(189, 'd')).ok());   // 254 characters
  EXPECT_FALSE(rcpt_command(std::string(64, 'l') + "@" + std::string(190, 'd')).ok());  // 255
}

TEST(SmtpCommand, AddressRefusals) {
  struct bad {
    std::string address;
    bool smtputf8;
    std::string message;
  };
  const std::vector<bad> cases = {
      {"", false, "recipient 2 is empty"},
      {"bob@example.org\r\nRCPT TO:eve@evil.example", false, "recipient 2 contains CR, LF or NUL"},
      {"bob@ex\nample.org", false, "recipient 2 contains CR, LF or NUL"},
      {"bob\0@example.org"s, false, "recipient 2 contains CR, LF or NUL"},
      {"bob\t@example.org", false, "recipient 2 contains a control character"},
      {"bob\x7f@example.org", false, "recipient 2 contains a control character"},
      {"bob smith@example.org", false, "recipient 2 contains a space"},
      {"<bob@example.org>", false, "recipient 2 contains '<' or '>'"},
      {"bob@example.org> SIZE=1", false, "recipient 2 contains '<' or '>'"},
      {"bob@example.org SIZE=1", false, "recipient 2 contains a space"},
      {"b>ob@example.org", false, "recipient 2 contains '<' or '>'"},
      {"j\xc3\xbcrgen@example.org", false, "recipient 2 contains non-ASCII characters but SMTPUTF8 is not used"},
      {"bob", false, "recipient 2 has no '@'"},
      {"@example.org", false, "recipient 2 has an empty local part"},
      {"bob@", false, "recipient 2 has an empty domain"},
      {std::string(65, 'l') + "@x.org", false, "recipient 2 has a local part longer than 64 characters"},
      {std::string(64, 'l') + "@" + std::string(190, 'd'), false, "recipient 2 is longer than 254 characters"},
      {"j\xc3\xbcrgen@example.org\r\n", true, "recipient 2 contains CR, LF or NUL"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    const auto got = rcpt_command(c.address, c.smtputf8, "recipient 2");
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().code, errc::invalid_argument);
    EXPECT_EQ(got.err().message, c.message);
  }
  const auto sender = mail_command("a b@c.d");
  ASSERT_FALSE(sender.ok());
  EXPECT_EQ(sender.err().message, "sender contains a space");
  const auto utf8 = mail_command("\xc3\xa4@c.d");
  ASSERT_FALSE(utf8.ok());
  EXPECT_EQ(utf8.err().message, "sender contains non-ASCII characters but SMTPUTF8 is not used");
  EXPECT_EQ(rcpt_command("x").err().message, "recipient has no '@'");
}

TEST(SmtpCommand, CheckAddressOk) {
  EXPECT_TRUE(check_address("a@b", false, "x").ok());
  EXPECT_TRUE(check_address("POSTMASTER", false, "x").ok());
  EXPECT_TRUE(check_address("user+tag@sub.example.org", false, "x").ok());
}

}  // namespace
}  // namespace mailbroker::smtp
