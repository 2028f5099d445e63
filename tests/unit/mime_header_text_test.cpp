#include "mime/header_text.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace mailbroker::mime {
namespace {

using namespace std::string_literals;

struct text_case {
  std::string raw;
  std::string expected;
};

TEST(MimeHeaderText, DecodesEncodedWords) {
  const text_case cases[] = {
      {"", ""},
      {"plain ASCII subject", "plain ASCII subject"},
      {"=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße"},
      {"=?utf-8?b?R3LDvMOfZQ==?=", "Grüße"},
      {"=?ISO-8859-1?Q?Caf=E9?=", "Café"},
      {"=?iso-8859-1?q?a_b=5F?=", "a b_"},
      {"Re: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Berlin", "Re: Grüße aus Berlin"},
      {"=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"},                       // adjacent words joined
      {"=?UTF-8?B?R3LDvA==?=\r\n =?UTF-8?B?w59l?=", "Grüße"},      // folded, padded (gmime#133)
      {"=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?IHdvcmxk?= =?UTF-8?B?IQ==?=", "Hello world!"},
      {"x =?utf-8?B?SGVsbG8=?= y =?UTF-8?B?IHdvcmxk?=", "x Hello y  world"},
      {"=?UTF-8?B?SGVsbG8=?= =?ISO-8859-1?B?IENhZuk=?=", "Hello Café"},
      {"=?UTF-8?B?R3LD?= =?UTF-8?B?vMOfZQ==?=", "Grüße"},            // character split across words
      {"=?UTF-8?B?R3LDvA=?= =?UTF-8?B?w59l?=", "Grü"},              // bad padding: as GMime does
      {"=?windows-1252?B?k3F1b3RlZJQgliCA?=", "“quoted” – €"},
      {"=?Shift_JIS?B?k/qWe4zq?=", "日本語"},
      {"=?UTF-8*de?Q?Hallo?=", "Hallo"},  // RFC 2231 language tag
  };
  for (const text_case& c : cases) EXPECT_EQ(decode_header_text(c.raw), c.expected) << c.raw;
}

TEST(MimeHeaderText, LeavesInvalidWordsAsSent) {
  for (const char* raw : {"=?UTF-8?X?abc?=", "=?UTF-8?B?abc", "=?", "?=", "a =?UTF-8?Q?b", "=?UTF-8?B?abc?"}) {
    EXPECT_EQ(decode_header_text(raw), raw);
  }
  EXPECT_EQ(decode_header_text("=?x-no-such-charset?Q?caf=E9?= tail"), "café tail");  // fallback charsets
  EXPECT_EQ(decode_header_text("=?UTF-8?Q?=FF?="), "?") << "undecodable bytes become '?', output stays UTF-8";
}

TEST(MimeHeaderText, Raw8BitFallsBackToLatin1) {
  EXPECT_EQ(decode_header_text("Caf\xe9"), "Café");
  EXPECT_EQ(decode_header_text("Gr\xc3\xbc\xc3\x9f" "e"), "Grüße");  // raw UTF-8 kept
  EXPECT_EQ(decode_header_text("a\0b"s), "a");
}

TEST(MimeHeaderText, DecodesPhrases) {
  EXPECT_EQ(decode_phrase("=?ISO-8859-1?Q?Andr=E9?= Pirard"), "André Pirard");
  EXPECT_EQ(decode_phrase("\"Doe, John\""), "Doe, John");
  EXPECT_EQ(decode_phrase("\"say \\\"hi\\\"\" =?UTF-8?Q?J=C3=B6rg?="), "say \"hi\" Jörg");
  EXPECT_EQ(decode_phrase("\"=?UTF-8?Q?J=C3=B6rg?=\""), "Jörg");
  EXPECT_EQ(decode_phrase("Bob Example"), "Bob Example");
  EXPECT_EQ(decode_phrase("=?UTF-8?B?5pel5pys6Kqe?="), "日本語");
  EXPECT_EQ(decode_phrase(""), "");
}

TEST(MimeHeaderText, SafeFromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<std::string> out(8);
  for (std::size_t i = 0; i < out.size(); ++i) {
    threads.emplace_back([&out, i] { out[i] = decode_header_text("=?ISO-8859-1?Q?Caf=E9?="); });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : out) EXPECT_EQ(s, "Café");
}

}  // namespace
}  // namespace mailbroker::mime
