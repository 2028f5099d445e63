#include "protocol/imap/mailbox_codec.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/imap/date_time.hpp"
#include "protocol/imap/response_parser.hpp"

namespace mailbroker::imap {
namespace {

using namespace std::string_literals;
using namespace std::chrono;

// One complete response parsed from server bytes, as the client would hand it over.
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

// ---- modified UTF-7 -------------------------------------------------------------------

TEST(MailboxName, RoundTripsKnownNames) {
  const std::pair<std::string, std::string> cases[] = {
      {"INBOX", "INBOX"},
      {"Entwürfe", "Entw&APw-rfe"},
      {"日本語", "&ZeVnLIqe-"},
      {"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},  // RFC 3501 5.1.3
      {"&", "&-"},
      {"INBOX/Sub &Folder", "INBOX/Sub &-Folder"},
      {"Ä&ö", "&AMQ-&-&APY-"},
      {"äö", "&AOQA9g-"},
      {"😀", "&2D3eAA-"},  // U+1F600, a surrogate pair
      {"tab\there", "tab&AAk-here"},
      {"", ""},
  };
  for (const auto& [utf8, mutf7] : cases) {
    auto enc = encode_mailbox_name(utf8);
    ASSERT_TRUE(enc) << utf8 << ": " << enc.err().message;
    EXPECT_EQ(*enc, mutf7) << utf8;
    auto dec = decode_mailbox_name(mutf7);
    ASSERT_TRUE(dec) << mutf7 << ": " << dec.err().message;
    EXPECT_EQ(*dec, utf8) << mutf7;
  }
}

TEST(MailboxName, EncodeRejectsInvalidUtf8) {
  const std::string bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe6\x97"};
  for (const std::string& s : bad) {
    auto r = encode_mailbox_name(s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find("UTF-8"), std::string::npos);
  }
}

TEST(MailboxName, DecodeRejectsMalformedModifiedUtf7) {
  const std::pair<std::string, std::string> cases[] = {
      {"&ZeVnLIqe", "unterminated"},
      {"a&", "unterminated"},
      {"&Jjo!-", "base64 character"},
      {"&Jj/o-", "base64 character"},  // '/' is ',' in modified base64
      {"&AGE-", "printable ASCII"},   // "a"
      {"&ACY-", "printable ASCII"},   // "&" must be "&-"
      {"&AA-", "odd number"},
      {"&AOR-", "leftover bits"},
      {"&AOQAA-", "leftover bits"},
      {"&2D0-", "unpaired"},  // lone high surrogate
      {"&3gA-", "unpaired"},  // lone low surrogate
      {"&AOQ-&APY-", "adjacent"},
      {"Entw\xc3\xbcrfe", "outside printable ASCII"},
      {"a\tb", "outside printable ASCII"},
      {"a\0b"s, "outside printable ASCII"},
  };
  for (const auto& [in, why] : cases) {
    auto r = decode_mailbox_name(in);
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find(why), std::string::npos) << in << ": " << r.err().message;
  }
}

// ---- LIST -------------------------------------------------------------------------------

TEST(MailboxList, ParsesDovecotReplies) {
  struct good {
    std::string in;
    folder_entry expected;
  };
  const good cases[] = {
      {"* LIST (\\HasNoChildren) \"/\" INBOX/Drafts\r\n", {"INBOX/Drafts", "/", {"\\HasNoChildren"}}},
      {"* LIST (\\HasChildren \\Noselect) \".\" \"Entw&APw-rfe\"\r\n",
       {"Entwürfe", ".", {"\\HasChildren", "\\Noselect"}}},
      {"* LIST () NIL {5}\r\nINBOX\r\n", {"INBOX", "", {}}},
      {"* LIST (\\Sent \\HasNoChildren) \"/\" \"Sent Items\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
       {"Sent Items", "/", {"\\Sent", "\\HasNoChildren"}}},
      {"* LSUB () \"/\" \"&ZeVnLIqe-/a &- b\"\r\n", {"日本語/a & b", "/", {}}},
  };
  for (const good& c : cases) {
    auto r = parse_list_response(parse_one(c.in));
    ASSERT_TRUE(r) << c.in << ": " << r.err().message;
    EXPECT_EQ(r->name_utf8, c.expected.name_utf8);
    EXPECT_EQ(r->delimiter, c.expected.delimiter);
    EXPECT_EQ(r->attributes, c.expected.attributes);
  }
}

TEST(MailboxList, RejectsMalformedReplies) {
  const std::pair<std::string, std::string> cases[] = {
      {"* FLAGS (\\Seen)\r\n", "not a LIST"},
      {"* OK done\r\n", "not a LIST"},
      {"* LIST (\\X) \"/\"\r\n", "missing"},
      {"* LIST \\X \"/\" a\r\n", "not a list"},
      {"* LIST (\"x\") \"/\" a\r\n", "not an atom"},
      {"* LIST () \"//\" a\r\n", "delimiter"},
      {"* LIST () \"\" a\r\n", "delimiter"},
      {"* LIST () \"/\" NIL\r\n", "not a string"},
      {"* LIST () \"/\" (a)\r\n", "not a string"},
      {"* LIST () \"/\" \"a&b\"\r\n", "unterminated"},
      {"* LIST () \"/\" \"Entw\xc3\xbcrfe\"\r\n", "printable ASCII"},
  };
  for (const auto& [in, why] : cases) {
    auto r = parse_list_response(parse_one(in));
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find(why), std::string::npos) << in << ": " << r.err().message;
  }
}

// ---- UID sets and COPYUID -------------------------------------------------------------

TEST(MailboxUidSet, FormatsSortedRanges) {
  EXPECT_EQ(format_uid_set({}), "");
  EXPECT_EQ(format_uid_set({0}), "");
  EXPECT_EQ(format_uid_set({7, 3, 1, 2}), "1:3,7");
  EXPECT_EQ(format_uid_set({5, 5, 5}), "5");
  EXPECT_EQ(format_uid_set({0, 1, 2}), "1:2");
  EXPECT_EQ(format_uid_set({1, 3, 5}), "1,3,5");
  EXPECT_EQ(format_uid_set({4294967295u, 4294967294u, 1}), "1,4294967294:4294967295");
}

TEST(MailboxUidSet, ParsesAndExpands) {
  using v = std::vector<std::uint32_t>;
  EXPECT_EQ(*parse_uid_set("1:3,7"), (v{1, 2, 3, 7}));
  EXPECT_EQ(*parse_uid_set("3:1"), (v{1, 2, 3}));
  EXPECT_EQ(*parse_uid_set("304,319:320"), (v{304, 319, 320}));
  EXPECT_EQ(*parse_uid_set("9,2,9"), (v{9, 2, 9}));
  EXPECT_EQ(*parse_uid_set("4294967295"), (v{4294967295u}));
  EXPECT_EQ(parse_uid_set("1:100000")->size(), 100000u);
  for (const auto& s : {"1:3,7", "5", "1,3,5", "10:20,30"}) {
    EXPECT_EQ(format_uid_set(*parse_uid_set(s)), s);
  }
}

TEST(MailboxUidSet, RejectsMalformedOrHugeSets) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "empty"},
      {"1,", "not a uid"},
      {",1", "not a uid"},
      {"1:*", "'*'"},
      {"*", "'*'"},
      {"0", "uid 0"},
      {"1:0", "uid 0"},
      {"a", "not a uid"},
      {"1:2:3", "not a uid"},
      {"4294967296", "not a uid"},
      {" 1", "not a uid"},
      {"-1", "not a uid"},
      {"1:4294967295", "more than 100000"},
      {"1:60000,1:60000", "more than 100000"},
  };
  for (const auto& [in, why] : cases) {
    auto r = parse_uid_set(in);
    ASSERT_FALSE(r) << in;
    EXPECT_NE(r.err().message.find(why), std::string::npos) << in << ": " << r.err().message;
  }
  EXPECT_FALSE(parse_uid_set("1:10", 5));
  EXPECT_TRUE(parse_uid_set("1:5", 5));
}

TEST(MailboxCopyuid, ParsesTheResponseCode) {
  const response r = parse_one("A003 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n");
  ASSERT_EQ(r.code, "COPYUID");
  auto c = parse_copyuid(r.code_text);
  ASSERT_TRUE(c) << c.err().message;
  EXPECT_EQ(c->uid_validity, 38505u);
  EXPECT_EQ(c->source, (std::vector<std::uint32_t>{304, 319, 320}));
  EXPECT_EQ(c->dest, (std::vector<std::uint32_t>{3956, 3957, 3958}));
}

TEST(MailboxCopyuid, RejectsMalformedCodes) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "expected"},
      {"38505 1", "expected"},
      {"38505 1 2 3", "expected"},
      {"0 1 2", "uidvalidity"},
      {"x 1 2", "uidvalidity"},
      {"38505 1:2 5", "differ in size"},
      {"38505 * 2", "source"},
      {"38505 1 0", "destination"},
  };
  for (const auto& [in, why] : cases) {
    auto r = parse_copyuid(in);
    ASSERT_FALSE(r) << in;
    EXPECT_NE(r.err().message.find(why), std::string::npos) << in << ": " << r.err().message;
  }
}

// ---- SEARCH -----------------------------------------------------------------------------

TEST(MailboxSearch, BuildsCommands) {
  search_criteria none;
  EXPECT_EQ(*build_uid_search(none, false), "UID SEARCH ALL");

  search_criteria c;
  c.read = search_criteria::read_state::unread;
  c.from_contains = "bob";
  c.since = sys_days{year{2026} / February / 1};
  c.after_uid = 100;
  EXPECT_EQ(*build_uid_search(c, false), "UID SEARCH UNSEEN FROM \"bob\" SINCE 1-Feb-2026 UID 101:*");

  search_criteria d;
  d.read = search_criteria::read_state::read;
  d.subject_contains = "say \"hi\"";
  d.before = sys_days{year{2025} / December / 31};
  EXPECT_EQ(*build_uid_search(d, true), "UID SEARCH SEEN SUBJECT \"say \\\"hi\\\"\" BEFORE 31-Dec-2025");
}

TEST(MailboxSearch, NonAsciiUsesCharsetAndLiteralPlus) {
  search_criteria c;
  c.from_contains = "bob";
  c.subject_contains = "Réunion";
  auto r = build_uid_search(c, true);
  ASSERT_TRUE(r) << r.err().message;
  EXPECT_EQ(*r, "UID SEARCH CHARSET UTF-8 FROM \"bob\" SUBJECT {8+}\r\nRéunion");

  auto refused = build_uid_search(c, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.err().code, errc::invalid_argument);
  EXPECT_NE(refused.err().message.find("LITERAL+"), std::string::npos);
  EXPECT_NE(refused.err().message.find("subject_contains"), std::string::npos);
}

TEST(MailboxSearch, RejectsUnsendableCriteria) {
  const auto with = [](auto edit) {
    search_criteria c;
    edit(c);
    return build_uid_search(c, true);
  };
  EXPECT_FALSE(with([](search_criteria& c) { c.from_contains = "a\r\nb"; }));
  EXPECT_FALSE(with([](search_criteria& c) { c.subject_contains = "a\0b"s; }));
  EXPECT_FALSE(with([](search_criteria& c) { c.subject_contains = "caf\xe9"; }));  // Latin-1
  EXPECT_FALSE(with([](search_criteria& c) { c.after_uid = 4294967295u; }));
  EXPECT_FALSE(with([](search_criteria& c) { c.since = sys_days{year{10000} / January / 1}; }));
  auto r = with([](search_criteria& c) { c.from_contains = "x\ny"; });
  EXPECT_NE(r.err().message.find("from_contains"), std::string::npos);
  EXPECT_TRUE(with([](search_criteria& c) { c.after_uid = 4294967294u; }));
}

TEST(MailboxSearch, ParsesSearchResponses) {
  const std::vector<response> untagged = {
      parse_one("* SEARCH 2 84 882\r\n"),
      parse_one("* 3 EXISTS\r\n"),
      parse_one("* SEARCH\r\n"),
      parse_one("* SEARCH 5 (MODSEQ 917162500)\r\n"),
      parse_one("* OK still here\r\n"),
  };
  EXPECT_EQ(parse_search_response(untagged), (std::vector<std::uint32_t>{2, 84, 882, 5}));
  EXPECT_TRUE(parse_search_response({}).empty());
}

// ---- SELECT state --------------------------------------------------------------------------

// What Dovecot answers to "SELECT INBOX (CONDSTORE)" (RFC 7162 3.1.2.1 order, any order works).
std::vector<response> condstore_select(std::string exists, std::string modseq) {
  return {
      parse_one("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"),
      parse_one("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"),
      parse_one("* " + exists + " EXISTS\r\n"),
      parse_one("* 0 RECENT\r\n"),
      parse_one("* OK [UIDVALIDITY 1765040000] UIDs valid\r\n"),
      parse_one("* OK [UIDNEXT 201] Predicted next UID\r\n"),
      parse_one("* OK [HIGHESTMODSEQ " + modseq + "] Highest\r\n"),
  };
}

TEST(SelectedState, ReadsEveryPartOfACondstoreSelect) {
  const auto s = parse_selected_state(condstore_select("200", "18446744073709551615"));
  EXPECT_TRUE(s.complete());
  EXPECT_EQ(s.uid_validity, 1765040000u);
  EXPECT_EQ(s.uid_next, 201u);
  EXPECT_EQ(s.exists, 200u);
  EXPECT_EQ(s.highest_modseq, 18446744073709551615ull);
  EXPECT_EQ(s.version(), "1765040000/201/200/18446744073709551615");
}

TEST(SelectedState, AnyChangedPartChangesTheVersion) {
  const auto base = parse_selected_state(condstore_select("200", "412")).version();
  EXPECT_EQ(parse_selected_state(condstore_select("200", "412")).version(), base);
  EXPECT_NE(parse_selected_state(condstore_select("199", "412")).version(), base);  // an expunge
  EXPECT_NE(parse_selected_state(condstore_select("200", "413")).version(), base);  // a flag change
  auto arrived = condstore_select("200", "412");
  arrived[5] = parse_one("* OK [UIDNEXT 202] Predicted next UID\r\n");  // one in, one out
  EXPECT_NE(parse_selected_state(arrived).version(), base);
}

TEST(SelectedState, IncompleteWithoutModseqOrWithNomodseqOrMissingParts) {
  auto plain = condstore_select("3", "9");
  plain.pop_back();  // no CONDSTORE: no HIGHESTMODSEQ
  EXPECT_FALSE(parse_selected_state(plain).complete());
  EXPECT_EQ(parse_selected_state(plain).version(), "");
  auto nomodseq = condstore_select("3", "9");
  nomodseq.push_back(parse_one("* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n"));
  EXPECT_FALSE(parse_selected_state(nomodseq).complete());
  auto no_exists = condstore_select("3", "9");
  no_exists.erase(no_exists.begin() + 2);
  EXPECT_FALSE(parse_selected_state(no_exists).complete());
  EXPECT_FALSE(parse_selected_state(condstore_select("3", "12x")).complete());           // unreadable
  EXPECT_FALSE(parse_selected_state(condstore_select("3", "184467440737095516160")).complete());  // too big
  EXPECT_FALSE(parse_selected_state({}).complete());
}

TEST(SelectedState, TheLastExistsCountsWhenTheOldSelectionReportsNewsFirst) {
  // Re-selecting: news of the old selection, then Dovecot's [CLOSED], then the new one.
  std::vector<response> untagged{parse_one("* 7 EXISTS\r\n"), parse_one("* OK [CLOSED] Previous mailbox closed.\r\n")};
  for (auto& r : condstore_select("5", "30")) untagged.push_back(std::move(r));
  EXPECT_EQ(parse_selected_state(untagged).exists, 5u);
}

// ---- dates -------------------------------------------------------------------------------

TEST(MailboxDate, InternalDate) {
  EXPECT_EQ(parse_internal_date("17-Jul-1996 02:44:25 -0700"), utc(1996, 7, 17, 9, 44, 25));
  EXPECT_EQ(parse_internal_date(" 7-jul-1996 02:44:25 +0000"), utc(1996, 7, 7, 2, 44, 25));
  EXPECT_EQ(parse_internal_date("7-Jul-1996 02:44:25 +0130"), utc(1996, 7, 7, 1, 14, 25));
  EXPECT_EQ(parse_internal_date("27-Nov-2026 10:00:00 +0000"), utc(2026, 11, 27, 10, 0, 0));
  for (const char* bad : {"", "17-Jul-1996 02:44:25", "17-Jul-96 02:44:25 -0700", "32-Jul-1996 02:44:25 -0700",
                          "29-Feb-2026 02:44:25 -0700", "17-Juk-1996 02:44:25 -0700", "17-Jul-1996 2:44:25 -0700",
                          "17-Jul-1996 02:44:25 -07000", "17-Jul-1996T02:44:25 -0700",
                          "01-Jan-0001 00:00:00 +0000"}) {
    EXPECT_EQ(parse_internal_date(bad), std::nullopt) << bad;
  }
}

TEST(MailboxDate, Rfc5322Dates) {
  const std::pair<std::string, system_clock::time_point> cases[] = {
      {"Fri, 27 Nov 2026 10:59:58 +0100", utc(2026, 11, 27, 9, 59, 58)},
      {"27 Nov 2026 10:59 +0100", utc(2026, 11, 27, 9, 59, 0)},
      {"Fri, 27 Nov 26 10:59:58 GMT", utc(2026, 11, 27, 10, 59, 58)},
      {"Fri, 1 Jan 99 00:00:00 EST", utc(1999, 1, 1, 5, 0, 0)},
      {"Sat, 1 Jan 100 00:00:00 UT", utc(2000, 1, 1, 0, 0, 0)},
      {"Tue,  2 Mar 2021 03:04:05 -0000 (UTC)", utc(2021, 3, 2, 3, 4, 5)},
      {"Tue, 2 Mar 2021 03:04:05 +0000 (Coordinated (Universal) Time)", utc(2021, 3, 2, 3, 4, 5)},
      {"(sent) Tue , 02 mar 2021\t03:04:05 z", utc(2021, 3, 2, 3, 4, 5)},
      {"Thu, 31 Dec 2026 23:59:60 +0000", utc(2026, 12, 31, 23, 59, 59)},
      {"Tuesday, 02 March 2021 03:04:05 PDT", utc(2021, 3, 2, 10, 4, 5)},
      {"Tue 2 Mar 2021 03:04:05 CET", utc(2021, 3, 2, 3, 4, 5)},
      {"Wed, 2 Mar 2021 03:04:05 -0000", utc(2021, 3, 2, 3, 4, 5)},  // wrong weekday is kept
      {"Tue, 2 Mar 2021 3:04:05 +0000 GMT", utc(2021, 3, 2, 3, 4, 5)},
  };
  for (const auto& [in, expected] : cases) EXPECT_EQ(parse_rfc5322_date(in), expected) << in;
  for (const char* bad : {"", "garbage", "31 Feb 2021 10:00:00 +0000", "1 Jan 2021 24:00:00 +0000",
                          "1 Jan 2021 10:00:00", "1 Foo 2021 10:00:00 +0000", "1 Jan 2021 10:00:00 +01000",
                          "1 Jan 2021 10:00:00 +0160", "(unbalanced 1 Jan 2021 10:00 +0000",
                          "Xyz, 1 Jan 2021 10:00:00 +0000", "1 Jan 2021 10:0 +0000", "1 Jan 1 10:00 +0000",
                          "1 Jan 2021 10:00:00 ABCDEF", "2021-01-01T10:00:00Z",
                          "1 Jan 1007 10:00:00 +0000", "1 Jan 9999 10:00:00 +0000"}) {
    EXPECT_EQ(parse_rfc5322_date(bad), std::nullopt) << bad;
  }
}

TEST(MailboxDate, SearchDates) {
  EXPECT_EQ(format_search_date(sys_days{year{2026} / February / 1}), "1-Feb-2026");
  EXPECT_EQ(format_search_date(sys_days{year{999} / December / 31}), "31-Dec-0999");
  EXPECT_EQ(format_search_date(sys_days{year{-1} / December / 31}), std::nullopt);
}

}  // namespace
}  // namespace mailbroker::imap
