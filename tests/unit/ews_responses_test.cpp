// The pure EWS codec, response side: parse_envelope() on faults, HTML pages, truncated
// XML and HTTP errors; error_of(); the folder and item readers on responses shaped like
// the examples of the EWS reference (learn.microsoft.com/exchange/client-developer/
// web-service-reference/<page>, cited per test) and what exchangelib expects
// (services/*.py read their elements by the same names); the forbidden characters of
// issue 11 in a FindItem subject. Notifications and Autodiscover:
// ews_notifications_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/base64.hpp"
#include "protocol/ews/responses.hpp"
#include "unit/ews_test_support.hpp"

namespace mailbroker::ews {
namespace {

using namespace std::chrono;
using namespace std::string_literals;
using namespace test;

// ---- envelope -----------------------------------------------------------------------

TEST(EwsEnvelope, ReadsServerVersionOperationAndMessages) {
  soap_reply reply = parse_ok(envelope_of(operation(
      "DeleteItemResponse",
      R"(<m:DeleteItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:DeleteItemResponseMessage>
         <m:DeleteItemResponseMessage ResponseClass="Error"><m:MessageText>The specified object was not found in the store., The process failed to get the correct properties.</m:MessageText><m:ResponseCode>ErrorItemNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:DeleteItemResponseMessage>)")));
  EXPECT_EQ(reply.server.major, 15);
  EXPECT_EQ(reply.server.minor, 1);
  EXPECT_EQ(reply.server.major_build, 2507);
  EXPECT_EQ(reply.server.minor_build, 6);
  EXPECT_EQ(reply.server.version, "V2017_07_11");
  EXPECT_EQ(reply.operation, "DeleteItemResponse");
  ASSERT_EQ(reply.messages.size(), 2u);
  EXPECT_EQ(reply.messages[0].response_class, "Success");
  EXPECT_TRUE(error_of(reply.messages[0]).ok());
  const error e = error_of(reply.messages[1]);
  EXPECT_EQ(e.code, errc::not_found);
  EXPECT_EQ(e.message,
            "EWS ErrorItemNotFound: The specified object was not found in the store., The process failed to get "
            "the correct properties.");
  auto statuses = parse_statuses(reply);
  ASSERT_TRUE(statuses);
  ASSERT_EQ(statuses->size(), 2u);
  EXPECT_TRUE((*statuses)[0].ok());
  EXPECT_EQ((*statuses)[1].code, errc::not_found);
}

TEST(EwsEnvelope, AcceptsAUtf8ByteOrderMark) {
  soap_reply reply = parse_ok("\xEF\xBB\xBF" + envelope_of(operation("DeleteItemResponse", "")));
  EXPECT_EQ(reply.operation, "DeleteItemResponse");
  EXPECT_EQ(reply.server.major, 15);
}

TEST(EwsEnvelope, ReplyStaysValidAfterMove) {
  auto r = parse_envelope(envelope_of(operation("UpdateItemResponse",
                                                R"(<m:UpdateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message><t:ItemId Id="id1" ChangeKey="ck2"/></t:Message></m:Items></m:UpdateItemResponseMessage>)")),
                          200);
  ASSERT_TRUE(r);
  soap_reply moved = std::move(r.value());
  soap_reply again = std::move(moved);
  auto ids = parse_item_ids(again);
  ASSERT_TRUE(ids);
  ASSERT_EQ(ids->size(), 1u);
  EXPECT_EQ((*ids)[0].ref.id, "id1");
  EXPECT_EQ((*ids)[0].ref.change_key, "ck2");
}

// Fault bodies as in "EWS throttling in Exchange" (ErrorServerBusy) and the
// ErrorSchemaValidation / ErrorInvalidServerVersion faults Exchange sends with HTTP 500.
std::string fault(const std::string& code, const std::string& text, const std::string& message_xml = "") {
  return R"(<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo MajorVersion="14" MinorVersion="3" MajorBuildNumber="123" MinorBuildNumber="3" Version="Exchange2010_SP2" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:)" +
         code + R"(</faultcode><faultstring xml:lang="en-US">)" + text +
         R"(</faultstring><detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">)" +
         code + R"(</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">)" +
         text + "</e:Message>" + message_xml + "</detail></s:Fault></s:Body></s:Envelope>";
}

TEST(EwsEnvelope, ServerBusyFaultKeepsBackOff) {
  std::uint32_t back_off = 7;
  auto r = parse_envelope(
      fault("ErrorServerBusy", "The server cannot service this request right now. Try again later.",
            R"(<t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">297749</t:Value></t:MessageXml>)"),
      500, server_version::exchange2010_sp2, &back_off);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_EQ(back_off, 297749u);
  EXPECT_EQ(r.err().message,
            "EWS ErrorServerBusy: The server cannot service this request right now. Try again later. (server asks "
            "to back off 297749 ms)");
}

TEST(EwsEnvelope, SchemaAndVersionFaults) {
  std::uint32_t back_off = 7;
  auto schema = parse_envelope(fault("ErrorSchemaValidation", "The request failed schema validation: The element "
                                                              "'FindItem' has invalid child element 'Foo'."),
                               500, std::nullopt, &back_off);
  ASSERT_FALSE(schema);
  EXPECT_EQ(schema.err().code, errc::internal);
  EXPECT_EQ(back_off, 0u);
  EXPECT_EQ(schema.err().message.rfind("EWS ErrorSchemaValidation: The request failed schema validation", 0), 0u)
      << schema.err().message;

  auto version = parse_envelope(fault("ErrorInvalidServerVersion", "The specified server version is invalid."), 500,
                                server_version::exchange2013_sp1);
  ASSERT_FALSE(version);
  EXPECT_EQ(version.err().code, errc::failed_precondition);
  EXPECT_NE(version.err().message.find("the session requests Exchange2013_SP1"), std::string::npos)
      << version.err().message;
  EXPECT_NE(version.err().message.find("the server runs 14.3.123.3 (Exchange2010_SP2)"), std::string::npos)
      << version.err().message;
}

TEST(EwsEnvelope, FaultWithoutDetailUsesFaultcode) {
  const std::string body =
      R"(<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorImpersonateUserDenied</faultcode><faultstring>The account does not have permission to impersonate the requested user.</faultstring></s:Fault></s:Body></s:Envelope>)";
  auto r = parse_envelope(body, 500);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code, errc::permission_denied);
  EXPECT_NE(r.err().message.find("EWS ErrorImpersonateUserDenied"), std::string::npos);
  auto plain = parse_envelope(
      R"(<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>bad</faultstring></s:Fault></s:Body></s:Envelope>)",
      500);
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.err().code, errc::unavailable);
  EXPECT_NE(plain.err().message.find("without a ResponseCode: bad"), std::string::npos);
}

TEST(EwsEnvelope, NonSoapBodiesAreClearErrors) {
  struct bad_case {
    std::string body;
    int status;
    errc code;
    std::vector<std::string> fragments;
  };
  const std::string html = "<html><head><title>Service Unavailable</title></head><body><h1>503</h1></body></html>";
  const bad_case cases[] = {
      {"", 200, errc::unavailable, {"HTTP 200", "empty body"}},
      {html, 503, errc::unavailable, {"HTTP 503", "not a SOAP envelope (root element <html>)", "body starts: \"<html>"}},
      {"<html><body>Bad gateway<br></body></html>", 502, errc::unavailable, {"HTTP 502", "not well-formed XML"}},
      {envelope_of(operation("FindItemResponse", "")).substr(0, 300), 200, errc::unavailable,
       {"HTTP 200", "not well-formed XML", "truncated"}},
      {"<h1>Not Found</h1>", 404, errc::failed_precondition, {"HTTP 404", "check the EWS URL"}},
      {"<html>Moved</html>", 302, errc::failed_precondition, {"HTTP 302", "redirects"}},
      {"<html>Forbidden</html>", 403, errc::permission_denied, {"HTTP 403"}},
      {"anything", 401, errc::unauthenticated, {"HTTP 401"}},
      {"<x:Envelope xmlns:x=\"urn:not-soap\"><x:Body/></x:Envelope>", 200, errc::unavailable, {"not a SOAP envelope"}},
      {"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"/>", 200, errc::unavailable, {"without a Body"}},
      {envelope_of("<m:FindItemResponse xmlns:m=\"urn:m\"/>"), 200, errc::unavailable, {"without ResponseMessages"}},
      {envelope_of(operation("FindItemResponse", "")), 500, errc::unavailable, {"HTTP 500", "not a fault"}},
  };
  for (const bad_case& c : cases) {
    auto r = parse_envelope(c.body, c.status);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.err().code, c.code) << r.err().message;
    for (const std::string& f : c.fragments) EXPECT_NE(r.err().message.find(f), std::string::npos) << r.err().message;
  }
}

TEST(EwsEnvelope, SnippetNeverShowsAuthorizationOrBinary) {
  auto secret = parse_envelope("<html>echo: Authorization: Basic dXNlcjpwYXNz</html", 400);
  ASSERT_FALSE(secret);
  EXPECT_EQ(secret.err().message.find("dXNlcjpwYXNz"), std::string::npos) << secret.err().message;
  EXPECT_EQ(secret.err().message.find("body starts"), std::string::npos);
  auto binary = parse_envelope("\x1f\x8b\x08\x00 gzip bytes", 200);
  ASSERT_FALSE(binary);
  EXPECT_EQ(binary.err().message.find("body starts"), std::string::npos) << binary.err().message;
  auto server_text = parse_envelope(fault("ErrorAccessDenied", "Authorization header Bearer eyJ0eXAi was refused"), 500);
  ASSERT_FALSE(server_text);
  EXPECT_EQ(server_text.err().code, errc::permission_denied);
  EXPECT_EQ(server_text.err().message, "EWS ErrorAccessDenied");
}

TEST(EwsEnvelope, OversizedBodyIsRefusedBeforeParsing) {
  auto r = parse_envelope(std::string(max_envelope_bytes + 1, ' '), 200);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code, errc::resource_exhausted);
}

TEST(EwsEnvelope, BodiesOfTinyElementsAreRefusedBeforeParsing) {
  // 4 bytes of "<a/>" would cost pugixml a 64-byte node each.
  std::string flood = envelope_of(operation("DeleteItemResponse", ""));
  flood.insert(flood.find("</s:Body>"), std::string(max_markup_tokens * 4, 'x'));
  for (std::size_t i = flood.find("xxxx"); i < flood.size() && flood[i] == 'x'; i += 4) flood.replace(i, 4, "<a/>");
  auto r = parse_envelope(flood, 200);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code, errc::resource_exhausted);
  EXPECT_NE(r.err().message.find("elements and attributes"), std::string::npos) << r.err().message;
  auto ad = parse_autodiscover(flood);
  ASSERT_FALSE(ad);
  EXPECT_EQ(ad.err().code, errc::resource_exhausted);
}

TEST(EwsEnvelope, TooManyResponseMessages) {
  std::string messages;
  for (std::size_t i = 0; i <= max_response_messages; ++i) {
    messages += "<m:DeleteItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode>"
                "</m:DeleteItemResponseMessage>";
  }
  auto r = parse_envelope(envelope_of(operation("DeleteItemResponse", messages)), 200);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code, errc::resource_exhausted);
}

TEST(EwsEnvelope, DoctypeEntitiesAreNeverExpanded) {
  // XXE and "billion laughs": pugixml skips the DOCTYPE and leaves &x; as text.
  const std::string body =
      R"(<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd"><!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>)" +
      envelope_of(operation("FindItemResponse",
                            R"(<m:FindItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:RootFolder TotalItemsInView="1" IncludesLastItemInRange="true"><t:Items><t:Message><t:ItemId Id="i" ChangeKey="c"/><t:Subject>&x;&b;</t:Subject></t:Message></t:Items></m:RootFolder></m:FindItemResponseMessage>)"))
          .substr(std::string(R"(<?xml version="1.0" encoding="utf-8"?>)").size());
  auto reply = parse_envelope(body, 200);
  ASSERT_TRUE(reply) << reply.err().message;
  auto page = parse_find_items(*reply);
  ASSERT_TRUE(page) << page.err().message;
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].subject, "&x;&b;");
}

// ---- error_of ---------------------------------------------------------------------

TEST(EwsErrorOf, MapsResponseCodes) {
  const std::pair<std::string, errc> cases[] = {
      {"NoError", errc::ok},
      {"ErrorItemNotFound", errc::not_found},
      {"ErrorFolderNotFound", errc::not_found},
      {"ErrorNonExistentMailbox", errc::not_found},
      {"ErrorSubscriptionNotFound", errc::not_found},
      {"ErrorAccessDenied", errc::permission_denied},
      {"ErrorImpersonateUserDenied", errc::permission_denied},
      {"ErrorImpersonationDenied", errc::permission_denied},
      {"ErrorServerBusy", errc::unavailable},
      {"ErrorMailboxStoreUnavailable", errc::unavailable},
      {"ErrorSomethingTransientNew", errc::unavailable},
      {"ErrorInvalidServerVersion", errc::failed_precondition},
      {"ErrorIncorrectSchemaVersion", errc::failed_precondition},
      {"ErrorIrresolvableConflict", errc::failed_precondition},
      {"ErrorStaleObject", errc::failed_precondition},
      {"ErrorInvalidWatermark", errc::failed_precondition},
      {"ErrorInvalidIdMalformed", errc::invalid_argument},
      {"ErrorInvalidIdEmpty", errc::invalid_argument},
      {"ErrorInvalidIdNotAnItemAttachmentId", errc::invalid_argument},
      {"ErrorQuotaExceeded", errc::resource_exhausted},
      {"ErrorSchemaValidation", errc::internal},
      {"ErrorCorruptData", errc::internal},
  };
  for (const auto& [code, want] : cases) {
    response_message m;
    m.response_class = code == "NoError" ? "Success" : "Error";
    m.response_code = code;
    m.message_text = "text for " + code;
    const error e = error_of(m, server_version::exchange2010);
    EXPECT_EQ(e.code, want) << code;
    if (want != errc::ok) {
      EXPECT_EQ(e.message.rfind("EWS " + code + ": text for " + code, 0), 0u) << e.message;
    }
  }
  response_message version;
  version.response_class = "Error";
  version.response_code = "ErrorIncorrectSchemaVersion";
  EXPECT_NE(error_of(version, server_version::exchange2010).message.find("requests Exchange2010"), std::string::npos);
  response_message warning;
  warning.response_class = "Warning";
  warning.response_code = "ErrorBatchProcessingStopped";
  EXPECT_EQ(error_of(warning).code, errc::failed_precondition);
  response_message busy;
  busy.response_class = "Error";
  busy.response_code = "ErrorServerBusy";
  busy.back_off_ms = 5000;
  EXPECT_NE(error_of(busy).message.find("back off 5000 ms"), std::string::npos);
}

TEST(EwsErrorOf, ServerBusyInAResponseMessageKeepsBackOff) {
  soap_reply reply = parse_ok(envelope_of(operation(
      "GetItemResponse",
      R"(<m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>The server cannot service this request right now. Try again later.</m:MessageText><m:ResponseCode>ErrorServerBusy</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:MessageXml><t:Value Name="BackOffMilliseconds">1500</t:Value></m:MessageXml><m:Items/></m:GetItemResponseMessage>)")));
  ASSERT_EQ(reply.messages.size(), 1u);
  EXPECT_EQ(reply.messages[0].back_off_ms, 1500u);
  auto items = parse_items(reply);
  ASSERT_TRUE(items);
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].status.code, errc::unavailable);
}

// ---- folders ------------------------------------------------------------------------

// After the examples of getfolder-operation and findfolder-operation.
TEST(EwsFolders, GetFolderWithPerFolderErrors) {
  soap_reply reply = parse_ok(envelope_of(operation("GetFolderResponse", R"(
    <m:GetFolderResponseMessage ResponseClass="Success">
      <m:ResponseCode>NoError</m:ResponseCode>
      <m:Folders>
        <t:Folder>
          <t:FolderId Id="AAMkAGInbox=" ChangeKey="AQAAABYAAA"/>
          <t:ParentFolderId Id="AAMkAGRoot=" ChangeKey="AQAAAA=="/>
          <t:FolderClass>IPF.Note</t:FolderClass>
          <t:DisplayName>Posteingang</t:DisplayName>
          <t:TotalCount>42</t:TotalCount>
          <t:ChildFolderCount>3</t:ChildFolderCount>
          <t:UnreadCount>7</t:UnreadCount>
        </t:Folder>
      </m:Folders>
    </m:GetFolderResponseMessage>
    <m:GetFolderResponseMessage ResponseClass="Error">
      <m:MessageText>The specified folder could not be found in the store.</m:MessageText>
      <m:ResponseCode>ErrorFolderNotFound</m:ResponseCode>
      <m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>
    </m:GetFolderResponseMessage>)")));
  auto page = parse_folders(reply);
  ASSERT_TRUE(page) << page.err().message;
  ASSERT_EQ(page->folders.size(), 2u);
  const ews_folder& f = page->folders[0];
  EXPECT_TRUE(f.status.ok());
  EXPECT_EQ(f.kind, "Folder");
  EXPECT_EQ(f.ref.id, "AAMkAGInbox=");
  EXPECT_EQ(f.ref.change_key, "AQAAABYAAA");
  EXPECT_EQ(f.parent_id, "AAMkAGRoot=");
  EXPECT_EQ(f.folder_class, "IPF.Note");
  EXPECT_EQ(f.display_name, "Posteingang");
  EXPECT_EQ(f.total_count, 42u);
  EXPECT_EQ(f.child_folder_count, 3u);
  EXPECT_EQ(f.unread_count, 7u);
  EXPECT_EQ(page->folders[1].status.code, errc::not_found);
  EXPECT_TRUE(page->folders[1].ref.id.empty());
}

TEST(EwsFolders, FindFolderPageWithEveryFolderKind) {
  soap_reply reply = parse_ok(envelope_of(operation("FindFolderResponse", R"(
    <m:FindFolderResponseMessage ResponseClass="Success">
      <m:ResponseCode>NoError</m:ResponseCode>
      <m:RootFolder IndexedPagingOffset="4" TotalItemsInView="9" IncludesLastItemInRange="false">
        <t:Folders>
          <t:Folder><t:FolderId Id="f1" ChangeKey="c1"/><t:DisplayName>Inbox</t:DisplayName><t:TotalCount>2</t:TotalCount><t:ChildFolderCount>1</t:ChildFolderCount><t:UnreadCount>1</t:UnreadCount></t:Folder>
          <t:CalendarFolder><t:FolderId Id="f2" ChangeKey="c2"/><t:DisplayName>Calendar</t:DisplayName></t:CalendarFolder>
          <t:ContactsFolder><t:FolderId Id="f3" ChangeKey="c3"/><t:DisplayName>Contacts</t:DisplayName></t:ContactsFolder>
          <t:SearchFolder><t:FolderId Id="f4" ChangeKey="c4"/><t:DisplayName>Unread &amp; flagged</t:DisplayName></t:SearchFolder>
        </t:Folders>
      </m:RootFolder>
    </m:FindFolderResponseMessage>)")));
  auto page = parse_folders(reply);
  ASSERT_TRUE(page) << page.err().message;
  EXPECT_EQ(page->total_items_in_view, 9u);
  EXPECT_EQ(page->next_offset, 4u);
  EXPECT_FALSE(page->includes_last_item);
  ASSERT_EQ(page->folders.size(), 4u);
  EXPECT_EQ(page->folders[1].kind, "CalendarFolder");
  EXPECT_EQ(page->folders[3].display_name, "Unread & flagged");
  EXPECT_EQ(page->folders[0].unread_count, 1u);
}

TEST(EwsFolders, FailedFindFolderIsAnErrorAndOtherOperationsAreRefused) {
  soap_reply reply = parse_ok(envelope_of(operation("FindFolderResponse", R"(<m:FindFolderResponseMessage ResponseClass="Error"><m:MessageText>The specified object was not found in the store.</m:MessageText><m:ResponseCode>ErrorNonExistentMailbox</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:FindFolderResponseMessage>)")));
  auto page = parse_folders(reply);
  ASSERT_FALSE(page);
  EXPECT_EQ(page.err().code, errc::not_found);
  soap_reply other = parse_ok(envelope_of(operation("DeleteItemResponse", "")));
  EXPECT_EQ(parse_folders(other).err().code, errc::internal);
  EXPECT_EQ(parse_find_items(other).err().code, errc::internal);
  EXPECT_EQ(parse_items(other).err().code, errc::internal);
  EXPECT_EQ(parse_subscribe(other).err().code, errc::internal);
  EXPECT_EQ(parse_events(other).err().code, errc::internal);
  EXPECT_EQ(parse_streaming_chunk(other).err().code, errc::internal);
}

// ---- FindItem -----------------------------------------------------------------------

std::string find_item_response(const std::string& items, const std::string& root_attributes =
                                                              R"(IndexedPagingOffset="2" TotalItemsInView="5" IncludesLastItemInRange="false")") {
  return envelope_of(operation("FindItemResponse", R"(<m:FindItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:RootFolder )" +
                                                       root_attributes + "><t:Items>" + items +
                                                       "</t:Items></m:RootFolder></m:FindItemResponseMessage>"));
}

// After the finditem-operation example, with the summary fields find_items() asks for.
const std::string message_1 = R"(<t:Message>
  <t:ItemId Id="AAMkAGMsg1=" ChangeKey="CQAAABYAAAA1"/>
  <t:Subject>Quarterly report</t:Subject>
  <t:DateTimeReceived>2026-11-30T08:15:00Z</t:DateTimeReceived>
  <t:Size>24580</t:Size>
  <t:DateTimeSent>2026-11-30T09:14:58+01:00</t:DateTimeSent>
  <t:HasAttachments>true</t:HasAttachments>
  <t:Flag><t:FlagStatus>Flagged</t:FlagStatus></t:Flag>
  <t:InternetMessageId>&lt;abc.123@mail.example.com&gt;</t:InternetMessageId>
  <t:From><t:Mailbox><t:Name>Alice Example</t:Name><t:EmailAddress>alice@example.com</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>OneOff</t:MailboxType></t:Mailbox></t:From>
  <t:IsRead>true</t:IsRead>
</t:Message>)";

TEST(EwsFindItems, ReadsSummariesAndPaging) {
  const std::string message_2 = R"(<t:MeetingRequest><t:ItemId Id="AAMkAGMsg2=" ChangeKey="CQ2"/><t:Subject>Sync</t:Subject><t:DateTimeReceived>2026-12-01T10:00:00Z</t:DateTimeReceived><t:Size>100</t:Size><t:HasAttachments>false</t:HasAttachments><t:From><t:Mailbox><t:Name>Bob</t:Name><t:EmailAddress>/O=CONTOSO/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=BOB</t:EmailAddress><t:RoutingType>EX</t:RoutingType></t:Mailbox></t:From><t:IsRead>false</t:IsRead></t:MeetingRequest>)";
  soap_reply reply = parse_ok(find_item_response(message_1 + message_2));
  auto page = parse_find_items(reply);
  ASSERT_TRUE(page) << page.err().message;
  EXPECT_EQ(page->total_items_in_view, 5u);
  EXPECT_EQ(page->next_offset, 2u);
  EXPECT_FALSE(page->includes_last_item);
  ASSERT_EQ(page->items.size(), 2u);
  const mailbox::message_summary& s = page->items[0];
  EXPECT_EQ(s.uid, 0u);
  EXPECT_EQ(s.item_id, "AAMkAGMsg1=");
  EXPECT_EQ(s.change_key, "CQAAABYAAAA1");
  EXPECT_EQ(s.subject, "Quarterly report");
  EXPECT_EQ(s.message_id, "<abc.123@mail.example.com>");
  ASSERT_EQ(s.from.size(), 1u);
  EXPECT_EQ(s.from[0].name, "Alice Example");
  EXPECT_EQ(s.from[0].address, "alice@example.com");
  EXPECT_TRUE(s.to.empty());  // FindItem cannot return recipients
  EXPECT_EQ(s.internal_date, utc(2026, 11, 30, 8, 15));
  EXPECT_EQ(s.date, utc(2026, 11, 30, 8, 14, 58));
  EXPECT_EQ(s.size, 24580u);
  EXPECT_TRUE(s.seen);
  EXPECT_TRUE(s.has_attachments);
  EXPECT_EQ(s.flags, (std::vector<std::string>{"\\Seen", "\\Flagged"}));
  EXPECT_FALSE(s.summary_incomplete);
  const mailbox::message_summary& m = page->items[1];
  EXPECT_FALSE(m.seen);
  EXPECT_TRUE(m.flags.empty());
  EXPECT_FALSE(m.date);
  EXPECT_EQ(m.from[0].address, "/O=CONTOSO/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=BOB");
}

TEST(EwsFindItems, EmptyFolderAndUnreadableFields) {
  soap_reply empty = parse_ok(find_item_response("", R"(TotalItemsInView="0" IncludesLastItemInRange="true")"));
  auto none = parse_find_items(empty);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->items.empty());
  EXPECT_TRUE(none->includes_last_item);

  soap_reply odd = parse_ok(find_item_response(
      R"(<t:Message><t:ItemId Id="x" ChangeKey="y"/><t:Subject>s</t:Subject><t:DateTimeReceived>yesterday</t:DateTimeReceived><t:Size>-1</t:Size><t:IsRead>maybe</t:IsRead></t:Message>)"));
  auto page = parse_find_items(odd);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_TRUE(page->items[0].summary_incomplete);
  EXPECT_FALSE(page->items[0].internal_date);
  EXPECT_EQ(page->items[0].subject, "s");
}

TEST(EwsFindItems, ErrorsAndLimits) {
  soap_reply failed = parse_ok(envelope_of(operation("FindItemResponse", R"(<m:FindItemResponseMessage ResponseClass="Error"><m:MessageText>Id is malformed.</m:MessageText><m:ResponseCode>ErrorInvalidIdMalformed</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:FindItemResponseMessage>)")));
  auto r = parse_find_items(failed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_EQ(r.err().message, "EWS ErrorInvalidIdMalformed: Id is malformed.");

  soap_reply no_root = parse_ok(envelope_of(operation("FindItemResponse", R"(<m:FindItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:FindItemResponseMessage>)")));
  EXPECT_EQ(parse_find_items(no_root).err().code, errc::unavailable);

  std::string many;
  for (std::size_t i = 0; i <= max_items_per_response; ++i) many += "<t:Message><t:ItemId Id=\"i\"/></t:Message>";
  soap_reply flood = parse_ok(find_item_response(many));
  EXPECT_EQ(parse_find_items(flood).err().code, errc::resource_exhausted);
}

// Issue 11: the seed's bot failed its loop on these. Every forbidden range, as character
// references in one subject; each must become exactly one U+FFFD, nothing else changes.
TEST(EwsFindItems, EveryForbiddenCharacterReferenceBecomesOneReplacement) {
  std::vector<std::string> refs;
  for (int c = 0x00; c <= 0x08; ++c) refs.push_back(c % 2 ? "&#x" + std::to_string(c) + ";" : "&#" + std::to_string(c) + ";");
  for (const char* r : {"&#x0B;", "&#x0c;", "&#14;", "&#x0F;", "&#x10;", "&#x15;", "&#x1A;", "&#x1F;", "&#31;"}) refs.push_back(r);
  for (const char* r : {"&#xD800;", "&#xDBFF;", "&#xDC00;", "&#xDFFF;", "&#55296;", "&#xFDD0;", "&#xFDDF;", "&#xFDEF;",
                        "&#xFFFE;", "&#xFFFF;", "&#x1FFFE;", "&#x1FFFF;", "&#x2FFFF;", "&#x8FFFE;", "&#xEFFFF;",
                        "&#xFFFFE;", "&#x10FFFE;", "&#x10FFFF;", "&#0000;", "&#x110000;", "&#x100000041;"}) {
    refs.push_back(r);
  }
  std::string subject_xml = "Start";
  std::string expected = "Start";
  for (std::size_t i = 0; i < refs.size(); ++i) {
    subject_xml += refs[i] + "|" + std::to_string(i) + "&amp;ok ü|";
    expected += fffd + "|" + std::to_string(i) + "&ok ü|";
  }
  // Allowed neighbours stay exactly as they are.
  subject_xml += "&#x9;&#xA;&#x20;&#xD7FF;&#xE000;&#xFDCF;&#xFDF0;&#xFFFD;&#x10000;&#x1FFFD;End";
  expected += "\t\n \xED\x9F\xBF\xEE\x80\x80\xEF\xB7\x8F\xEF\xB7\xB0\xEF\xBF\xBD\xF0\x90\x80\x80\xF0\x9F\xBF\xBD" "End";
  soap_reply reply = parse_ok(find_item_response(
      "<t:Message><t:ItemId Id=\"id\" ChangeKey=\"ck\"/><t:Subject>" + subject_xml +
      "</t:Subject><t:From><t:Mailbox><t:Name>N&#x1;me</t:Name><t:EmailAddress>a@example.com</t:EmailAddress>"
      "</t:Mailbox></t:From></t:Message>"));
  auto page = parse_find_items(reply);
  ASSERT_TRUE(page) << page.err().message;
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].subject, expected);
  EXPECT_EQ(page->items[0].from[0].name, "N" + fffd + "me");
  EXPECT_FALSE(page->items[0].summary_incomplete);
}

// ---- GetItem ------------------------------------------------------------------------

// After getitem-operation-email-message, with MimeContent and recipients.
TEST(EwsGetItem, ReadsRecipientsAndDecodesMimeByteForByte) {
  const std::string mime = "From: alice@example.com\r\nSubject: \x01 bell \xFF raw\r\n\r\nHello\r\n";
  // Exchange writes MimeContent unwrapped; a proxy may fold it: both decode.
  std::string folded = base64_encode(mime);
  folded.insert(20, "\r\n ");
  soap_reply reply = parse_ok(envelope_of(operation("GetItemResponse", R"(
    <m:GetItemResponseMessage ResponseClass="Success">
      <m:ResponseCode>NoError</m:ResponseCode>
      <m:Items>
        <t:Message>
          <t:MimeContent CharacterSet="UTF-8">)" + folded + R"(</t:MimeContent>
          <t:ItemId Id="AAMkGet1=" ChangeKey="CQAAAB"/>
          <t:Subject>Hello</t:Subject>
          <t:ToRecipients>
            <t:Mailbox><t:Name>Bot</t:Name><t:EmailAddress>bot@example.com</t:EmailAddress></t:Mailbox>
            <t:Mailbox><t:EmailAddress>ops@example.com</t:EmailAddress></t:Mailbox>
          </t:ToRecipients>
          <t:CcRecipients><t:Mailbox><t:Name>Carol</t:Name><t:EmailAddress>carol@example.com</t:EmailAddress></t:Mailbox></t:CcRecipients>
          <t:IsRead>false</t:IsRead>
        </t:Message>
      </m:Items>
    </m:GetItemResponseMessage>
    <m:GetItemResponseMessage ResponseClass="Error">
      <m:MessageText>The specified object was not found in the store.</m:MessageText>
      <m:ResponseCode>ErrorItemNotFound</m:ResponseCode>
      <m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>
      <m:Items/>
    </m:GetItemResponseMessage>
    <m:GetItemResponseMessage ResponseClass="Success">
      <m:ResponseCode>NoError</m:ResponseCode>
      <m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">not*base64</t:MimeContent><t:ItemId Id="bad" ChangeKey="c"/></t:Message></m:Items>
    </m:GetItemResponseMessage>)")));
  auto items = parse_items(reply);
  ASSERT_TRUE(items) << items.err().message;
  ASSERT_EQ(items->size(), 3u);
  const fetched_item& first = (*items)[0];
  EXPECT_TRUE(first.status.ok());
  EXPECT_EQ(first.summary.item_id, "AAMkGet1=");
  ASSERT_EQ(first.summary.to.size(), 2u);
  EXPECT_EQ(first.summary.to[0].name, "Bot");
  EXPECT_EQ(first.summary.to[1].name, "");
  EXPECT_EQ(first.summary.to[1].address, "ops@example.com");
  ASSERT_EQ(first.summary.cc.size(), 1u);
  EXPECT_EQ(first.summary.cc[0].address, "carol@example.com");
  ASSERT_TRUE(first.mime);
  EXPECT_EQ(*first.mime, mime);
  EXPECT_EQ((*items)[1].status.code, errc::not_found);
  EXPECT_FALSE((*items)[1].mime);
  EXPECT_EQ((*items)[2].status.code, errc::unavailable);
  EXPECT_NE((*items)[2].status.message.find("not valid base64"), std::string::npos);
}

TEST(EwsGetItem, RecipientsBeyondTheLimitMarkTheSummaryIncomplete) {
  std::string to;
  for (std::size_t i = 0; i < max_recipients_kept + 5; ++i) {
    to += "<t:Mailbox><t:EmailAddress>r" + std::to_string(i) + "@example.com</t:EmailAddress></t:Mailbox>";
  }
  soap_reply reply = parse_ok(envelope_of(operation(
      "GetItemResponse", R"(<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message><t:ItemId Id="i"/><t:ToRecipients>)" +
                             to + "</t:ToRecipients></t:Message></m:Items></m:GetItemResponseMessage>")));
  auto items = parse_items(reply);
  ASSERT_TRUE(items);
  EXPECT_EQ((*items)[0].summary.to.size(), max_recipients_kept);
  EXPECT_TRUE((*items)[0].summary.summary_incomplete);
}

// ---- Move / Copy / Create / Update ids ------------------------------------------------

// After moveitem-operation (2010 SP1 with ReturnNewItemIds) and createitem-operation-email-message.
TEST(EwsItemIds, MoveCopyCreateIds) {
  soap_reply moved = parse_ok(envelope_of(operation("MoveItemResponse", R"(
    <m:MoveItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message><t:ItemId Id="NewId1=" ChangeKey="NewCk1"/></t:Message></m:Items></m:MoveItemResponseMessage>
    <m:MoveItemResponseMessage ResponseClass="Error"><m:MessageText>Access is denied. Check credentials and try again.</m:MessageText><m:ResponseCode>ErrorAccessDenied</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/></m:MoveItemResponseMessage>
    <m:MoveItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items/></m:MoveItemResponseMessage>)")));
  auto ids = parse_item_ids(moved);
  ASSERT_TRUE(ids) << ids.err().message;
  ASSERT_EQ(ids->size(), 3u);
  EXPECT_EQ((*ids)[0].ref.id, "NewId1=");
  EXPECT_EQ((*ids)[0].ref.change_key, "NewCk1");
  EXPECT_EQ((*ids)[1].status.code, errc::permission_denied);
  EXPECT_TRUE((*ids)[2].status.ok());
  EXPECT_TRUE((*ids)[2].ref.id.empty());  // before 2010 SP1: no new id

  soap_reply sent = parse_ok(envelope_of(operation("CreateItemResponse", R"(<m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items/></m:CreateItemResponseMessage>)")));
  auto created = parse_item_ids(sent);
  ASSERT_TRUE(created);
  ASSERT_EQ(created->size(), 1u);
  EXPECT_TRUE((*created)[0].status.ok());
  soap_reply other = parse_ok(envelope_of(operation("GetItemResponse", "")));
  EXPECT_EQ(parse_item_ids(other).err().code, errc::internal);
}

}  // namespace
}  // namespace mailbroker::ews
