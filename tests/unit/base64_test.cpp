#include "common/base64.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sasl/plain.hpp"

namespace mailbroker {
namespace {

using namespace std::string_literals;

struct vector_case {
  std::string plain;
  std::string encoded;
};

// RFC 4648 section 10.
const vector_case rfc4648[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST(Base64, EncodesRfc4648Vectors) {
  for (const auto& v : rfc4648) EXPECT_EQ(base64_encode(v.plain), v.encoded) << v.plain;
}

TEST(Base64, DecodesRfc4648VectorsPaddedAndUnpadded) {
  for (const auto& v : rfc4648) {
    EXPECT_EQ(base64_decode(v.encoded), v.plain) << v.encoded;
    std::string unpadded = v.encoded;
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    EXPECT_EQ(base64_decode(unpadded), v.plain) << unpadded;
  }
}

TEST(Base64, UsesTheStandardAlphabet) {
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
  EXPECT_EQ(base64_decode("+/+/"), "\xfb\xff\xbf");
  EXPECT_EQ(base64_decode("-_-_"), std::nullopt);  // URL-safe alphabet is not accepted
}

TEST(Base64, RoundTripsAllByteValuesAndLengths) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t len = 0; len <= all.size(); ++len) {
    const std::string in = all.substr(all.size() - len);
    const std::string enc = base64_encode(in);
    EXPECT_EQ(enc.size(), (len + 2) / 3 * 4);
    EXPECT_EQ(base64_decode(enc), in) << len;
  }
}

TEST(Base64, RejectsInvalidInput) {
  for (const std::string& bad : {
           "Z"s,          // a single leftover character carries no full byte
           "Zm9vY"s,      // same after a full group
           "Zg="s,        // padded but not a multiple of 4
           "Zg==="s,      // too much padding
           "Z==="s,       // three pad characters
           "===="s,       // nothing but padding
           "="s,          //
           "Zm8=="s,      // wrong amount of padding for the length
           "Zm9v="s,      // padding after a full group
           "Zg==Zg=="s,   // data after padding
           "Z=g="s,       // padding in the middle
           "Zm9v!"s,      // character outside the alphabet
           "Zm 9v"s,      // whitespace is not ignored
           "Zm9v\r\n"s,   // line breaks are not ignored
           "Zm9v\0"s,     // NUL
           "Zm9\xc3\xa9"s,  // 8-bit
           "Zh=="s,       // non-zero unused bits (non-canonical "f")
           "Zm9="s,       // non-canonical "fo"
       }) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << testing::PrintToString(bad);
  }
}

TEST(SaslPlain, KnownVector) {
  EXPECT_EQ(sasl::plain_initial_response("", "alice", "secret"), "AGFsaWNlAHNlY3JldA==");
}

TEST(SaslPlain, CarriesAllThreeFieldsSeparatedByNul) {
  const std::string r = sasl::plain_initial_response("admin", "alice", "p\xc3\xa4ss word");
  EXPECT_EQ(base64_decode(r), "admin\0alice\0p\xc3\xa4ss word"s);
  EXPECT_EQ(sasl::plain_initial_response("", "", ""), "AAA=");
}

}  // namespace
}  // namespace mailbroker
