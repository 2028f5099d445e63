// FETCH parts of mailbox_codec.hpp, fed with Dovecot-style responses through the real
// response_parser.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/imap/mailbox_codec.hpp"
#include "protocol/imap/response_parser.hpp"

namespace mailbroker::imap {
namespace {

using namespace std::chrono;

response parse_one(std::string_view bytes) {
  response_parser p;
  const parse_result r = p.feed(bytes);
  EXPECT_EQ(r.status, parse_status::complete) << p.error() << " in " << bytes;
  EXPECT_EQ(r.consumed, bytes.size()) << bytes;
  return p.take();
}

system_clock::time_point utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

const std::string text_plain = R"(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 10 1 NIL NIL NIL NIL))";
const std::string text_html = R"(("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 200 4 NIL NIL NIL NIL))";
const std::string pdf_attachment =
    R"(("application" "pdf" ("name" "a.pdf") NIL NIL "base64" 100 NIL ("attachment" ("filename" "a.pdf")) NIL NIL))";

TEST(MailboxFetchSummary, ParsesAFullDovecotSummary) {
  const std::string in =
      "* 1 FETCH (UID 7 FLAGS (\\Seen $Forwarded) RFC822.SIZE 1234 INTERNALDATE \"27-Nov-2026 10:00:00 +0000\" "
      "ENVELOPE (\"Fri, 27 Nov 2026 10:59:58 +0100\" \"=?UTF-8?B?R3LDvMOfZQ==?=\" "
      "((\"Bob Example\" NIL \"bob\" \"example.com\")) ((\"Bob Example\" NIL \"bob\" \"example.com\")) "
      "((NIL NIL \"noreply\" \"example.com\")) "
      "((\"Alice\" NIL \"alice\" \"example.org\")(NIL NIL \"carol\" \"example.org\")) "
      "((NIL NIL \"team\" NIL)(\"Dan\" NIL \"dan\" \"example.net\")(NIL NIL NIL NIL)) NIL "
      "\"<parent@example.com>\" \"<msg1@example.com>\") "
      "BODYSTRUCTURE (" + text_plain + pdf_attachment + " \"mixed\" (\"boundary\" \"xyz\") NIL NIL NIL))\r\n";
  auto s = parse_fetch_summary(parse_one(in));
  ASSERT_TRUE(s) << s.err().message;
  EXPECT_EQ(s->uid, 7u);
  EXPECT_EQ(s->flags, (std::vector<std::string>{"\\Seen", "$Forwarded"}));
  EXPECT_EQ(s->size, 1234u);
  EXPECT_EQ(s->internal_date, utc(2026, 11, 27, 10, 0, 0));
  EXPECT_EQ(s->date, utc(2026, 11, 27, 9, 59, 58));
  EXPECT_EQ(s->subject_raw, "=?UTF-8?B?R3LDvMOfZQ==?=");
  using addr = fetched_summary::address;
  EXPECT_EQ(s->from, (std::vector<addr>{{"Bob Example", "bob", "example.com"}}));
  EXPECT_EQ(s->to, (std::vector<addr>{{"Alice", "alice", "example.org"}, {"", "carol", "example.org"}}));
  EXPECT_EQ(s->cc, (std::vector<addr>{{"Dan", "dan", "example.net"}})) << "group markers are skipped";
  EXPECT_EQ(s->in_reply_to, "<parent@example.com>");
  EXPECT_EQ(s->message_id, "<msg1@example.com>");
  EXPECT_TRUE(s->has_attachments);
}

TEST(MailboxFetchSummary, NilEnvelopeLiteralsAndUnparseableDate) {
  auto s = parse_fetch_summary(parse_one("* 2 FETCH (UID 8 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"));
  ASSERT_TRUE(s) << s.err().message;
  EXPECT_EQ(s->date, std::nullopt);
  EXPECT_TRUE(s->subject_raw.empty() && s->from.empty() && s->message_id.empty());
  EXPECT_EQ(s->size, 0u);
  EXPECT_FALSE(s->has_attachments);

  auto t = parse_fetch_summary(parse_one(
      "* 3 FETCH (ENVELOPE (\"someday soon\" {11}\r\nSay \"hi\" \xc3\xa4 (({3}\r\nB\"b NIL \"b\" \"x.org\")) "
      "NIL NIL NIL NIL NIL NIL NIL) UID 9)\r\n"));
  ASSERT_TRUE(t) << t.err().message;
  EXPECT_EQ(t->uid, 9u);
  EXPECT_EQ(t->date, std::nullopt) << "an unparseable Date is not an error";
  EXPECT_EQ(t->subject_raw, "Say \"hi\" \xc3\xa4");
  ASSERT_EQ(t->from.size(), 1u);
  EXPECT_EQ(t->from[0].name_raw, "B\"b");
}

TEST(MailboxFetchSummary, HasAttachmentsRule) {
  const std::string inline_logo =
      R"(("image" "png" ("name" "logo.png") "<logo@x>" NIL "base64" 500 NIL ("inline" ("filename" "logo.png")) NIL NIL))";
  const std::string inline_photo_without_id =
      R"(("image" "jpeg" NIL NIL NIL "base64" 500 NIL ("inline" NIL) NIL NIL))";
  const std::string envelope = R"((NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL))";
  const std::string alternative = "(" + text_plain + text_html + R"( "alternative" ("boundary" "a") NIL NIL NIL))";
  const std::pair<std::string, bool> cases[] = {
      {text_plain, false},
      {alternative, false},
      {"(" + text_plain + pdf_attachment + R"( "mixed" ("boundary" "b") NIL NIL NIL))", true},
      {"(" + text_html + inline_logo + R"( "related" ("boundary" "b") NIL NIL NIL))", false},
      {"(" + text_html + inline_photo_without_id + R"( "related" ("boundary" "b") NIL NIL NIL))", true},
      {R"(("text" "csv" ("charset" "utf-8") NIL NIL "7bit" 20 2 NIL ("attachment" ("filename" "r.csv")) NIL NIL))",
       true},
      {R"(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 20 2 NIL ("ATTACHMENT" NIL) NIL NIL))", true},
      {R"(("text" "plain" NIL NIL NIL "7bit" 20 2 NIL ("inline" NIL) NIL NIL))", false},
      {"(" + text_plain + R"(("message" "rfc822" NIL NIL NIL "7bit" 300 )" + envelope + " " + text_plain +
           R"( 12 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL))",
       true},
      {"(" + text_plain +
           R"(("application" "pkcs7-signature" ("name" "smime.p7s") NIL NIL "base64" 300 NIL ("attachment" ("filename" "smime.p7s")) NIL NIL) "signed" ("protocol" "application/pkcs7-signature") NIL NIL NIL))",
       false},
      {R"(("application" "octet-stream" NIL NIL NIL "base64" 100))", true},  // no extension data
      {R"(("text" "plain" NIL NIL NIL "7bit" 10 1))", false},
      {"(" + alternative + pdf_attachment + R"( "mixed" NIL NIL NIL NIL))", true},
      {"(" + text_plain + R"( "mixed" NIL ("attachment" NIL) NIL NIL))", true},  // multipart disposition
  };
  for (const auto& [body, expected] : cases) {
    const std::string in = "* 4 FETCH (UID 10 BODYSTRUCTURE " + body + ")\r\n";
    auto s = parse_fetch_summary(parse_one(in));
    ASSERT_TRUE(s) << body << ": " << s.err().message;
    EXPECT_EQ(s->has_attachments, expected) << body;
  }
}

TEST(MailboxFetchSummary, RejectsMalformedResponses) {
  const std::pair<std::string, std::string> cases[] = {
      {"* 1 EXISTS\r\n", "not a FETCH"},
      {"* OK [UIDNEXT 5] x\r\n", "not a FETCH"},
      {"* 1 FETCH (FLAGS (\\Seen))\r\n", "without UID"},
      {"* 1 FETCH (UID)\r\n", "pairs"},
      {"* 1 FETCH UID 1\r\n", "one list"},
      {"* 1 FETCH (\"UID\" 1)\r\n", "not an atom"},
      {"* 1 FETCH (UID abc)\r\n", "UID"},
      {"* 1 FETCH (UID 0)\r\n", "UID"},
      {"* 1 FETCH (UID 4294967296)\r\n", "UID"},
      {"* 1 FETCH (UID 1 FLAGS \\Seen)\r\n", "FLAGS"},
      {"* 1 FETCH (UID 1 FLAGS (\"x\"))\r\n", "FLAGS"},
      {"* 1 FETCH (UID 1 RFC822.SIZE -1)\r\n", "RFC822.SIZE"},
      {"* 1 FETCH (UID 1 RFC822.SIZE 18446744073709551616)\r\n", "RFC822.SIZE"},
  };
  for (const auto& [in, why] : cases) {
    auto r = parse_fetch_summary(parse_one(in));
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find(why), std::string::npos) << in << ": " << r.err().message;
  }
}

// A message whose description cannot be read is still described by what can: it must be
// listed, flagged, never dropped.
TEST(MailboxFetchSummary, UnreadableDescriptionsAreFlaggedNotDropped) {
  const std::pair<std::string, std::string> cases[] = {
      {"* 1 FETCH (UID 1 INTERNALDATE \"31-Feb-2026 10:00:00 +0000\")\r\n", "INTERNALDATE"},
      {"* 1 FETCH (UID 1 INTERNALDATE NIL)\r\n", "INTERNALDATE"},
      {"* 1 FETCH (UID 1 ENVELOPE (NIL NIL))\r\n", "ENVELOPE"},
      {"* 1 FETCH (UID 1 ENVELOPE NIL)\r\n", "ENVELOPE"},
      {"* 1 FETCH (UID 1 ENVELOPE (NIL NIL \"bob\" NIL NIL NIL NIL NIL NIL NIL))\r\n", "from"},
      {"* 1 FETCH (UID 1 ENVELOPE (NIL NIL NIL NIL NIL ((NIL NIL \"a\")) NIL NIL NIL NIL))\r\n", "to"},
      {"* 1 FETCH (UID 1 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL (x) NIL NIL))\r\n", "bcc"},
      {"* 1 FETCH (UID 1 ENVELOPE (date NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n", "date"},
      {"* 1 FETCH (UID 1 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL (x)))\r\n", "message-id"},
      {"* 1 FETCH (UID 1 BODYSTRUCTURE (NIL NIL))\r\n", "type"},
      {"* 1 FETCH (UID 1 BODYSTRUCTURE ())\r\n", "not a list"},
      {"* 1 FETCH (UID 1 BODYSTRUCTURE NIL)\r\n", "not a list"},
      {"* 1 FETCH (UID 1 BODYSTRUCTURE ((\"text\" \"plain\")))\r\n", "subtype"},
      {"* 1 FETCH (UID 1 BODYSTRUCTURE ((NIL) \"mixed\"))\r\n", "type"},
  };
  for (const auto& [in, what] : cases) {
    auto r = parse_fetch_summary(parse_one(in));
    ASSERT_TRUE(r) << in << ": " << r.err().message;
    EXPECT_EQ(r->uid, 1u) << in;
    EXPECT_TRUE(r->summary_incomplete) << what << ": " << in;
  }
  auto whole = parse_fetch_summary(parse_one("* 1 FETCH (UID 1 BODYSTRUCTURE (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1))\r\n"));
  ASSERT_TRUE(whole);
  EXPECT_FALSE(whole->summary_incomplete);
}

TEST(MailboxFetchSummary, DeepBodyStructureIsBounded) {
  value part{value::kind::list, "", {{value::kind::quoted, "text", {}}, {value::kind::quoted, "plain", {}}}};
  for (int i = 0; i < 200; ++i) {
    part = value{value::kind::list, "", {part, {value::kind::quoted, "mixed", {}}}};
  }
  response r{response_type::untagged, "", "", 1, "FETCH", {}, "", "", ""};
  r.data.push_back(value{value::kind::list, "",
                         {{value::kind::atom, "UID", {}}, {value::kind::atom, "1", {}},
                          {value::kind::atom, "BODYSTRUCTURE", {}}, part}});
  auto s = parse_fetch_summary(r);
  ASSERT_TRUE(s) << s.err().message;
  EXPECT_EQ(s->uid, 1u);
  EXPECT_TRUE(s->summary_incomplete);
}

// BODYSTRUCTURE as bytes from the wire, `levels` multiparts deep around one text part.
std::string nested_fetch(int levels) {
  std::string body = R"(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 5 1 NIL NIL NIL NIL))";
  for (int i = 0; i < levels; ++i) body = "(" + body + " \"mixed\")";
  return "* 3 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE 1234 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
         "ENVELOPE (NIL \"deep\" ((\"Al\" NIL \"al\" \"example.com\")) NIL NIL NIL NIL NIL NIL \"<d@x>\") "
         "BODYSTRUCTURE " + body + ")\r\n";
}

// 32 levels used to be the parser's limit: the FETCH was dropped and with it the message
// from ListMessages. What GetMessageParts reads (50) is described in full.
TEST(MailboxFetchSummary, SixtyLevelsOfMultipartAreDescribedInFull) {
  const response r = parse_one(nested_fetch(60));
  EXPECT_FALSE(r.truncated);
  auto s = parse_fetch_summary(r);
  ASSERT_TRUE(s) << s.err().message;
  EXPECT_EQ(s->uid, 7u);
  EXPECT_FALSE(s->summary_incomplete);
  EXPECT_FALSE(s->has_attachments);
  EXPECT_EQ(s->subject_raw, "deep");
}

// Deeper than the parser keeps: still one summary, with what is known and the flag.
TEST(MailboxFetchSummary, DeeperThanTheParserKeepsIsListedAndFlagged) {
  const response r = parse_one(nested_fetch(100));
  EXPECT_TRUE(r.truncated);
  auto s = parse_fetch_summary(r);
  ASSERT_TRUE(s) << s.err().message;
  EXPECT_EQ(s->uid, 7u);
  EXPECT_TRUE(s->summary_incomplete);
  EXPECT_EQ(s->size, 1234u);
  ASSERT_EQ(s->flags, std::vector<std::string>{"\\Seen"});
  EXPECT_TRUE(s->internal_date.has_value());
  EXPECT_EQ(s->subject_raw, "deep");
  ASSERT_EQ(s->from.size(), 1u);
  EXPECT_EQ(s->from[0].host, "example.com");
  EXPECT_EQ(s->message_id, "<d@x>");
}

// ---- body chunks ----------------------------------------------------------------------------

TEST(MailboxFetchBody, ParsesChunks) {
  auto a = parse_fetch_body_chunk(parse_one("* 5 FETCH (UID 9 BODY[]<0> {10}\r\nHello\r\nWor)\r\n"), 9);
  ASSERT_TRUE(a) << a.err().message;
  EXPECT_EQ(a->uid, 9u);
  EXPECT_EQ(a->offset, 0u);
  EXPECT_EQ(a->data, "Hello\r\nWor");
  EXPECT_EQ(a->total_size, std::nullopt);

  auto b = parse_fetch_body_chunk(
      parse_one("* 5 FETCH (UID 9 RFC822.SIZE 2000000 BODY[]<1048576> {3}\r\nabc FLAGS (\\Seen))\r\n"), 9);
  ASSERT_TRUE(b) << b.err().message;
  EXPECT_EQ(b->offset, 1048576u);
  EXPECT_EQ(b->data, "abc");
  EXPECT_EQ(b->total_size, 2000000u);

  auto c = parse_fetch_body_chunk(parse_one("* 5 FETCH (BODY[] {3}\r\nabc UID 9)\r\n"), 9);
  ASSERT_TRUE(c) << c.err().message;
  EXPECT_EQ(c->offset, 0u);
  EXPECT_EQ(c->data, "abc");

  for (const char* empty : {"* 5 FETCH (UID 9 BODY[]<2000> \"\")\r\n", "* 5 FETCH (UID 9 BODY[]<0> NIL)\r\n"}) {
    auto e = parse_fetch_body_chunk(parse_one(empty), 9);
    ASSERT_TRUE(e) << empty << ": " << e.err().message;
    EXPECT_TRUE(e->data.empty());
  }
}

TEST(MailboxFetchBody, SkipsOtherFetchesAndRejectsMalformedOnes) {
  const std::tuple<std::string, errc, std::string> cases[] = {
      {"* 5 FETCH (UID 10 BODY[]<0> {1}\r\nx)\r\n", errc::not_found, "another uid"},
      {"* 5 FETCH (UID 9 FLAGS (\\Seen))\r\n", errc::not_found, "without BODY[]"},
      {"* 5 FETCH (UID 9 BODY[TEXT]<0> {1}\r\nx)\r\n", errc::not_found, "without BODY[]"},
      {"* 5 FETCH (BODY[]<0> {1}\r\nx)\r\n", errc::invalid_argument, "without UID"},
      {"* 5 FETCH (UID 9 BODY[]<x> \"a\")\r\n", errc::invalid_argument, "origin"},
      {"* 5 FETCH (UID 9 BODY[]<> \"a\")\r\n", errc::invalid_argument, "origin"},
      {"* 5 FETCH (UID 9 BODY[]<0> (a))\r\n", errc::invalid_argument, "not a string"},
      {"* 5 FETCH (UID 9 RFC822.SIZE x BODY[] \"a\")\r\n", errc::invalid_argument, "RFC822.SIZE"},
      {"* 5 EXPUNGE\r\n", errc::invalid_argument, "not a FETCH"},
  };
  for (const auto& [in, code, why] : cases) {
    auto r = parse_fetch_body_chunk(parse_one(in), 9);
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.err().code, code) << in;
    EXPECT_NE(r.err().message.find(why), std::string::npos) << in << ": " << r.err().message;
  }
}

}  // namespace
}  // namespace mailbroker::imap
