#include "protocol/imap/response_parser.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace mailbroker::imap {

// Readable failure output for the parser's types; static because the unit tests share a
// binary and ADL only needs the namespace.
static void PrintTo(const value& v, std::ostream* os) {
  switch (v.type) {
    case value::kind::atom: *os << "atom:" << testing::PrintToString(v.text); break;
    case value::kind::quoted: *os << "quoted:" << testing::PrintToString(v.text); break;
    case value::kind::literal: *os << "literal:" << testing::PrintToString(v.text); break;
    case value::kind::nil: *os << "NIL"; break;
    case value::kind::list:
      *os << "(";
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) *os << " ";
        PrintTo(v.items[i], os);
      }
      *os << ")";
      break;
  }
}

static void PrintTo(const response& r, std::ostream* os) {
  static const char* const types[] = {"tagged", "untagged", "continuation"};
  *os << "{" << types[static_cast<int>(r.type)] << " tag=" << testing::PrintToString(r.tag)
      << " status=" << r.status << " number=" << (r.number ? std::to_string(*r.number) : "-") << " name=" << r.name
      << " data=";
  PrintTo(value{value::kind::list, "", r.data}, os);
  *os << " code=" << r.code << " code_text=" << testing::PrintToString(r.code_text)
      << " text=" << testing::PrintToString(r.text) << "}";
}

namespace {

using namespace std::string_literals;

value atom(std::string t) { return {value::kind::atom, std::move(t), {}}; }
value quoted(std::string t) { return {value::kind::quoted, std::move(t), {}}; }
value literal(std::string t) { return {value::kind::literal, std::move(t), {}}; }
value nil() { return {value::kind::nil, "", {}}; }
value list(std::vector<value> items) { return {value::kind::list, "", std::move(items)}; }

// Field order of `response`: type, tag, status, number, name, data, code, code_text, text.
response tagged(std::string tag, std::string st, std::string code, std::string code_text, std::string text) {
  return {response_type::tagged, tag, st, std::nullopt, "", {}, code, code_text, text};
}
response untagged(std::string st, std::string code, std::string code_text, std::string text) {
  return {response_type::untagged, "", st, std::nullopt, "", {}, code, code_text, text};
}
response data(std::optional<std::uint32_t> number, std::string name, std::vector<value> values) {
  return {response_type::untagged, "", "", number, name, values, "", "", ""};
}
response continuation(std::string text) {
  return {response_type::continuation, "", "", std::nullopt, "", {}, "", "", text};
}

// What the caller loop observed for one response.
struct outcome {
  parse_status status;
  response r;         // complete only
  std::string error;  // errors only
  bool operator==(const outcome&) const = default;
};

void PrintTo(const outcome& o, std::ostream* os) {
  static const char* const names[] = {"need_more", "complete", "recoverable_error", "fatal_error"};
  *os << names[static_cast<int>(o.status)] << " ";
  if (o.status == parse_status::complete) PrintTo(o.r, os);
  else *os << testing::PrintToString(o.error);
}

// The documented caller loop over a sequence of chunks; checks the feed() contract.
std::vector<outcome> run(response_parser& p, const std::vector<std::string_view>& chunks) {
  std::vector<outcome> out;
  for (std::string_view chunk : chunks) {
    while (!chunk.empty()) {
      const parse_result r = p.feed(chunk);
      EXPECT_LE(r.consumed, chunk.size());
      if (r.consumed > chunk.size()) return out;
      if (r.status == parse_status::need_more) {
        EXPECT_EQ(r.consumed, chunk.size()) << "need_more must consume everything";
      } else if (r.status != parse_status::fatal_error) {
        EXPECT_GT(r.consumed, 0u) << "a finished response consumes at least its LF";
        if (r.consumed == 0) return out;
      }
      chunk.remove_prefix(r.consumed);
      switch (r.status) {
        case parse_status::need_more: break;
        case parse_status::complete: out.push_back({r.status, p.take(), ""}); break;
        case parse_status::recoverable_error:
          EXPECT_FALSE(p.error().empty());
          out.push_back({r.status, {}, p.error()});
          break;
        case parse_status::fatal_error:
          EXPECT_FALSE(p.error().empty());
          out.push_back({r.status, {}, p.error()});
          EXPECT_EQ(p.feed("* OK\r\n").status, parse_status::fatal_error) << "fatal must be sticky";
          return out;
      }
    }
  }
  return out;
}

std::vector<outcome> run_whole(std::string_view in, parser_limits limits = {}) {
  response_parser p(limits);
  return run(p, {in});
}

// Checks that every two-chunk split and byte-at-a-time feeding give `expected`.
void expect_chunking_invariant(std::string_view in, const std::vector<outcome>& expected, parser_limits limits) {
  for (std::size_t split = 0; split <= in.size(); ++split) {
    response_parser p(limits);
    ASSERT_EQ(run(p, {in.substr(0, split), in.substr(split)}), expected) << "split at " << split;
  }
  response_parser p(limits);
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < in.size(); ++i) bytes.push_back(in.substr(i, 1));
  ASSERT_EQ(run(p, bytes), expected) << "one byte at a time";
}

struct good_case {
  const char* name;
  std::string input;
  response expected;
};

std::vector<good_case> good_cases() {
  return {
      {"greeting_with_capability_code",
       "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n",
       untagged("OK", "CAPABILITY", "IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN", "Dovecot ready.")},
      {"bare_ok", "* OK\r\n", untagged("OK", "", "", "")},
      {"lower_case_and_bare_lf", "* ok Hello there\n", untagged("OK", "", "", "Hello there")},
      {"empty_text_after_space", "* OK \r\n", untagged("OK", "", "", "")},
      {"tagged_ok_with_code", "A0001 OK [READ-WRITE] SELECT completed\r\n",
       tagged("A0001", "OK", "READ-WRITE", "", "SELECT completed")},
      {"tagged_no_authfailed", "a1 no [authenticationfailed] Authentication failed.\r\n",
       tagged("a1", "NO", "AUTHENTICATIONFAILED", "", "Authentication failed.")},
      {"tagged_bad", "A2 BAD Error in IMAP command: Unknown command\r\n",
       tagged("A2", "BAD", "", "", "Error in IMAP command: Unknown command")},
      {"tag_with_bracket", "A]1 OK x\r\n", tagged("A]1", "OK", "", "", "x")},
      {"bye", "* BYE Logging out\r\n", untagged("BYE", "", "", "Logging out")},
      {"preauth", "* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n",
       untagged("PREAUTH", "CAPABILITY", "IMAP4rev1", "ready")},
      {"permanentflags", "* OK [PERMANENTFLAGS (\\Answered \\Deleted \\Seen \\*)] Flags permitted.\r\n",
       untagged("OK", "PERMANENTFLAGS", "(\\Answered \\Deleted \\Seen \\*)", "Flags permitted.")},
      {"badcharset", "A3 NO [BADCHARSET (UTF-8 US-ASCII)] charset\r\n",
       tagged("A3", "NO", "BADCHARSET", "(UTF-8 US-ASCII)", "charset")},
      {"uidvalidity", "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
       untagged("OK", "UIDVALIDITY", "3857529045", "UIDs valid")},
      {"code_without_text", "A4 OK [ALERT]\r\n", tagged("A4", "OK", "ALERT", "", "")},
      {"code_nested_brackets", "* OK [X-NESTED [a [b]] (c) \"]\"] text\r\n",
       untagged("OK", "X-NESTED", "[a [b]] (c) \"]\"", "text")},
      {"status_text_ending_in_literal_marker", "* OK see {5}\r\n", untagged("OK", "", "", "see {5}")},
      {"status_text_with_8bit", "* NO Zugriff verweigert \xc3\xa4\r\n",
       untagged("NO", "", "", "Zugriff verweigert \xc3\xa4")},
      {"continuation_empty", "+ \r\n", continuation("")},
      {"continuation_bare", "+\r\n", continuation("")},
      {"continuation_base64", "+ UGFzc3dvcmQ6\r\n", continuation("UGFzc3dvcmQ6")},
      {"continuation_text_ending_in_brace", "+ Ready for {3}\r\n", continuation("Ready for {3}")},
      {"capability_data", "* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n",
       data(std::nullopt, "CAPABILITY", {atom("IMAP4rev1"), atom("STARTTLS"), atom("AUTH=PLAIN")})},
      {"exists", "* 23 EXISTS\r\n", data(23, "EXISTS", {})},
      {"zero_recent_lower_case", "* 0 recent\r\n", data(0, "RECENT", {})},
      {"max_number", "* 4294967295 EXPUNGE\r\n", data(4294967295u, "EXPUNGE", {})},
      {"flags", "* FLAGS (\\Answered \\Flagged \\Seen $Forwarded)\r\n",
       data(std::nullopt, "FLAGS",
            {list({atom("\\Answered"), atom("\\Flagged"), atom("\\Seen"), atom("$Forwarded")})})},
      {"list", "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n",
       data(std::nullopt, "LIST", {list({atom("\\HasNoChildren")}), quoted("/"), quoted("INBOX")})},
      {"list_nil_delimiter", "* LIST (\\Noselect) nil \"\"\r\n",
       data(std::nullopt, "LIST", {list({atom("\\Noselect")}), nil(), quoted("")})},
      {"quoted_escapes", "* LIST () \".\" \"quo\\\"te\\\\d\"\r\n",
       data(std::nullopt, "LIST", {list({}), quoted("."), quoted("quo\"te\\d")})},
      {"quoted_8bit", "* LIST () \"/\" \"Entw\xc3\xbcrfe\"\r\n",
       data(std::nullopt, "LIST", {list({}), quoted("/"), quoted("Entw\xc3\xbcrfe")})},
      {"list_mailbox_literal", "* LIST () \"/\" {5}\r\nINBOX\r\n",
       data(std::nullopt, "LIST", {list({}), quoted("/"), literal("INBOX")})},
      {"search", "* SEARCH 1 2 3\r\n", data(std::nullopt, "SEARCH", {atom("1"), atom("2"), atom("3")})},
      {"search_empty", "* SEARCH\r\n", data(std::nullopt, "SEARCH", {})},
      {"extra_spaces", "* SEARCH  1   2 \r\n", data(std::nullopt, "SEARCH", {atom("1"), atom("2")})},
      {"esearch", "* ESEARCH (TAG \"A5\") UID ALL 1:3,5:*\r\n",
       data(std::nullopt, "ESEARCH", {list({atom("TAG"), quoted("A5")}), atom("UID"), atom("ALL"), atom("1:3,5:*")})},
      {"namespace", "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
       data(std::nullopt, "NAMESPACE", {list({list({quoted(""), quoted("/")})}), nil(), nil()})},
      {"status", "* STATUS \"INBOX\" (MESSAGES 231 UIDNEXT 44292)\r\n",
       data(std::nullopt, "STATUS",
            {quoted("INBOX"), list({atom("MESSAGES"), atom("231"), atom("UIDNEXT"), atom("44292")})})},
      {"fetch_header_literal", "* 1 FETCH (UID 5 BODY[HEADER] {12}\r\nSubject: x\r\n)\r\n",
       data(1, "FETCH", {list({atom("UID"), atom("5"), atom("BODY[HEADER]"), literal("Subject: x\r\n")})})},
      {"literal_with_crlf_and_paren", "* 2 FETCH (BODY[] {7}\r\na)\r\n(b) FLAGS (\\Seen))\r\n",
       data(2, "FETCH", {list({atom("BODY[]"), literal("a)\r\n(b)"), atom("FLAGS"), list({atom("\\Seen")})})})},
      {"non_synchronising_literal", "* 3 FETCH (BODY[TEXT] {3+}\r\nabc)\r\n",
       data(3, "FETCH", {list({atom("BODY[TEXT]"), literal("abc")})})},
      {"literal8_with_nul", "* 4 FETCH (BINARY[1] ~{4}\r\n\0\x01\r\xff)\r\n"s,
       data(4, "FETCH", {list({atom("BINARY[1]"), literal("\0\x01\r\xff"s)})})},
      {"empty_literal", "* 5 FETCH (BODY[] {0}\r\n)\r\n", data(5, "FETCH", {list({atom("BODY[]"), literal("")})})},
      {"two_literals_bare_lf", "* 6 FETCH (BODY[HEADER] {2}\nab BODY[TEXT] {2}\ncd)\n",
       data(6, "FETCH", {list({atom("BODY[HEADER]"), literal("ab"), atom("BODY[TEXT]"), literal("cd")})})},
      {"section_atom", "* 7 FETCH (BODY[HEADER.FIELDS (FROM \"Subject\")]<0> NIL)\r\n",
       data(7, "FETCH", {list({atom("BODY[HEADER.FIELDS (FROM \"Subject\")]<0>"), nil()})})},
      {"bodystructure_adjacent_lists",
       "* 8 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL 1)(\"TEXT\" \"HTML\" NIL 2) \"ALTERNATIVE\"))\r\n",
       data(8, "FETCH",
            {list({atom("BODYSTRUCTURE"),
                   list({list({quoted("TEXT"), quoted("PLAIN"), nil(), atom("1")}),
                         list({quoted("TEXT"), quoted("HTML"), nil(), atom("2")}), quoted("ALTERNATIVE")})})})},
      {"atom_ending_in_brace", "* X a}\r\n", data(std::nullopt, "X", {atom("a}")})},
      {"brace_in_quoted_is_not_a_literal", "* X \"a{\" b}\r\n", data(std::nullopt, "X", {quoted("a{"), atom("b}")})},
      {"quoted_marker_then_literal", "* X \"{1}\" {2}\r\nab\r\n",
       data(std::nullopt, "X", {quoted("{1}"), literal("ab")})},
      {"bracketed_mailbox_atom", "* LIST () \"/\" [Gmail]/All\r\n",
       data(std::nullopt, "LIST", {list({}), quoted("/"), atom("[Gmail]/All")})},
  };
}

TEST(ImapResponseParser, GoodCasesWhole) {
  for (const auto& c : good_cases()) {
    SCOPED_TRACE(c.name);
    response_parser p;
    const parse_result r = p.feed(c.input);
    EXPECT_EQ(r.status, parse_status::complete) << p.error();
    EXPECT_EQ(r.consumed, c.input.size());
    EXPECT_EQ(p.take(), c.expected);
    EXPECT_EQ(p.error(), "");
  }
}

TEST(ImapResponseParser, GoodCasesAtEverySplitAndByteByByte) {
  for (const auto& c : good_cases()) {
    SCOPED_TRACE(c.name);
    expect_chunking_invariant(c.input, {{parse_status::complete, c.expected, ""}}, {});
  }
}

TEST(ImapResponseParser, PipelinedResponsesInOneBuffer) {
  std::string all;
  std::vector<outcome> expected;
  for (const auto& c : good_cases()) {
    all += c.input;
    expected.push_back({parse_status::complete, c.expected, ""});
  }
  EXPECT_EQ(run_whole(all), expected);
  // Fixed-size chunks that straddle response boundaries.
  for (std::size_t size : {2u, 3u, 7u, 64u}) {
    response_parser p;
    std::vector<std::string_view> chunks;
    std::string_view rest = all;
    while (!rest.empty()) {
      chunks.push_back(rest.substr(0, size));
      rest.remove_prefix(std::min(size, rest.size()));
    }
    EXPECT_EQ(run(p, chunks), expected) << "chunk size " << size;
  }
}

TEST(ImapResponseParser, ConsumesOnlyTheCurrentResponse) {
  response_parser p;
  const std::string in = "A1 OK [CAPABILITY IMAP4rev1] Begin TLS\r\n\x16\x03\x01 handshake";
  const parse_result r = p.feed(in);
  EXPECT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.consumed, in.find('\n') + 1);
  EXPECT_EQ(p.take().text, "Begin TLS");
}

TEST(ImapResponseParser, TakeIsValidOnce) {
  response_parser p;
  EXPECT_EQ(p.take(), response{});
  ASSERT_EQ(p.feed("* 3 EXISTS\r\n").status, parse_status::complete);
  EXPECT_EQ(p.take(), data(3, "EXISTS", {}));
  EXPECT_EQ(p.take(), response{});
}

TEST(ImapResponseParser, UntakenResponseIsDiscardedByNextFeed) {
  response_parser p;
  ASSERT_EQ(p.feed("* 3 EXISTS\r\n").status, parse_status::complete);
  ASSERT_EQ(p.feed("* 4 EXISTS\r\n").status, parse_status::complete);
  EXPECT_EQ(p.take(), data(4, "EXISTS", {}));
}

TEST(ImapResponseParser, NextResponseParsesAfterRecoverableError) {
  const auto out = run_whole("* 1 FETCH (UID\r\n* 2 EXISTS\r\nA1 OK done\r\n");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].status, parse_status::recoverable_error);
  EXPECT_EQ(out[1], (outcome{parse_status::complete, data(2, "EXISTS", {}), ""}));
  EXPECT_EQ(out[2], (outcome{parse_status::complete, tagged("A1", "OK", "", "", "done"), ""}));
}

TEST(ImapResponseParser, FatalIsStickyUntilReset) {
  response_parser p(parser_limits{.max_line_bytes = 8});
  EXPECT_EQ(p.feed("* OK 123456789\r\n").status, parse_status::fatal_error);
  EXPECT_EQ(p.feed("* OK\r\n").status, parse_status::fatal_error);
  EXPECT_EQ(p.feed("* OK\r\n").consumed, 0u);
  EXPECT_NE(p.error().find("max_line_bytes"), std::string::npos);
  p.reset();
  EXPECT_EQ(p.error(), "");
  EXPECT_EQ(p.feed("* OK\r\n").status, parse_status::complete);
}

TEST(ImapResponseParser, ResetDropsPartialResponse) {
  response_parser p;
  EXPECT_EQ(p.feed("* 1 FETCH (BODY[] {10}\r\nabc").status, parse_status::need_more);
  p.reset();
  const parse_result r = p.feed("* 2 EXISTS\r\n");
  EXPECT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(p.take(), data(2, "EXISTS", {}));
}

TEST(ImapResponseParser, OverlongLineIsFatalBeforeItsEndArrives) {
  response_parser p(parser_limits{.max_line_bytes = 64});
  EXPECT_EQ(p.feed(std::string(64, 'a')).status, parse_status::need_more);
  EXPECT_EQ(p.feed("b").status, parse_status::fatal_error);
}

TEST(ImapResponseParser, LineLimitExcludesLiteralDataAndCountsPerLine) {
  const parser_limits limits{.max_line_bytes = 32};
  const std::string body(100, 'x');
  const std::string in = "* 1 FETCH (BODY[] {100}\r\n" + body + " UID 1)\r\n";
  EXPECT_EQ(run_whole(in, limits),
            (std::vector<outcome>{{parse_status::complete,
                                   data(1, "FETCH", {list({atom("BODY[]"), literal(body), atom("UID"), atom("1")})}),
                                   ""}}));
}

TEST(ImapResponseParser, LimitsAtTheBoundaryAreAccepted) {
  const parser_limits limits{.max_line_bytes = 64, .max_literal_bytes = 5, .max_response_bytes = 64, .max_depth = 3};
  EXPECT_EQ(run_whole("* X {5}\r\nabcde\r\n", limits).at(0).status, parse_status::complete);
  EXPECT_EQ(run_whole("* X (((a)))\r\n", limits).at(0).status, parse_status::complete);
  EXPECT_EQ(run_whole("* X ((a[b]))\r\n", limits).at(0).status, parse_status::complete);
  const std::string line = "* OK " + std::string(64 - 7, 't') + "\r\n";
  ASSERT_EQ(line.size(), 64u);
  EXPECT_EQ(run_whole(line, limits).at(0).status, parse_status::complete);
}

// Lists deeper than max_depth are kept empty, their content skipped (quoted strings and
// literals whole), and the response says so.
TEST(ImapResponseParser, ListsNestedTooDeeplyAreSkippedAndFlagged) {
  const parser_limits limits{.max_depth = 3};
  // The fourth list is skipped whole: a ')' in a quoted string, a literal holding ')'.
  const std::string in = "* 1 FETCH ((((\"a)\" {3}\r\nx)y (b))) UID 5))\r\n";
  response want = data(1, "FETCH", {list({list({list({list({})}), atom("UID"), atom("5")})})});
  want.truncated = true;
  expect_chunking_invariant(in, {{parse_status::complete, want, ""}}, limits);
  EXPECT_FALSE(run_whole("* X (((a)))\r\n", limits).at(0).r.truncated);
  EXPECT_EQ(run_whole("* X ((((a\r\n", limits).at(0).error.find("unterminated list") != std::string::npos, true);
}

// The parsed-size estimate bounds what a response of tiny tokens may become, and is an
// upper bound of what it does become.
TEST(ImapResponseParser, ParsedSizeEstimateIsAnUpperBound) {
  response_parser p;
  std::string in = "* 1 FETCH (";
  for (int i = 0; i < 1000; ++i) in += "a ";
  in += "\"quoted string\" {5}\r\nabcde)\r\n";
  ASSERT_EQ(p.feed(in).status, parse_status::complete);
  const std::size_t cost = p.cost();
  const response r = p.take();
  std::size_t actual = sizeof(response) + r.data.capacity() * sizeof(value);
  for (const auto& v : r.data) {
    actual += v.items.capacity() * sizeof(value);
    for (const auto& item : v.items) actual += item.text.capacity() > 15 ? item.text.capacity() + 1 : 0;
  }
  EXPECT_GE(cost, actual);
  EXPECT_LE(cost, 4 * actual) << "an estimate, not a wild guess";
  EXPECT_GE(cost, 1000 * response_parser::token_cost);
}

TEST(ImapResponseParser, LargeLiteralWithDefaultLimits) {
  const std::string body(3 * 1024 * 1024, '\n');
  const std::string in = "* 1 FETCH (BODY[] {" + std::to_string(body.size()) + "}\r\n" + body + ")\r\n";
  response_parser p;
  std::string_view rest = in;
  parse_result r{};
  while (!rest.empty()) {
    r = p.feed(rest.substr(0, 65536));
    rest.remove_prefix(r.consumed);
    if (r.status != parse_status::need_more) break;
  }
  ASSERT_EQ(r.status, parse_status::complete) << p.error();
  EXPECT_TRUE(rest.empty());
  const response got = p.take();
  ASSERT_EQ(got.data.size(), 1u);
  ASSERT_EQ(got.data[0].items.size(), 2u);
  EXPECT_EQ(got.data[0].items[1].text, body);
}

struct error_case {
  const char* name;
  std::string input;
  parse_status status;
  const char* message;
  parser_limits limits = {};
};

std::vector<error_case> error_cases() {
  const parser_limits tiny{.max_line_bytes = 16, .max_literal_bytes = 10, .max_response_bytes = 48, .max_depth = 3};
  const auto recoverable = parse_status::recoverable_error;
  const auto fatal = parse_status::fatal_error;
  return {
      {"empty_line", "\r\n", recoverable, "missing tag"},
      {"leading_space", " OK\r\n", recoverable, "missing tag"},
      {"star_alone", "*\r\n", recoverable, "expected SP after tag"},
      {"missing_keyword", "* \r\n", recoverable, "missing response keyword"},
      {"tagged_data", "A1 FOO bar\r\n", recoverable, "tagged response must be"},
      {"bad_tag_char", "A(1 OK x\r\n", recoverable, "invalid character '(' in tag"},
      {"plus_in_tag", "A+1 OK x\r\n", recoverable, "in tag"},
      {"number_overflow", "* 4294967296 EXISTS\r\n", recoverable, "number out of range"},
      {"number_without_name", "* 3\r\n", recoverable, "expected response name after number"},
      {"numbered_status", "* 3 OK\r\n", recoverable, "must not start with a number"},
      {"paren_in_name", "* FLAGS(\\Seen)\r\n", recoverable, "invalid character '(' in response name"},
      {"unterminated_list", "* 1 FETCH (UID 5\r\n", recoverable, "unterminated list"},
      {"stray_close_paren", "* 1 FETCH UID 5)\r\n", recoverable, "expected SP, found ')'"},
      {"top_level_close_paren", "* X )\r\n", recoverable, "unexpected ')'"},
      {"missing_space_in_list", "* X (a\"b\")\r\n", recoverable, "expected SP or ')' in list"},
      {"unterminated_quoted", "* LIST () \"/\" \"INB\r\n", recoverable, "unterminated quoted string"},
      {"cr_in_quoted", "* X \"a\rb\"\r\n", recoverable, "unterminated quoted string"},
      {"nul_in_quoted", "* X \"a\0b\"\r\n"s, recoverable, "NUL in quoted string"},
      {"invalid_escape", "* X \"a\\nb\"\r\n", recoverable, "invalid escape"},
      {"literal_mid_line", "* X {3}abc\r\n", recoverable, "literal marker must end the line"},
      {"data_after_literal", "* X {2}\r\nabc\r\n", recoverable, "expected SP, found 'c'"},
      {"unterminated_code", "* OK [ALERT text\r\n", recoverable, "unterminated response code"},
      {"empty_code", "* OK [] hi\r\n", recoverable, "empty response code"},
      {"nul_in_text", "* OK a\0b\r\n"s, recoverable, "0x00 in text"},
      {"bare_cr_in_text", "* OK a\rb\r\n", recoverable, "0x0d in text"},
      {"unterminated_section", "* X BODY[1\r\n", recoverable, "unterminated '['"},
      {"control_char_in_atom", "* X a\x01z\r\n", recoverable, "expected SP, found 0x01"},
      {"section_too_deep", "* X ((a[[b]]))\r\n", recoverable, "nested deeper than max_depth", tiny},
      {"default_section_depth", "* X a" + std::string(65, '[') + std::string(65, ']') + "\r\n", recoverable,
       "nested deeper than max_depth"},
      {"parsed_size", "* X" + std::string(2000, 'a') + "\r\n", fatal, "max_parsed_bytes (1024)",
       parser_limits{.max_parsed_bytes = 1024}},
      {"parsed_size_of_tokens", "* X " + [] { std::string t; for (int i = 0; i < 300; ++i) t += "a "; return t; }() +
       "\r\n", fatal, "max_parsed_bytes (4096) once parsed", parser_limits{.max_parsed_bytes = 4096}},
      {"parsed_size_of_a_literal", "* X {5000}\r\n", fatal, "max_parsed_bytes (4096)",
       parser_limits{.max_parsed_bytes = 4096}},
      {"line_too_long", "* OK 0123456789abc\r\n", fatal, "max_line_bytes (16)", tiny},
      {"literal_too_large", "* X {11}\r\n", fatal, "max_literal_bytes (10)", tiny},
      {"literal_length_overflow", "* X {99999999999999999999999999}\r\n", fatal, "max_literal_bytes"},
      {"response_too_large", "* X {10}\r\n0123456789 {10}\r\n0123456789 {9}\r\n", fatal, "max_response_bytes (48)",
       tiny},
      {"response_too_large_by_line", "* X {10}\r\n0123456789 {10}\r\n0123456789 abcdefghijk\r\n", fatal,
       "max_response_bytes (48)", tiny},
      {"non_digit_literal_length", "* X {1a}\r\n", fatal, "invalid literal length"},
      {"empty_literal_length", "* X {}\r\n", fatal, "invalid literal length"},
      {"plus_only_literal_length", "* X {+}\r\n", fatal, "invalid literal length"},
  };
}

TEST(ImapResponseParser, ErrorCases) {
  for (const auto& c : error_cases()) {
    SCOPED_TRACE(c.name);
    // A valid response follows: after a recoverable error it must parse.
    const std::string in = c.input + "A9 OK after\r\n";
    const auto out = run_whole(in, c.limits);
    ASSERT_GE(out.size(), 1u);
    EXPECT_EQ(out[0].status, c.status);
    EXPECT_NE(out[0].error.find(c.message), std::string::npos) << out[0].error;
    EXPECT_LE(out[0].error.size(), 120u);
    if (c.status == parse_status::recoverable_error) {
      ASSERT_EQ(out.size(), 2u);
      EXPECT_EQ(out[1], (outcome{parse_status::complete, tagged("A9", "OK", "", "", "after"), ""}));
    } else {
      EXPECT_EQ(out.size(), 1u);
    }
    expect_chunking_invariant(in, out, c.limits);
  }
}

TEST(ImapResponseParser, ErrorMessagesDoNotEchoServerBytes) {
  const std::string secret(200, 'S');
  const auto out = run_whole("* X \"" + secret + "\\q\"\r\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].error.find("SSSS"), std::string::npos) << out[0].error;
}

// Random input, biased towards IMAP syntax so that the deeper states are reached, must
// never crash, must keep the feed() contract, and must not depend on chunking.
TEST(ImapResponseParser, GarbageNeverCrashesAndIgnoresChunking) {
  static const std::vector<std::string> pieces = {
      "* ", "A1 ", "+ ", "OK ", "NO ", "FETCH ", "(", ")", "[", "]", "\"", "\\", "{", "}", "{3}\r\n", "{0}\r\n",
      "{2+}\r\n", "~{1}\r\n", "\r\n", "\n", "\r", " ", "NIL", "BODY[", "1", "\0"s, "\xff", "~", "<0>", "x"};
  const parser_limits limits{.max_line_bytes = 96, .max_literal_bytes = 16, .max_response_bytes = 200, .max_depth = 4};
  std::mt19937 rng(12345);
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::string in;
    const int n = std::uniform_int_distribution<int>(0, 60)(rng);
    for (int i = 0; i < n; ++i) {
      if (rng() % 4 == 0) {
        in += static_cast<char>(rng() % 256);
      } else {
        in += pieces[rng() % pieces.size()];
      }
    }
    const auto whole = run_whole(in, limits);
    response_parser p(limits);
    std::vector<std::string_view> chunks;
    std::string_view rest = in;
    while (!rest.empty()) {
      const std::size_t size = 1 + rng() % 9;
      chunks.push_back(rest.substr(0, size));
      rest.remove_prefix(std::min(size, rest.size()));
    }
    ASSERT_EQ(run(p, chunks), whole) << testing::PrintToString(in);
  }
}

TEST(ImapCapabilities, FromDataResponse) {
  const response r = data(std::nullopt, "CAPABILITY", {atom("IMAP4rev1"), atom("auth=plain"), quoted("X")});
  EXPECT_EQ(capabilities_of(r), (std::vector<std::string>{"IMAP4REV1", "AUTH=PLAIN"}));
}

TEST(ImapCapabilities, FromResponseCode) {
  const auto out = run_whole("A1 OK [CAPABILITY IMAP4rev1  SASL-IR idle] Logged in\r\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(capabilities_of(out[0].r), (std::vector<std::string>{"IMAP4REV1", "SASL-IR", "IDLE"}));
}

TEST(ImapCapabilities, NoneElsewhere) {
  EXPECT_TRUE(capabilities_of(untagged("OK", "ALERT", "", "CAPABILITY x")).empty());
  EXPECT_TRUE(capabilities_of(data(std::nullopt, "ENABLED", {atom("CONDSTORE")})).empty());
  EXPECT_TRUE(capabilities_of(continuation("CAPABILITY")).empty());
  EXPECT_TRUE(capabilities_of(untagged("OK", "CAPABILITY", "", "")).empty());
}

}  // namespace
}  // namespace mailbroker::imap
