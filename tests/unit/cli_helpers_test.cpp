#include "client/cli/graph_options.hpp"
#include "client/cli/mail_helpers.hpp"
#include "client/cli/printable.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mailbroker::cli {
namespace {

struct address_case {
  std::string input;
  std::string name;
  std::string address;
};

const address_case good_addresses[] = {
    {"a@b", "", "a@b"},
    {"  bob@example.com  ", "", "bob@example.com"},
    {"<bob@example.com>", "", "bob@example.com"},
    {"Bob Smith <bob@example.com>", "Bob Smith", "bob@example.com"},
    {"Bob<bob@example.com>", "Bob", "bob@example.com"},
    {"\"Smith, Bob\" <bob@example.com>", "Smith, Bob", "bob@example.com"},
    {"\"Say \\\"hi\\\" \\\\ bye\" <x@y.z>", "Say \"hi\" \\ bye", "x@y.z"},
    {"Zoë Ünicode <zoë@exämple.org>", "Zoë Ünicode", "zoë@exämple.org"},
    {"\"\" <a@b>", "", "a@b"},
};

TEST(CliParseAddress, AcceptsBareNamedAndQuotedForms) {
  for (const auto& c : good_addresses) {
    auto parsed = parse_address(c.input);
    ASSERT_TRUE(parsed.ok()) << c.input << ": " << parsed.err().message;
    EXPECT_EQ(parsed->name, c.name) << c.input;
    EXPECT_EQ(parsed->address, c.address) << c.input;
  }
}

struct bad_case {
  std::string input;
  std::string reason;  // a substring of the message
};

const bad_case bad_addresses[] = {
    {"", "empty"},
    {"Bob <>", "empty"},
    {"bob", "no '@'"},
    {"@example.com", "nothing before '@'"},
    {"bob@", "nothing after '@'"},
    {"a@b@c", "more than one '@'"},
    {"bob smith@example.com", "spaces"},
    {"Bob <bob@example.com", "missing '>'"},
    {"\"Bob <bob@example.com>", "unterminated"},
    {"\"Bob\" bob@example.com", "needs <address>"},
    {"a@b, c@d", "< > , ;"},
    {"Bob <bob@example.com> <x@y>", "< > , ;"},
    {"bo\rb@example.com", "control"},
    {"Bo\x01" "b <b@c>", "control"},
};

TEST(CliParseAddress, RefusesMalformedWithReasonAndInput) {
  for (const auto& c : bad_addresses) {
    auto parsed = parse_address(c.input);
    ASSERT_FALSE(parsed.ok()) << c.input << " parsed as " << parsed->address;
    EXPECT_EQ(parsed.err().code, errc::invalid_argument);
    EXPECT_NE(parsed.err().message.find(c.reason), std::string::npos) << c.input << ": " << parsed.err().message;
    EXPECT_NE(parsed.err().message.find("'" + c.input + "'"), std::string::npos) << parsed.err().message;
  }
}

TEST(CliSafeFilename, KeepsOrdinaryNames) {
  EXPECT_EQ(safe_filename("report.pdf", "2"), "report.pdf");
  EXPECT_EQ(safe_filename("Rapport annuel 2024 (final).xlsx", "3"), "Rapport annuel 2024 (final).xlsx");
  EXPECT_EQ(safe_filename("über-straße.txt", "2"), "über-straße.txt");
}

TEST(CliSafeFilename, StripsPathComponentsOfBothKinds) {
  EXPECT_EQ(safe_filename("../../etc/passwd", "2"), "passwd");
  EXPECT_EQ(safe_filename("/etc/cron.d/evil", "2"), "evil");
  EXPECT_EQ(safe_filename("C:\\Users\\x\\evil.exe", "2"), "evil.exe");
  EXPECT_EQ(safe_filename("dir/..\\..\\boot.ini", "2"), "boot.ini");
}

TEST(CliSafeFilename, DropsLeadingDotsAndSpaces) {
  EXPECT_EQ(safe_filename(".bashrc", "2"), "bashrc");
  EXPECT_EQ(safe_filename("...hidden.txt", "2"), "hidden.txt");
  EXPECT_EQ(safe_filename("  . x.txt  ", "2"), "x.txt");
}

TEST(CliSafeFilename, EmptyOrDotsOnlyBecomesPartId) {
  EXPECT_EQ(safe_filename("", "2"), "part-2");
  EXPECT_EQ(safe_filename("..", "1.2"), "part-1.2");
  EXPECT_EQ(safe_filename("a/b/", "3"), "part-3");
  EXPECT_EQ(safe_filename("\\", "4"), "part-4");
  EXPECT_EQ(safe_filename("", "../x"), "part-x");
  EXPECT_EQ(safe_filename("", ""), "part-unknown");
}

TEST(CliSafeFilename, ReplacesControlCharacters) {
  EXPECT_EQ(safe_filename(std::string("a\nb\tc\x7f\0d.txt", 12), "2"), "a_b_c__d.txt");
}

TEST(CliSafeFilename, CutsLongNamesAtUtf8BoundaryKeepingExtension) {
  // One ASCII byte first puts the 2-byte sequences at odd offsets, so a plain cut at
  // byte 196 would split one.
  std::string long_name = "x";
  for (int i = 0; i < 150; ++i) long_name += "é";  // 301 bytes
  std::string expected = "x";
  for (int i = 0; i < 97; ++i) expected += "é";  // 195 bytes: the 196th would split
  EXPECT_EQ(safe_filename(long_name + ".pdf", "2"), expected + ".pdf");
  // No extension worth keeping: cut the whole name.
  const std::string plain = safe_filename(std::string(250, 'x'), "2");
  EXPECT_EQ(plain, std::string(200, 'x'));
}

TEST(CliNumberedFilename, InsertsNumberBeforeExtension) {
  EXPECT_EQ(numbered_filename("report.pdf", 1), "report.pdf");
  EXPECT_EQ(numbered_filename("report.pdf", 2), "report (2).pdf");
  EXPECT_EQ(numbered_filename("archive.tar.gz", 3), "archive.tar (3).gz");
  EXPECT_EQ(numbered_filename("README", 2), "README (2)");
  EXPECT_EQ(numbered_filename("part-1.2", 10), "part-1 (10).2");
}

TEST(CliGuessContentType, KnownExtensionsCaseInsensitive) {
  EXPECT_EQ(guess_content_type("a.pdf"), "application/pdf");
  EXPECT_EQ(guess_content_type("A.PDF"), "application/pdf");
  EXPECT_EQ(guess_content_type("photo.JpEg"), "image/jpeg");
  EXPECT_EQ(guess_content_type("/tmp/dir.d/notes.txt"), "text/plain");
  EXPECT_EQ(guess_content_type("table.csv"), "text/csv");
  EXPECT_EQ(guess_content_type("x.png"), "image/png");
  EXPECT_EQ(guess_content_type("x.zip"), "application/zip");
  EXPECT_EQ(guess_content_type("x.docx"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  EXPECT_EQ(guess_content_type("mail.eml"), "message/rfc822");
}

TEST(CliGuessContentType, UnknownOrMissingExtensionIsOctetStream) {
  EXPECT_EQ(guess_content_type("binary.xyz"), "application/octet-stream");
  EXPECT_EQ(guess_content_type("Makefile"), "application/octet-stream");
  EXPECT_EQ(guess_content_type(".pdf"), "application/octet-stream");  // a hidden file, not a PDF
  EXPECT_EQ(guess_content_type("dir.pdf/file"), "application/octet-stream");
  EXPECT_EQ(guess_content_type("trailing."), "application/octet-stream");
}

// Issue #10: a subject such as "\x1b[2J\x1b]0;owned\x07" must not drive the terminal.
struct printable_case {
  std::string input;
  std::string expected;
};

const printable_case printable_cases[] = {
    {"Invoice 1001", "Invoice 1001"},
    {"", ""},
    {"\x1b[2J\x1b]0;owned\x07", "\\x1b[2J\\x1b]0;owned\\x07"},
    {"a\tb", "a\tb"},                                  // TAB is harmless
    {"line\nnext", "line\\x0anext"},                   // one line stays one line
    {"over\rwrite", "over\\x0dwrite"},                 // CR cannot hide text
    {"del\x7f", "del\\x7f"},
    {"nul" + std::string(1, '\0') + "x", "nul\\x00x"},
    {"Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x93\xa7", "Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x93\xa7"},
    {"\xc2\x9b" "31m", "\\u009b31m"},                  // C1 CSI in UTF-8
    {"\xc2\x85\xc2\x80\xc2\x9f\xc2\xa0", "\\u0085\\u0080\\u009f\xc2\xa0"},  // U+00A0 is printable
    {"\x9b" "31m", "\\x9b31m"},                        // a raw 8-bit CSI byte: not UTF-8
    {"\xff\xfe", "\\xff\\xfe"},
    {"\xc0\xaf", "\\xc0\\xaf"},                        // overlong '/'
    {"\xed\xa0\x80", "\\xed\\xa0\\x80"},               // a surrogate
    {"\xe2\x82", "\\xe2\\x82"},                        // truncated sequence
    {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},      // above U+10FFFF
};

TEST(printable, EscapesControlsAndBadUtf8KeepsText) {
  for (const auto& c : printable_cases) {
    EXPECT_EQ(printable(c.input), c.expected) << "input size " << c.input.size();
  }
}

TEST(printable, MultilineKeepsLineEndsButNotEscapes) {
  EXPECT_EQ(printable("Hello\r\nBob\n\tbye\x1b[0m\n", true), "Hello\nBob\n\tbye\\x1b[0m\n");
  EXPECT_EQ(printable("lone\rcr", true), "lone\\x0dcr");
  EXPECT_EQ(printable("end\r", true), "end\\x0d");
}

TEST(printable, OutputHasNoControlBytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (int b = 0x80; b < 0xa0; ++b) all += std::string("\xc2") + static_cast<char>(b);  // C1 in UTF-8
  for (bool multiline : {false, true}) {
    const auto out = printable(all, multiline);
    for (unsigned char c : out) {
      // No multi-byte sequence survives this input, so every byte must be ASCII.
      const bool allowed = c == '\t' || (multiline && c == '\n') || (c >= 0x20 && c < 0x7f);
      EXPECT_TRUE(allowed) << "byte " << int(c) << " left in the output";
    }
  }
}

}  // namespace
}  // namespace mailbroker::cli

// ---- connect / test: --protocol graph and its --graph-* flags --------------------------

namespace mailbroker::cli {
namespace {

parsed_args connect_args(std::vector<std::pair<std::string, std::string>> options) {
  parsed_args args;
  args.command = "connect";
  args.positionals = {"graph-bot"};
  args.options = std::move(options);
  return args;
}

TEST(CliGraphFlags, TheLegFromTheFlags) {
  auto flags = graph_flags_from_args(connect_args({{"--oauth2-client-id", "app"},
                                                   {"--graph-mailbox", "Shared@Contoso.com"},
                                                   {"--graph-cloud", "us-gcc-high"},
                                                   {"--graph-timeout", "60"},
                                                   {"--graph-max-requests", "2"}}),
                                     true);
  ASSERT_TRUE(flags.ok()) << flags.err().message;
  ASSERT_TRUE(flags.value());
  EXPECT_EQ(flags.value()->cloud, graph_cloud_flag::us_gcc_high);
  EXPECT_EQ(flags.value()->mailbox, "Shared@Contoso.com") << "sent as typed: the daemon normalises";
  EXPECT_EQ(flags.value()->timeout_seconds, 60u);
  EXPECT_EQ(flags.value()->max_requests, 2u);
  EXPECT_EQ(flags.value()->base_url, "");

  auto defaults = graph_flags_from_args(connect_args({{"--oauth2-connection", "corp"}}), true);
  ASSERT_TRUE(defaults.ok()) << defaults.err().message;
  EXPECT_EQ(defaults.value()->cloud, graph_cloud_flag::unspecified);
  EXPECT_EQ(defaults.value()->mailbox, "") << "/me";
  EXPECT_EQ(defaults.value()->timeout_seconds, 0u);
  EXPECT_EQ(defaults.value()->max_requests, 0u);

  auto custom = graph_flags_from_args(
      connect_args({{"--oauth2-client-id", "app"}, {"--graph-base-url", "https://127.0.0.1:8443"}}), true);
  ASSERT_TRUE(custom.ok()) << custom.err().message;
  EXPECT_EQ(custom.value()->cloud, graph_cloud_flag::custom) << "--graph-base-url implies custom";
  EXPECT_EQ(custom.value()->base_url, "https://127.0.0.1:8443");
  auto explicit_custom = graph_flags_from_args(connect_args({{"--oauth2-client-id", "app"},
                                                            {"--graph-cloud", "custom"},
                                                            {"--graph-base-url", "https://127.0.0.1:8443"}}),
                                              true);
  ASSERT_TRUE(explicit_custom.ok()) << explicit_custom.err().message;

  auto other_protocol = graph_flags_from_args(connect_args({{"--host", "imap.example.org"}}), false);
  ASSERT_TRUE(other_protocol.ok());
  EXPECT_FALSE(other_protocol.value()) << "no leg for IMAP";
}

TEST(CliGraphFlags, RefusalsNameTheFlag) {
  struct refusal {
    std::vector<std::pair<std::string, std::string>> options;
    bool graph;
    std::string message;
  };
  const refusal cases[] = {
      {{{"--graph-mailbox", "a@b"}}, false, "--graph-mailbox needs --protocol graph"},
      {{{"--graph-cloud", "global"}}, false, "--graph-cloud needs --protocol graph"},
      {{{"--graph-base-url", "https://h"}}, false, "--graph-base-url needs --protocol graph"},
      {{{"--graph-timeout", "30"}}, false, "--graph-timeout needs --protocol graph"},
      {{{"--graph-max-requests", "4"}}, false, "--graph-max-requests needs --protocol graph"},
      {{{"--oauth2-client-id", "app"}, {"--host", "graph.microsoft.com"}}, true, "--host: Graph sessions take the host"},
      {{{"--oauth2-client-id", "app"}, {"--port", "443"}}, true, "--port: Graph sessions take the port"},
      {{{"--oauth2-client-id", "app"}, {"--smtp-host", "smtp.example.org"}}, true, "--smtp-host: Graph sessions send"},
      {{{"--user", "a@b"}, {"--password-env", "PW"}}, true, "--protocol graph takes OAuth2 tokens only"},
      {{{"--oauth2-client-id", "app"}, {"--graph-cloud", "china"}}, true,
       "--graph-cloud: 'china' is not one of global, us-gcc-high, custom"},
      {{{"--oauth2-client-id", "app"}, {"--graph-cloud", "global"}, {"--graph-base-url", "https://h"}}, true,
       "--graph-base-url is only for --graph-cloud custom"},
      {{{"--oauth2-client-id", "app"}, {"--graph-cloud", "custom"}}, true, "--graph-cloud custom needs --graph-base-url"},
      {{{"--oauth2-client-id", "app"}, {"--graph-timeout", "soon"}}, true, "--graph-timeout: 'soon' is not a whole number"},
      {{{"--oauth2-client-id", "app"}, {"--graph-max-requests", "-1"}}, true, "--graph-max-requests: '-1' is not a whole"},
  };
  for (const auto& c : cases) {
    auto r = graph_flags_from_args(connect_args(c.options), c.graph);
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find(c.message), std::string::npos) << r.err().message;
  }
}

}  // namespace
}  // namespace mailbroker::cli
