// The pure EWS codec, request side: text cleaning and escaping, versions, xs:dateTime,
// and every request builder (exact strings for the small ones, the others parsed back
// with pugixml and checked path by path). Response readers: ews_responses_test.cpp.
#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <string>
#include <vector>

#include "common/base64.hpp"
#include "protocol/ews/date_time.hpp"
#include "protocol/ews/requests.hpp"
#include "protocol/ews/version.hpp"
#include "protocol/ews/xml_text.hpp"

namespace mailbroker::ews {
namespace {

using namespace std::chrono;
using namespace std::string_literals;

const std::string fffd = "\xEF\xBF\xBD";

time_point utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

// ---- clean_text ---------------------------------------------------------------------

TEST(EwsText, CleanTextKeepsValidTextAsIs) {
  for (const std::string s : {"", "plain ASCII", "tab\there\nLF\rCR", "Grüße 日本語 😀", "\x7f DEL is allowed",
                              "\xC2\x80 C1 controls are allowed", "\xEF\xBF\xBD already U+FFFD",
                              "\xF4\x8F\xBF\xBD U+10FFFD (private use, not a noncharacter)"}) {
    EXPECT_EQ(clean_text(s), s) << s;
  }
}

TEST(EwsText, CleanTextReplacesEveryForbiddenCodePointWithOneReplacement) {
  // Each forbidden code point in its UTF-8 form (surrogates as pugixml writes them).
  std::vector<std::string> forbidden;
  for (char c = 0x00; c <= 0x08; ++c) forbidden.push_back(std::string(1, c));
  forbidden.push_back("\x0B");
  forbidden.push_back("\x0C");
  for (char c = 0x0E; c <= 0x1F; ++c) forbidden.push_back(std::string(1, c));
  forbidden.push_back("\xED\xA0\x80");  // U+D800
  forbidden.push_back("\xED\xAF\xBF");  // U+DBFF
  forbidden.push_back("\xED\xB0\x80");  // U+DC00
  forbidden.push_back("\xED\xBF\xBF");  // U+DFFF
  forbidden.push_back("\xEF\xB7\x90");  // U+FDD0
  forbidden.push_back("\xEF\xB7\xAF");  // U+FDEF
  forbidden.push_back("\xEF\xBF\xBE");  // U+FFFE
  forbidden.push_back("\xEF\xBF\xBF");  // U+FFFF
  forbidden.push_back("\xF0\x9F\xBF\xBE");  // U+1FFFE
  forbidden.push_back("\xF0\x9F\xBF\xBF");  // U+1FFFF
  forbidden.push_back("\xF4\x8F\xBF\xBE");  // U+10FFFE
  forbidden.push_back("\xF4\x8F\xBF\xBF");  // U+10FFFF
  for (const std::string& f : forbidden) {
    EXPECT_EQ(clean_text("a" + f + "b"), "a" + fffd + "b") << testing::PrintToString(f);
  }
}

TEST(EwsText, CleanTextReplacesMaximalInvalidSubparts) {
  const std::pair<std::string, std::string> cases[] = {
      {"\xFF", fffd},
      {"a\x80z", "a" + fffd + "z"},             // stray continuation byte
      {"\xC0\xAF", fffd + fffd},                // overlong '/': C0 never starts a sequence
      {"\xE0\x80\x80", fffd + fffd + fffd},     // overlong 3-byte form
      {"\xE6\x97", fffd},                       // truncated at the end: one subpart
      {"\xE6\x97z", fffd + "z"},                // truncated before ASCII
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"\xF0\x9F\x98", fffd},                   // truncated 4-byte sequence
      {"\xF8\x88\x80\x80\x80", fffd + fffd + fffd + fffd + fffd},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(clean_text(in), want) << testing::PrintToString(in);
}

TEST(EwsText, CleanTextCutsAtACharacterBoundary) {
  EXPECT_EQ(clean_text("abcdef", 4), "abcd");
  EXPECT_EQ(clean_text("ab\xC3\xBC", 3), "ab");   // ü would need 4 bytes
  EXPECT_EQ(clean_text("ab\x01", 4), "ab");        // U+FFFD does not fit either
  EXPECT_EQ(clean_text(std::string(max_text_bytes + 10, 'x')).size(), max_text_bytes);
}

TEST(EwsText, XmlEscapeEscapesMarkupAndWhiteSpaceAndCleans) {
  EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(xml_escape("l1\r\nl2\tx"), "l1&#13;&#10;l2&#9;x");
  EXPECT_EQ(xml_escape("bell\x07"s + "\xFF"), "bell" + fffd + fffd);
  EXPECT_EQ(xml_escape("日本"), "日本");
  // The escaped text survives a round trip through an attribute and through text.
  const std::string nasty = "x\"'<&>\r\n\t y";
  pugi::xml_document doc;
  const std::string xml = "<a v=\"" + xml_escape(nasty) + "\" w='" + xml_escape(nasty) + "'>" + xml_escape(nasty) + "</a>";
  ASSERT_TRUE(doc.load_string(xml.c_str(), pugi::parse_default | pugi::parse_ws_pcdata_single)) << xml;
  // pugixml normalises an unescaped CR LF in text, but not the &#13; we wrote.
  EXPECT_EQ(std::string(doc.child("a").attribute("v").value()), nasty);
  EXPECT_EQ(std::string(doc.child("a").attribute("w").value()), nasty);
  EXPECT_EQ(std::string(doc.child("a").child_value()), nasty);
}

TEST(EwsText, PrepareForParseReplacesNulAndOutOfRangeReferencesOnly) {
  EXPECT_EQ(prepare_for_parse("<a>x&#0;y&#x0;z&#x0000;</a>"), "<a>x" + fffd + "y" + fffd + "z" + fffd + "</a>");
  EXPECT_EQ(prepare_for_parse("<a>&#x110000;&#1114112;&#x100000041;&#99999999999999999999;</a>"),
            "<a>" + fffd + fffd + fffd + fffd + "</a>");
  EXPECT_EQ(prepare_for_parse("<a>x\0y</a>"s), "<a>x" + fffd + "y</a>");
  // Left for pugixml: valid-range references (even forbidden ones), malformed ones.
  for (const std::string same : {"<a>&#x1;&#xD800;&#xFFFE;&#x10FFFF;&#65;</a>", "<a>&#;&#x;&#x0 &#12a;</a>",
                                 "<a>&amp;#0;</a>", "<a><![CDATA[&#0;]]><!-- &#x0; --></a>", "&#x0"}) {
    EXPECT_EQ(prepare_for_parse(same), same) << same;
  }
}

// ---- versions ---------------------------------------------------------------------

TEST(EwsVersion, NamesRoundTripAndUnknownNamesListTheAcceptedOnes) {
  for (server_version v : {server_version::exchange2007_sp1, server_version::exchange2010,
                           server_version::exchange2010_sp1, server_version::exchange2010_sp2,
                           server_version::exchange2013, server_version::exchange2013_sp1}) {
    auto parsed = parse_version(version_name(v));
    ASSERT_TRUE(parsed) << version_name(v);
    EXPECT_EQ(*parsed, v);
  }
  EXPECT_EQ(version_name(server_version::exchange2010_sp1), "Exchange2010_SP1");
  for (std::string_view bad : {"", "exchange2010_sp1", "Exchange2016", "Exchange2007"}) {
    auto r = parse_version(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find("Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, "
                                   "Exchange2013, Exchange2013_SP1"),
              std::string::npos)
        << r.err().message;
  }
}

TEST(EwsVersion, RequireNamesOperationAndVersions) {
  EXPECT_TRUE(require(server_version::exchange2010_sp1, feature::streaming_notifications).ok());
  EXPECT_TRUE(require(server_version::exchange2013_sp1, "GetStreamingEvents").ok());
  const error e = require(server_version::exchange2010, feature::streaming_notifications);
  EXPECT_EQ(e.code, errc::failed_precondition);
  EXPECT_NE(e.message.find("needs Exchange2010_SP1 or later"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("requests Exchange2010"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("pull notifications"), std::string::npos) << e.message;
  EXPECT_EQ(require(server_version::exchange2010_sp2, feature::follow_up_flag).code, errc::failed_precondition);
  EXPECT_TRUE(require(server_version::exchange2013, feature::follow_up_flag).ok());
  EXPECT_TRUE(require(server_version::exchange2007_sp1, "ExchangeImpersonation").ok());
  EXPECT_EQ(require(server_version::exchange2007_sp1, feature::time_zone_context).code, errc::failed_precondition);
  EXPECT_EQ(require(server_version::exchange2013, "NoSuchOperation").code, errc::internal);
  EXPECT_EQ(introduced_in(feature::return_new_item_ids), server_version::exchange2010_sp1);
}

TEST(EwsVersion, DescribeServerVersionInfo) {
  EXPECT_EQ(describe(server_version_info{}), "unknown");
  EXPECT_EQ(describe(server_version_info{15, 1, 2507, 6, "V2017_07_11"}), "15.1.2507.6 (V2017_07_11)");
  EXPECT_EQ(describe(server_version_info{8, 3, 83, 6, ""}), "8.3.83.6");
}

// ---- xs:dateTime ------------------------------------------------------------------

TEST(EwsDateTime, ParsesUtcOffsetsAndFractions) {
  EXPECT_EQ(parse_xs_datetime("2026-12-06T12:50:10Z"), utc(2026, 12, 6, 12, 50, 10));
  EXPECT_EQ(parse_xs_datetime("2026-12-06T12:50:10"), utc(2026, 12, 6, 12, 50, 10));
  EXPECT_EQ(parse_xs_datetime("2026-12-06T13:50:10+01:00"), utc(2026, 12, 6, 12, 50, 10));
  EXPECT_EQ(parse_xs_datetime("2026-12-06T07:20:10-05:30"), utc(2026, 12, 6, 12, 50, 10));
  EXPECT_EQ(parse_xs_datetime("2026-12-06T12:50:10.1234567Z"), utc(2026, 12, 6, 12, 50, 10) + nanoseconds{123456700});
  EXPECT_EQ(parse_xs_datetime("2024-02-29T00:00:00Z"), utc(2024, 2, 29));
}

TEST(EwsDateTime, RejectsMalformedAndOutOfRange) {
  for (std::string_view bad : {"", "2026-12-06", "2026-12-06 12:50:10Z", "2026-13-01T00:00:00Z",
                               "2025-02-29T00:00:00Z", "2026-12-06T24:00:00Z", "2026-12-06T12:50:10.Z",
                               "2026-12-06T12:50:10+1:00", "2026-12-06T12:50:10+15:00", "2026-12-06T12:50:10ZZ",
                               "4501-01-01T00:00:00Z", "1600-01-01T00:00:00Z", "2026-12-06T12:50:1xZ"}) {
    EXPECT_FALSE(parse_xs_datetime(bad)) << bad;
  }
}

TEST(EwsDateTime, FormatsWholeSecondsUtc) {
  EXPECT_EQ(format_xs_datetime(utc(2026, 1, 2, 3, 4, 5) + milliseconds{999}), "2026-01-02T03:04:05Z");
  EXPECT_EQ(format_xs_datetime(utc(1970, 1, 1) - seconds{1}), "1969-12-31T23:59:59Z");
}

// ---- builders -----------------------------------------------------------------------

// The body builder's output inside an envelope, parsed; the test fails on bad XML.
struct parsed_request {
  pugi::xml_document doc;
  pugi::xml_node body;  // the operation element (first child of soap:Body)
};

std::unique_ptr<parsed_request> parse_body(const std::string& body_xml,
                                           server_version v = server_version::exchange2013_sp1) {
  auto p = std::make_unique<parsed_request>();
  const std::string xml = envelope({v, "", ""}, body_xml);
  const auto r = p->doc.load_string(xml.c_str());
  EXPECT_TRUE(r) << r.description() << " in " << xml;
  p->body = p->doc.child("soap:Envelope").child("soap:Body").first_child();
  return p;
}

std::string attr(pugi::xml_node n, const char* name) { return n.attribute(name).value(); }

std::vector<std::string> field_uris(pugi::xml_node shape) {
  std::vector<std::string> out;
  for (pugi::xml_node f : shape.child("t:AdditionalProperties").children("t:FieldURI")) out.push_back(attr(f, "FieldURI"));
  return out;
}

std::vector<std::string> child_names(pugi::xml_node n) {
  std::vector<std::string> out;
  for (pugi::xml_node c : n.children()) out.push_back(c.name());
  return out;
}

const folder_ref inbox{"", "", "inbox", ""};

TEST(EwsRequest, EnvelopeIsExactAndCarriesVersionImpersonationTimeZone) {
  EXPECT_EQ(envelope({server_version::exchange2010_sp1, "", ""}, "<m:X/>"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope "
            "xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" "
            "xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\" "
            "xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\"><soap:Header>"
            "<t:RequestServerVersion Version=\"Exchange2010_SP1\"/></soap:Header><soap:Body><m:X/></soap:Body>"
            "</soap:Envelope>");
  const std::string full = envelope({server_version::exchange2013, "bot&co@example.com", "W. Europe Standard Time"}, "");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(full.c_str()));
  const pugi::xml_node header = doc.child("soap:Envelope").child("soap:Header");
  EXPECT_EQ(child_names(header), (std::vector<std::string>{"t:RequestServerVersion", "t:ExchangeImpersonation",
                                                           "t:TimeZoneContext"}));
  EXPECT_EQ(std::string(header.child("t:ExchangeImpersonation").child("t:ConnectingSID").child_value(
                "t:PrimarySmtpAddress")),
            "bot&co@example.com");
  EXPECT_EQ(attr(header.child("t:TimeZoneContext").child("t:TimeZoneDefinition"), "Id"), "W. Europe Standard Time");
  // Exchange2007_SP1 has no TimeZoneContext header: left out.
  const std::string old = envelope({server_version::exchange2007_sp1, "", "UTC"}, "");
  EXPECT_EQ(old.find("TimeZoneContext"), std::string::npos);
}

TEST(EwsRequest, FolderIdsByIdDistinguishedAndDelegateMailbox) {
  auto r = get_folder(server_version::exchange2013_sp1,
                      {inbox, {"AAMkAD=", "AQAAAB", "", ""}, {"", "", "msgfolderroot", "shared@example.com"}});
  ASSERT_TRUE(r) << r.err().message;
  auto p = parse_body(*r);
  EXPECT_STREQ(p->body.name(), "m:GetFolder");
  EXPECT_EQ(child_names(p->body), (std::vector<std::string>{"m:FolderShape", "m:FolderIds"}));
  EXPECT_STREQ(p->body.child("m:FolderShape").child_value("t:BaseShape"), "IdOnly");
  EXPECT_EQ(field_uris(p->body.child("m:FolderShape")),
            (std::vector<std::string>{"folder:ParentFolderId", "folder:FolderClass", "folder:DisplayName",
                                      "folder:TotalCount", "folder:ChildFolderCount", "folder:UnreadCount"}));
  const pugi::xml_node ids = p->body.child("m:FolderIds");
  EXPECT_EQ(child_names(ids), (std::vector<std::string>{"t:DistinguishedFolderId", "t:FolderId",
                                                        "t:DistinguishedFolderId"}));
  EXPECT_EQ(attr(ids.first_child(), "Id"), "inbox");
  EXPECT_EQ(attr(ids.child("t:FolderId"), "Id"), "AAMkAD=");
  EXPECT_EQ(attr(ids.child("t:FolderId"), "ChangeKey"), "AQAAAB");
  EXPECT_STREQ(ids.last_child().child("t:Mailbox").child_value("t:EmailAddress"), "shared@example.com");
}

TEST(EwsRequest, FolderIdErrorsNameTheField) {
  struct bad_case {
    std::vector<folder_ref> folders;
    server_version version;
    errc code;
    std::string fragment;
  };
  const bad_case cases[] = {
      {{}, server_version::exchange2013, errc::invalid_argument, "folders: no folder"},
      {{folder_ref{}}, server_version::exchange2013, errc::invalid_argument, "folders[0]: neither"},
      {{inbox, {"", "", "Inbox", ""}}, server_version::exchange2013, errc::invalid_argument,
       "folders[1].distinguished: unknown"},
      {{{"", "", "archiveroot", ""}}, server_version::exchange2010, errc::failed_precondition,
       "needs Exchange2010_SP1"},
      {{{"", "", "inbox", "not an address"}}, server_version::exchange2013, errc::invalid_argument,
       "folders[0].mailbox_smtp"},
      {std::vector<folder_ref>(max_ids_per_request + 1, inbox), server_version::exchange2013,
       errc::invalid_argument, "more than 1000"},
  };
  for (const bad_case& c : cases) {
    auto r = get_folder(c.version, c.folders);
    ASSERT_FALSE(r) << c.fragment;
    EXPECT_EQ(r.err().code, c.code) << r.err().message;
    EXPECT_NE(r.err().message.find(c.fragment), std::string::npos) << r.err().message;
  }
}

TEST(EwsRequest, FindFolderPagesDeepOrShallow) {
  auto r = find_folder(server_version::exchange2007_sp1, {"", "", "msgfolderroot", ""}, true, 200, 100);
  ASSERT_TRUE(r) << r.err().message;
  auto p = parse_body(*r, server_version::exchange2007_sp1);
  EXPECT_EQ(attr(p->body, "Traversal"), "Deep");
  EXPECT_EQ(child_names(p->body),
            (std::vector<std::string>{"m:FolderShape", "m:IndexedPageFolderView", "m:ParentFolderIds"}));
  const pugi::xml_node view = p->body.child("m:IndexedPageFolderView");
  EXPECT_EQ(attr(view, "MaxEntriesReturned"), "100");
  EXPECT_EQ(attr(view, "Offset"), "200");
  EXPECT_EQ(attr(view, "BasePoint"), "Beginning");
  EXPECT_EQ(attr(p->body.child("m:ParentFolderIds").first_child(), "Id"), "msgfolderroot");
  auto shallow = find_folder(server_version::exchange2013, inbox, false, 0, 1);
  ASSERT_TRUE(shallow);
  EXPECT_NE(shallow->find("Traversal=\"Shallow\""), std::string::npos);
  for (std::uint32_t bad : {0u, max_page_size + 1}) {
    auto e = find_folder(server_version::exchange2013, inbox, false, 0, bad);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.err().code, errc::invalid_argument);
  }
}

TEST(EwsRequest, FindItemsWithoutCriteriaHasNoRestriction) {
  auto r = find_items(server_version::exchange2010_sp2, inbox, {});
  ASSERT_TRUE(r) << r.err().message;
  auto p = parse_body(*r, server_version::exchange2010_sp2);
  EXPECT_EQ(attr(p->body, "Traversal"), "Shallow");
  EXPECT_EQ(child_names(p->body), (std::vector<std::string>{"m:ItemShape", "m:IndexedPageItemView", "m:SortOrder",
                                                            "m:ParentFolderIds"}));
  // No item:Flag before Exchange2013: older servers do not know the property.
  EXPECT_EQ(field_uris(p->body.child("m:ItemShape")),
            (std::vector<std::string>{"item:Subject", "message:From", "item:DateTimeReceived", "item:DateTimeSent",
                                      "item:Size", "message:IsRead", "item:HasAttachments",
                                      "message:InternetMessageId"}));
  const pugi::xml_node view = p->body.child("m:IndexedPageItemView");
  EXPECT_EQ(attr(view, "MaxEntriesReturned"), "100");
  EXPECT_EQ(attr(view, "Offset"), "0");
  EXPECT_EQ(attr(view, "BasePoint"), "Beginning");
  const pugi::xml_node order = p->body.child("m:SortOrder").child("t:FieldOrder");
  EXPECT_EQ(attr(order, "Order"), "Ascending");
  EXPECT_EQ(attr(order.child("t:FieldURI"), "FieldURI"), "item:DateTimeReceived");
}

TEST(EwsRequest, FindItemsRestrictionCombinesEveryCriterion) {
  item_query q;
  q.is_read = false;
  q.from_contains = "bob@";
  q.subject_contains = "Invoice <2026> & \"co\"";
  q.since = utc(2026, 1, 1);
  q.before = utc(2026, 2, 1, 12);
  q.newest_first = true;
  q.offset = 50;
  q.max = 25;
  auto r = find_items(server_version::exchange2013, inbox, q);
  ASSERT_TRUE(r) << r.err().message;
  auto p = parse_body(*r);
  EXPECT_EQ(field_uris(p->body.child("m:ItemShape")).back(), "item:Flag");
  EXPECT_EQ(child_names(p->body), (std::vector<std::string>{"m:ItemShape", "m:IndexedPageItemView", "m:Restriction",
                                                            "m:SortOrder", "m:ParentFolderIds"}));
  EXPECT_EQ(attr(p->body.child("m:IndexedPageItemView"), "Offset"), "50");
  EXPECT_EQ(attr(p->body.child("m:IndexedPageItemView"), "MaxEntriesReturned"), "25");
  const pugi::xml_node all = p->body.child("m:Restriction").child("t:And");
  ASSERT_TRUE(all);
  EXPECT_EQ(child_names(all), (std::vector<std::string>{"t:IsEqualTo", "t:Or", "t:Contains",
                                                        "t:IsGreaterThanOrEqualTo", "t:IsLessThan"}));
  const pugi::xml_node read = all.child("t:IsEqualTo");
  EXPECT_EQ(attr(read.child("t:FieldURI"), "FieldURI"), "message:IsRead");
  EXPECT_EQ(attr(read.child("t:FieldURIOrConstant").child("t:Constant"), "Value"), "false");
  const pugi::xml_node from = all.child("t:Or");
  const pugi::xml_node by_name = from.first_child();
  EXPECT_EQ(attr(by_name, "ContainmentMode"), "Substring");
  EXPECT_EQ(attr(by_name, "ContainmentComparison"), "IgnoreCase");
  EXPECT_EQ(attr(by_name.child("t:FieldURI"), "FieldURI"), "message:From");
  EXPECT_EQ(attr(by_name.child("t:Constant"), "Value"), "bob@");
  const pugi::xml_node by_address = from.last_child();
  EXPECT_EQ(attr(by_address.child("t:ExtendedFieldURI"), "PropertyTag"), "0x0065");
  EXPECT_EQ(attr(by_address.child("t:ExtendedFieldURI"), "PropertyType"), "String");
  const pugi::xml_node subject = all.child("t:Contains");
  EXPECT_EQ(attr(subject.child("t:FieldURI"), "FieldURI"), "item:Subject");
  EXPECT_EQ(attr(subject.child("t:Constant"), "Value"), "Invoice <2026> & \"co\"");
  EXPECT_EQ(attr(all.child("t:IsGreaterThanOrEqualTo").child("t:FieldURIOrConstant").child("t:Constant"), "Value"),
            "2026-01-01T00:00:00Z");
  EXPECT_EQ(attr(all.child("t:IsLessThan").child("t:FieldURIOrConstant").child("t:Constant"), "Value"),
            "2026-02-01T12:00:00Z");
  EXPECT_EQ(attr(p->body.child("m:SortOrder").child("t:FieldOrder"), "Order"), "Descending");
}

TEST(EwsRequest, FindItemsSingleCriterionHasNoAnd) {
  item_query q;
  q.is_read = true;
  auto r = find_items(server_version::exchange2013, inbox, q);
  ASSERT_TRUE(r);
  auto p = parse_body(*r);
  EXPECT_EQ(child_names(p->body.child("m:Restriction")), (std::vector<std::string>{"t:IsEqualTo"}));
  q = {};
  q.subject_contains = std::string(max_search_text_bytes + 1, 'x');
  auto too_long = find_items(server_version::exchange2013, inbox, q);
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.err().message.find("item_query.subject_contains"), std::string::npos);
  q = {};
  q.max = 0;
  EXPECT_NE(find_items(server_version::exchange2013, inbox, q).err().message.find("item_query.max"),
            std::string::npos);
}

TEST(EwsRequest, GetItemsAsksForSummaryRecipientsAndMime) {
  const std::vector<item_ref> items{{"AAMkAGI=", "CQAAABYA"}, {"AAMkAGJ=", ""}};
  auto r = get_items(server_version::exchange2013_sp1, items, true, true);
  ASSERT_TRUE(r) << r.err().message;
  auto p = parse_body(*r);
  EXPECT_EQ(field_uris(p->body.child("m:ItemShape")),
            (std::vector<std::string>{"item:Subject", "message:From", "item:DateTimeReceived", "item:DateTimeSent",
                                      "item:Size", "message:IsRead", "item:HasAttachments",
                                      "message:InternetMessageId", "message:ToRecipients", "message:CcRecipients",
                                      "item:Flag", "item:MimeContent"}));
  const pugi::xml_node ids = p->body.child("m:ItemIds");
  EXPECT_EQ(attr(ids.first_child(), "Id"), "AAMkAGI=");
  EXPECT_EQ(attr(ids.first_child(), "ChangeKey"), "CQAAABYA");
  EXPECT_FALSE(ids.last_child().attribute("ChangeKey"));  // empty change key: not sent
  auto mime_only = get_items(server_version::exchange2007_sp1, items, true, false);
  ASSERT_TRUE(mime_only);
  EXPECT_EQ(field_uris(parse_body(*mime_only)->body.child("m:ItemShape")),
            (std::vector<std::string>{"item:MimeContent"}));
  auto ids_only = get_items(server_version::exchange2013, items, false, false);
  ASSERT_TRUE(ids_only);
  EXPECT_FALSE(parse_body(*ids_only)->body.child("m:ItemShape").child("t:AdditionalProperties"));
  EXPECT_EQ(get_items(server_version::exchange2013, {}, true, true).err().code, errc::invalid_argument);
  auto empty_id = get_items(server_version::exchange2013, {{"a", ""}, {"", ""}}, true, true);
  ASSERT_FALSE(empty_id);
  EXPECT_NE(empty_id.err().message.find("items[1].id is empty"), std::string::npos);
}

TEST(EwsRequest, SetReadFlagWritesOneChangePerItem) {
  auto r = set_read_flag(server_version::exchange2013, {{"id1", "ck1"}, {"id2", "ck2"}}, true, true);
  ASSERT_TRUE(r) << r.err().message;
  auto p = parse_body(*r);
  EXPECT_STREQ(p->body.name(), "m:UpdateItem");
  EXPECT_EQ(attr(p->body, "ConflictResolution"), "NeverOverwrite") << "change keys given: a stale one must be refused";
  EXPECT_EQ(attr(p->body, "MessageDisposition"), "SaveOnly");
  auto latest = set_read_flag(server_version::exchange2013, {{"id1", ""}}, true, std::nullopt);
  ASSERT_TRUE(latest) << latest.err().message;
  EXPECT_EQ(attr(parse_body(*latest)->body, "ConflictResolution"), "AutoResolve") << "no change key: change what is current";
  const pugi::xml_node changes = p->body.child("m:ItemChanges");
  EXPECT_EQ(child_names(changes), (std::vector<std::string>{"t:ItemChange", "t:ItemChange"}));
  const pugi::xml_node second = changes.last_child();
  EXPECT_EQ(attr(second.child("t:ItemId"), "Id"), "id2");
  EXPECT_EQ(attr(second.child("t:ItemId"), "ChangeKey"), "ck2");
  const pugi::xml_node updates = second.child("t:Updates");
  EXPECT_EQ(child_names(updates), (std::vector<std::string>{"t:SetItemField", "t:SetItemField"}));
  EXPECT_EQ(attr(updates.first_child().child("t:FieldURI"), "FieldURI"), "message:IsRead");
  EXPECT_STREQ(updates.first_child().child("t:Message").child_value("t:IsRead"), "true");
  EXPECT_EQ(attr(updates.last_child().child("t:FieldURI"), "FieldURI"), "item:Flag");
  EXPECT_STREQ(updates.last_child().child("t:Message").child("t:Flag").child_value("t:FlagStatus"), "Flagged");

  auto unread = set_read_flag(server_version::exchange2007_sp1, {{"id1", ""}}, false, std::nullopt);
  ASSERT_TRUE(unread) << unread.err().message;
  EXPECT_EQ(unread->find("item:Flag"), std::string::npos);
  EXPECT_NE(unread->find("<t:IsRead>false</t:IsRead>"), std::string::npos);
  auto unflag = set_read_flag(server_version::exchange2013, {{"id1", ""}}, std::nullopt, false);
  ASSERT_TRUE(unflag);
  EXPECT_NE(unflag->find("<t:FlagStatus>NotFlagged</t:FlagStatus>"), std::string::npos);
  EXPECT_EQ(unflag->find("message:IsRead"), std::string::npos);
}

TEST(EwsRequest, SetReadFlagRefusesFlagBefore2013AndEmptyChanges) {
  auto old = set_read_flag(server_version::exchange2010_sp2, {{"id1", ""}}, true, true);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.err().code, errc::failed_precondition);
  EXPECT_NE(old.err().message.find("needs Exchange2013"), std::string::npos) << old.err().message;
  EXPECT_NE(old.err().message.find("Exchange2010_SP2"), std::string::npos) << old.err().message;
  auto nothing = set_read_flag(server_version::exchange2013, {{"id1", ""}}, std::nullopt, std::nullopt);
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.err().code, errc::invalid_argument);
  EXPECT_EQ(set_read_flag(server_version::exchange2013, {}, true, std::nullopt).err().code, errc::invalid_argument);
}

TEST(EwsRequest, MoveAndCopyAskForNewIdsFrom2010Sp1) {
  const folder_ref target{"AAMkFolder=", "", "", ""};
  auto r = move_items(server_version::exchange2010_sp1, {{"id1", "ck1"}}, target);
  ASSERT_TRUE(r) << r.err().message;
  auto p = parse_body(*r);
  EXPECT_STREQ(p->body.name(), "m:MoveItem");
  EXPECT_EQ(child_names(p->body), (std::vector<std::string>{"m:ToFolderId", "m:ItemIds", "m:ReturnNewItemIds"}));
  EXPECT_EQ(attr(p->body.child("m:ToFolderId").child("t:FolderId"), "Id"), "AAMkFolder=");
  EXPECT_STREQ(p->body.child_value("m:ReturnNewItemIds"), "true");
  auto old = copy_items(server_version::exchange2010, {{"id1", ""}}, {"", "", "deleteditems", ""});
  ASSERT_TRUE(old) << old.err().message;
  auto q = parse_body(*old, server_version::exchange2010);
  EXPECT_STREQ(q->body.name(), "m:CopyItem");
  EXPECT_EQ(child_names(q->body), (std::vector<std::string>{"m:ToFolderId", "m:ItemIds"}));
  auto no_target = move_items(server_version::exchange2013, {{"id1", ""}}, {});
  ASSERT_FALSE(no_target);
  EXPECT_NE(no_target.err().message.find("target"), std::string::npos);
}

TEST(EwsRequest, DeleteModes) {
  const std::pair<delete_mode, std::string> cases[] = {{delete_mode::move_to_deleted_items, "MoveToDeletedItems"},
                                                       {delete_mode::soft, "SoftDelete"},
                                                       {delete_mode::hard, "HardDelete"}};
  for (const auto& [mode, name] : cases) {
    auto r = delete_items(server_version::exchange2013, {{"id1", "ck1"}}, mode);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "<m:DeleteItem DeleteType=\"" + name +
                      "\"><m:ItemIds><t:ItemId Id=\"id1\" ChangeKey=\"ck1\"/></m:ItemIds></m:DeleteItem>");
  }
}

TEST(EwsRequest, SendMimeCarriesTheBytesInBase64) {
  const std::string mime = "From: a@example.com\r\nSubject: \x01 raw bytes \xFF\r\n\r\nbody\r\n";
  auto r = send_mime(server_version::exchange2013, mime, true, {});
  ASSERT_TRUE(r) << r.err().message;
  auto p = parse_body(*r);
  EXPECT_STREQ(p->body.name(), "m:CreateItem");
  EXPECT_EQ(attr(p->body, "MessageDisposition"), "SendAndSaveCopy");
  EXPECT_EQ(child_names(p->body), (std::vector<std::string>{"m:SavedItemFolderId", "m:Items"}));
  EXPECT_EQ(attr(p->body.child("m:SavedItemFolderId").first_child(), "Id"), "sentitems");
  const pugi::xml_node content = p->body.child("m:Items").child("t:Message").child("t:MimeContent");
  EXPECT_EQ(attr(content, "CharacterSet"), "UTF-8");
  EXPECT_EQ(base64_decode(content.child_value()), mime);

  auto only = send_mime(server_version::exchange2013, mime, false, {});
  ASSERT_TRUE(only);
  auto q = parse_body(*only);
  EXPECT_EQ(attr(q->body, "MessageDisposition"), "SendOnly");
  EXPECT_FALSE(q->body.child("m:SavedItemFolderId"));
  auto custom = send_mime(server_version::exchange2013, mime, true, {"SentFolderId=", "", "", ""});
  ASSERT_TRUE(custom);
  EXPECT_NE(custom->find("<m:SavedItemFolderId><t:FolderId Id=\"SentFolderId=\"/></m:SavedItemFolderId>"),
            std::string::npos);
  EXPECT_EQ(send_mime(server_version::exchange2013, "", true, {}).err().code, errc::invalid_argument);
}

TEST(EwsRequest, ReplyReplyAllForwardKeepTheConversation) {
  const item_ref original{"AAMkOrig=", "CQAAAB"};
  const std::pair<reply_kind, std::string> kinds[] = {
      {reply_kind::reply, "t:ReplyToItem"}, {reply_kind::reply_all, "t:ReplyAllToItem"},
      {reply_kind::forward, "t:ForwardItem"}};
  for (const auto& [kind, element] : kinds) {
    const std::vector<std::string> to =
        kind == reply_kind::forward ? std::vector<std::string>{"x@example.com", "y@example.org"}
                                    : std::vector<std::string>{};
    auto r = reply(server_version::exchange2010, original, kind, "Thanks <b>\r\nline 2", to, true);
    ASSERT_TRUE(r) << r.err().message;
    auto p = parse_body(*r, server_version::exchange2010);
    EXPECT_EQ(attr(p->body, "MessageDisposition"), "SendAndSaveCopy");
    const pugi::xml_node response = p->body.child("m:Items").first_child();
    EXPECT_EQ(std::string(response.name()), element);
    std::vector<std::string> expected_children{"t:ReferenceItemId", "t:NewBodyContent"};
    if (!to.empty()) expected_children.insert(expected_children.begin(), "t:ToRecipients");
    EXPECT_EQ(child_names(response), expected_children);
    EXPECT_EQ(attr(response.child("t:ReferenceItemId"), "Id"), "AAMkOrig=");
    EXPECT_EQ(attr(response.child("t:ReferenceItemId"), "ChangeKey"), "CQAAAB");
    EXPECT_EQ(attr(response.child("t:NewBodyContent"), "BodyType"), "Text");
    EXPECT_STREQ(response.child_value("t:NewBodyContent"), "Thanks <b>\r\nline 2");
    if (!to.empty()) {
      EXPECT_STREQ(response.child("t:ToRecipients").last_child().child_value("t:EmailAddress"), "y@example.org");
    }
  }
  auto no_one = reply(server_version::exchange2013, original, reply_kind::forward, "fwd", {}, true);
  ASSERT_FALSE(no_one);
  EXPECT_NE(no_one.err().message.find("forward needs at least one recipient"), std::string::npos);
  for (const std::string bad : {"", "no-at-sign", "a b@example.com", "Bob <b@example.com>", "x@", "@x"}) {
    auto e = reply(server_version::exchange2013, original, reply_kind::forward, "", {"ok@example.com", bad}, false);
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.err().message.find("to[1]"), std::string::npos) << e.err().message;
  }
  EXPECT_FALSE(reply(server_version::exchange2013, {}, reply_kind::reply, "", {}, false));
}

TEST(EwsRequest, PullSubscriptionAndGetEvents) {
  auto r = subscribe_pull(server_version::exchange2007_sp1, {inbox, {"FolderX=", "", "", ""}}, "AQAAAEx", 30);
  ASSERT_TRUE(r) << r.err().message;
  auto p = parse_body(*r, server_version::exchange2007_sp1);
  const pugi::xml_node request = p->body.child("m:PullSubscriptionRequest");
  ASSERT_TRUE(request);
  EXPECT_EQ(child_names(request), (std::vector<std::string>{"t:FolderIds", "t:EventTypes", "t:Watermark", "t:Timeout"}));
  std::vector<std::string> types;
  for (pugi::xml_node t : request.child("t:EventTypes").children("t:EventType")) types.push_back(t.child_value());
  EXPECT_EQ(types, (std::vector<std::string>{"NewMailEvent", "CreatedEvent", "MovedEvent", "DeletedEvent"}));
  EXPECT_STREQ(request.child_value("t:Watermark"), "AQAAAEx");
  EXPECT_STREQ(request.child_value("t:Timeout"), "30");
  auto fresh = subscribe_pull(server_version::exchange2013, {inbox}, "", 1440);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->find("Watermark"), std::string::npos);
  EXPECT_EQ(subscribe_pull(server_version::exchange2013, {inbox}, "", 0).err().code, errc::invalid_argument);
  EXPECT_EQ(subscribe_pull(server_version::exchange2013, {inbox}, "", 1441).err().code, errc::invalid_argument);

  auto events = get_events(server_version::exchange2007_sp1, "sub&1", "wm1");
  ASSERT_TRUE(events);
  EXPECT_EQ(*events, "<m:GetEvents><m:SubscriptionId>sub&amp;1</m:SubscriptionId><m:Watermark>wm1</m:Watermark>"
                     "</m:GetEvents>");
  EXPECT_EQ(get_events(server_version::exchange2013, "", "wm").err().code, errc::invalid_argument);
  EXPECT_EQ(*unsubscribe(server_version::exchange2013, "sub1"),
            "<m:Unsubscribe><m:SubscriptionId>sub1</m:SubscriptionId></m:Unsubscribe>");
}

TEST(EwsRequest, StreamingNeeds2010Sp1) {
  auto old = subscribe_streaming(server_version::exchange2010, {inbox});
  ASSERT_FALSE(old);
  EXPECT_EQ(old.err().code, errc::failed_precondition);
  EXPECT_NE(old.err().message.find("Exchange2010_SP1"), std::string::npos);
  EXPECT_EQ(get_streaming_events(server_version::exchange2007_sp1, {"s1"}, 10).err().code,
            errc::failed_precondition);

  auto r = subscribe_streaming(server_version::exchange2010_sp1, {inbox});
  ASSERT_TRUE(r) << r.err().message;
  auto p = parse_body(*r, server_version::exchange2010_sp1);
  EXPECT_EQ(child_names(p->body.child("m:StreamingSubscriptionRequest")),
            (std::vector<std::string>{"t:FolderIds", "t:EventTypes"}));
  auto get = get_streaming_events(server_version::exchange2013, {"s1", "s2"}, 30);
  ASSERT_TRUE(get) << get.err().message;
  EXPECT_EQ(*get, "<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>s1</t:SubscriptionId>"
                  "<t:SubscriptionId>s2</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>30"
                  "</m:ConnectionTimeout></m:GetStreamingEvents>");
  EXPECT_EQ(get_streaming_events(server_version::exchange2013, {}, 30).err().code, errc::invalid_argument);
  EXPECT_EQ(get_streaming_events(server_version::exchange2013, {"s1"}, 31).err().code, errc::invalid_argument);
}

TEST(EwsRequest, AutodiscoverRequestIsExact) {
  auto r = autodiscover_request("user@contoso.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover "
            "xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request>"
            "<EMailAddress>user@contoso.com</EMailAddress><AcceptableResponseSchema>"
            "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
            "</AcceptableResponseSchema></Request></Autodiscover>");
  EXPECT_EQ(autodiscover_request("not an address").err().code, errc::invalid_argument);
}

TEST(EwsRequest, EveryBuilderIsDeterministic) {
  item_query q;
  q.from_contains = "x";
  q.since = utc(2026, 3, 4);
  EXPECT_EQ(*find_items(server_version::exchange2013, inbox, q), *find_items(server_version::exchange2013, inbox, q));
  EXPECT_EQ(*reply(server_version::exchange2013, {"a", "b"}, reply_kind::reply, "t", {}, true),
            *reply(server_version::exchange2013, {"a", "b"}, reply_kind::reply, "t", {}, true));
}

}  // namespace
}  // namespace mailbroker::ews
