#include "protocol/imap/command.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace mailbroker::imap {
namespace {

using namespace std::string_literals;

TEST(ImapQuote, EscapesBackslashAndDoubleQuote) {
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote("INBOX"), "\"INBOX\"");
  EXPECT_EQ(quote("a b"), "\"a b\"");
  EXPECT_EQ(quote("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(quote("C:\\dir\\"), "\"C:\\\\dir\\\\\"");
  EXPECT_EQ(quote("\\\""), "\"\\\\\\\"\"");
}

TEST(ImapQuote, KeepsOtherControlCharacters) {
  EXPECT_EQ(quote("a\tb\x01\x7f"), "\"a\tb\x01\x7f\"");
}

TEST(ImapQuote, RejectsWhatAQuotedStringCannotCarry) {
  EXPECT_EQ(quote("a\rb"), std::nullopt);
  EXPECT_EQ(quote("a\nb"), std::nullopt);
  EXPECT_EQ(quote("pass\r\n"), std::nullopt);
  EXPECT_EQ(quote("a\0b"s), std::nullopt);
  EXPECT_EQ(quote("\x80"), std::nullopt);
  EXPECT_EQ(quote("caf\xc3\xa9"), std::nullopt);
  EXPECT_EQ(quote("\xff"), std::nullopt);
}

TEST(ImapAstring, BareAtomWhenPossible) {
  EXPECT_EQ(astring("INBOX"), "INBOX");
  EXPECT_EQ(astring("alice@example.com"), "alice@example.com");
  EXPECT_EQ(astring("p4$$w0rd!#&'+,-./:;<=>?@[^_`|}~"), "p4$$w0rd!#&'+,-./:;<=>?@[^_`|}~");
}

TEST(ImapAstring, QuotesEverySpecialCharacter) {
  for (char c : std::string("(){ %*\"\\]\x01\x1f\x7f\t")) {
    const std::string s = std::string("a") + c + "b";
    SCOPED_TRACE(testing::PrintToString(s));
    const auto got = astring(s);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, *quote(s));
    EXPECT_EQ(got->front(), '"');
  }
}

TEST(ImapAstring, EmptyAndNilAreQuoted) {
  EXPECT_EQ(astring(""), "\"\"");
  EXPECT_EQ(astring("NIL"), "\"NIL\"");
  EXPECT_EQ(astring("nil"), "\"nil\"");
  EXPECT_EQ(astring("NILS"), "NILS");
}

TEST(ImapAstring, UnsendableAsForQuote) {
  EXPECT_EQ(astring("a\r\nb"), std::nullopt);
  EXPECT_EQ(astring("\0"s), std::nullopt);
  EXPECT_EQ(astring("gr\xc3\xbc\xc3\x9f"), std::nullopt);
}

TEST(ImapTagGenerator, SequentialZeroPadded) {
  tag_generator tags;
  EXPECT_EQ(tags.next(), "A0001");
  EXPECT_EQ(tags.next(), "A0002");
  for (int i = 3; i < 9999; ++i) tags.next();
  EXPECT_EQ(tags.next(), "A9999");
  EXPECT_EQ(tags.next(), "A10000");
}

TEST(ImapTagGenerator, TagsAreUniqueAndIndependentPerGenerator) {
  tag_generator a;
  tag_generator b;
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) EXPECT_TRUE(seen.insert(a.next()).second);
  EXPECT_EQ(b.next(), "A0001");
}

TEST(ImapHasCapability, CaseInsensitiveWholeAtom) {
  const std::vector<std::string> caps = {"IMAP4REV1", "AUTH=PLAIN", "SASL-IR"};
  EXPECT_TRUE(has_capability(caps, "IMAP4rev1"));
  EXPECT_TRUE(has_capability(caps, "auth=plain"));
  EXPECT_TRUE(has_capability(caps, "SASL-IR"));
  EXPECT_FALSE(has_capability(caps, "AUTH"));
  EXPECT_FALSE(has_capability(caps, "AUTH=PLAINX"));
  EXPECT_FALSE(has_capability(caps, "STARTTLS"));
  EXPECT_FALSE(has_capability({}, "IMAP4REV1"));
  EXPECT_FALSE(has_capability(caps, ""));
}

}  // namespace
}  // namespace mailbroker::imap
