// The pure EWS codec: Subscribe / GetEvents / GetStreamingEvents readers, the streaming
// envelope splitter, and the POX Autodiscover response, on responses shaped like the
// examples of the EWS reference pages cited per test.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/ews/responses.hpp"
#include "unit/ews_test_support.hpp"

namespace mailbroker::ews {
namespace {

using namespace test;

// ---- notifications --------------------------------------------------------------------

// After subscribe-operation (pull): SubscriptionId and Watermark.
TEST(EwsNotifications, SubscribeReadsIdAndWatermark) {
  soap_reply reply = parse_ok(envelope_of(operation("SubscribeResponse", R"(<m:SubscribeResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:SubscriptionId>dwBlAGIAMQA0AC4=</m:SubscriptionId><m:Watermark>AAAAAHgGAAAAAAAAAQ==</m:Watermark></m:SubscribeResponseMessage>)")));
  auto s = parse_subscribe(reply);
  ASSERT_TRUE(s) << s.err().message;
  EXPECT_EQ(s->subscription_id, "dwBlAGIAMQA0AC4=");
  EXPECT_EQ(s->watermark, "AAAAAHgGAAAAAAAAAQ==");
  soap_reply bad = parse_ok(envelope_of(operation("SubscribeResponse", R"(<m:SubscribeResponseMessage ResponseClass="Error"><m:MessageText>Watermark is invalid.</m:MessageText><m:ResponseCode>ErrorInvalidWatermark</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:SubscribeResponseMessage>)")));
  EXPECT_EQ(parse_subscribe(bad).err().code, errc::failed_precondition);
  soap_reply missing = parse_ok(envelope_of(operation("SubscribeResponse", R"(<m:SubscribeResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:SubscribeResponseMessage>)")));
  EXPECT_EQ(parse_subscribe(missing).err().code, errc::unavailable);
}

// After getevents-operation: a Notification with status, new mail, move and folder events.
TEST(EwsNotifications, GetEventsReadsEveryEventKind) {
  soap_reply reply = parse_ok(envelope_of(operation("GetEventsResponse", R"(
    <m:GetEventsResponseMessage ResponseClass="Success">
      <m:ResponseCode>NoError</m:ResponseCode>
      <m:Notification>
        <t:SubscriptionId>sub1</t:SubscriptionId>
        <t:PreviousWatermark>wm0</t:PreviousWatermark>
        <t:MoreEvents>true</t:MoreEvents>
        <t:NewMailEvent><t:Watermark>wm1</t:Watermark><t:TimeStamp>2026-12-06T12:00:00Z</t:TimeStamp><t:ItemId Id="item1" ChangeKey="ck1"/><t:ParentFolderId Id="inbox1" ChangeKey="fck"/></t:NewMailEvent>
        <t:MovedEvent><t:Watermark>wm2</t:Watermark><t:TimeStamp>2026-12-06T12:00:01Z</t:TimeStamp><t:ItemId Id="item1b"/><t:ParentFolderId Id="archive1"/><t:OldItemId Id="item1"/><t:OldParentFolderId Id="inbox1"/></t:MovedEvent>
        <t:CreatedEvent><t:Watermark>wm3</t:Watermark><t:TimeStamp>2026-12-06T12:00:02Z</t:TimeStamp><t:FolderId Id="newfolder"/><t:ParentFolderId Id="inbox1"/></t:CreatedEvent>
        <t:StatusEvent><t:Watermark>wm4</t:Watermark></t:StatusEvent>
      </m:Notification>
    </m:GetEventsResponseMessage>)")));
  auto batch = parse_events(reply);
  ASSERT_TRUE(batch) << batch.err().message;
  EXPECT_EQ(batch->subscription_id, "sub1");
  EXPECT_EQ(batch->previous_watermark, "wm0");
  EXPECT_TRUE(batch->more_events);
  ASSERT_EQ(batch->events.size(), 4u);
  const notification_event& mail = batch->events[0];
  EXPECT_EQ(mail.type, "NewMailEvent");
  EXPECT_EQ(mail.watermark, "wm1");
  EXPECT_EQ(mail.stamp, utc(2026, 12, 6, 12));
  EXPECT_EQ(mail.item_id, "item1");
  EXPECT_EQ(mail.folder_id, "inbox1");
  EXPECT_FALSE(mail.about_folder);
  const notification_event& moved = batch->events[1];
  EXPECT_EQ(moved.item_id, "item1b");
  EXPECT_EQ(moved.folder_id, "archive1");
  EXPECT_EQ(moved.old_item_id, "item1");
  EXPECT_EQ(moved.old_folder_id, "inbox1");
  const notification_event& folder = batch->events[2];
  EXPECT_TRUE(folder.about_folder);
  EXPECT_EQ(folder.folder_id, "newfolder");
  EXPECT_TRUE(folder.item_id.empty());
  EXPECT_EQ(batch->events[3].type, "StatusEvent");
  EXPECT_FALSE(batch->events[3].stamp);
  EXPECT_EQ(batch->last_watermark(), "wm4");
  event_batch empty;
  empty.previous_watermark = "wm0";
  EXPECT_EQ(empty.last_watermark(), "wm0");
}

TEST(EwsNotifications, ExpiredSubscriptionIsNotFound) {
  soap_reply reply = parse_ok(envelope_of(operation("GetEventsResponse", R"(<m:GetEventsResponseMessage ResponseClass="Error"><m:MessageText>The specified subscription was not found.</m:MessageText><m:ResponseCode>ErrorSubscriptionNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:GetEventsResponseMessage>)")));
  auto r = parse_events(reply);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code, errc::not_found);
}

// After getstreamingevents-operation: notifications, then ConnectionStatus Closed.
TEST(EwsNotifications, StreamingChunks) {
  const std::string events = envelope_of(operation("GetStreamingEventsResponse", R"(
    <m:GetStreamingEventsResponseMessage ResponseClass="Success">
      <m:ResponseCode>NoError</m:ResponseCode>
      <m:Notifications>
        <m:Notification><t:SubscriptionId>s1</t:SubscriptionId><t:NewMailEvent><t:Watermark>w1</t:Watermark><t:TimeStamp>2026-12-06T12:00:00Z</t:TimeStamp><t:ItemId Id="i1" ChangeKey="c1"/><t:ParentFolderId Id="f1"/></t:NewMailEvent></m:Notification>
        <m:Notification><t:SubscriptionId>s2</t:SubscriptionId><t:DeletedEvent><t:Watermark>w2</t:Watermark><t:TimeStamp>2026-12-06T12:00:01Z</t:TimeStamp><t:ItemId Id="i2"/><t:ParentFolderId Id="f1"/></t:DeletedEvent></m:Notification>
      </m:Notifications>
    </m:GetStreamingEventsResponseMessage>)"));
  const std::string ok = envelope_of(operation("GetStreamingEventsResponse", R"(<m:GetStreamingEventsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:ConnectionStatus>OK</m:ConnectionStatus></m:GetStreamingEventsResponseMessage>)"));
  const std::string closed = envelope_of(operation("GetStreamingEventsResponse", R"(<m:GetStreamingEventsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:ConnectionStatus>Closed</m:ConnectionStatus></m:GetStreamingEventsResponseMessage>)"));

  // The stream as one buffer: split envelope by envelope, at every possible split point.
  const std::string stream = events + ok + closed;
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    const std::size_t end = streaming_envelope_end(std::string_view(stream).substr(0, cut));
    EXPECT_EQ(end, cut >= events.size() ? events.size() : 0u) << cut;
  }
  std::vector<streaming_chunk> chunks;
  std::string_view rest = stream;
  while (const std::size_t end = streaming_envelope_end(rest)) {
    soap_reply reply = parse_ok(std::string(rest.substr(0, end)));
    auto chunk = parse_streaming_chunk(reply);
    ASSERT_TRUE(chunk) << chunk.err().message;
    chunks.push_back(std::move(*chunk));
    rest.remove_prefix(end);
  }
  EXPECT_TRUE(rest.empty());
  ASSERT_EQ(chunks.size(), 3u);
  ASSERT_EQ(chunks[0].notifications.size(), 2u);
  EXPECT_EQ(chunks[0].notifications[0].subscription_id, "s1");
  EXPECT_EQ(chunks[0].notifications[0].events[0].item_id, "i1");
  EXPECT_EQ(chunks[0].notifications[1].events[0].type, "DeletedEvent");
  EXPECT_EQ(chunks[0].status, streaming_chunk::connection::unknown);
  EXPECT_EQ(chunks[1].status, streaming_chunk::connection::ok);
  EXPECT_EQ(chunks[2].status, streaming_chunk::connection::closed);
  EXPECT_TRUE(chunks[2].failure.ok());
}

TEST(EwsNotifications, StreamingErrorListsTheSubscriptions) {
  soap_reply reply = parse_ok(envelope_of(operation("GetStreamingEventsResponse", R"(<m:GetStreamingEventsResponseMessage ResponseClass="Error"><m:MessageText>The specified subscription was not found.</m:MessageText><m:ResponseCode>ErrorSubscriptionNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:ErrorSubscriptionIds><m:SubscriptionId>gone1</m:SubscriptionId><m:SubscriptionId>gone2</m:SubscriptionId></m:ErrorSubscriptionIds></m:GetStreamingEventsResponseMessage>)")));
  auto chunk = parse_streaming_chunk(reply);
  ASSERT_TRUE(chunk);
  EXPECT_EQ(chunk->failure.code, errc::not_found);
  EXPECT_EQ(chunk->error_subscription_ids, (std::vector<std::string>{"gone1", "gone2"}));
}

TEST(EwsNotifications, EnvelopeEndFindsAnyPrefix) {
  EXPECT_EQ(streaming_envelope_end("<Envelope></Envelope >tail"), 22u);
  EXPECT_EQ(streaming_envelope_end("<soap:Envelope></soap:Envelope>"), 31u);
  EXPECT_EQ(streaming_envelope_end("<s:Envelope></s:Body></s:Envel"), 0u);
  EXPECT_EQ(streaming_envelope_end(""), 0u);
}

// ---- Autodiscover -------------------------------------------------------------------

// pox-autodiscover-response-for-exchange (with the http:// namespaces real servers send).
TEST(EwsAutodiscover, PrefersExprThenExch) {
  const std::string body = R"(<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <User><DisplayName>First Last</DisplayName><LegacyDN>/o=contoso/ou=First Administrative Group/cn=Recipients/cn=iuser885646</LegacyDN><DeploymentId>644560b8-a1ce-429c-8ace-23395843f701</DeploymentId></User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol><Type>EXCH</Type><Server>MBX-SERVER.mail.internal.contoso.com</Server><ASUrl>https://mail.contoso.com/ews/exchange.asmx</ASUrl><EwsUrl>https://internal.contoso.com/EWS/Exchange.asmx</EwsUrl></Protocol>
      <Protocol><Type>EXPR</Type><Server>mail.contoso.com</Server><ASUrl>https://mail.contoso.com/ews/exchange.asmx</ASUrl><EwsUrl>https://mail.contoso.com/EWS/Exchange.asmx</EwsUrl></Protocol>
      <Protocol><Type>WEB</Type><Internal><OWAUrl AuthenticationMethod="Ntlm, WindowsIntegrated">https://mail.contoso.com/owa</OWAUrl></Internal></Protocol>
    </Account>
  </Response>
</Autodiscover>)";
  auto r = parse_autodiscover(body);
  ASSERT_TRUE(r) << r.err().message;
  EXPECT_EQ(r->ews_url, "https://mail.contoso.com/EWS/Exchange.asmx");
  EXPECT_TRUE(r->redirect_addr.empty());
  EXPECT_TRUE(r->error_code.empty());

  std::string exch_only = body;
  exch_only.replace(exch_only.find("<EwsUrl>https://mail"), std::string("<EwsUrl>https://mail.contoso.com/EWS/Exchange.asmx</EwsUrl>").size(), "");
  auto fallback = parse_autodiscover(exch_only);
  ASSERT_TRUE(fallback) << fallback.err().message;
  EXPECT_EQ(fallback->ews_url, "https://internal.contoso.com/EWS/Exchange.asmx");
}

TEST(EwsAutodiscover, RedirectsAndErrors) {
  auto addr = parse_autodiscover(R"(<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><Account><Action>redirectAddr</Action><RedirectAddr>user@contoso.onmicrosoft.com</RedirectAddr></Account></Response></Autodiscover>)");
  ASSERT_TRUE(addr) << addr.err().message;
  EXPECT_EQ(addr->redirect_addr, "user@contoso.onmicrosoft.com");
  EXPECT_TRUE(addr->ews_url.empty());
  auto url = parse_autodiscover(R"(<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><Account><Action>redirectUrl</Action><RedirectUrl>https://autodiscover.contoso.com/autodiscover/autodiscover.xml</RedirectUrl></Account></Response></Autodiscover>)");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->redirect_url, "https://autodiscover.contoso.com/autodiscover/autodiscover.xml");
  auto failed = parse_autodiscover(R"(<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response><Error Time="16:56:32.6761211" Id="1054084152"><ErrorCode>600</ErrorCode><Message>Invalid Request</Message><DebugData /></Error></Response></Autodiscover>)");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error_code, "600");
  EXPECT_EQ(failed->error_message, "Invalid Request");
  for (const std::string bad : {"", "<html>login</html>", "<Autodiscover><Response><Account><Action>settings</Action></Account></Response></Autodiscover>",
                                "<Autodiscover><Response>"}) {
    auto r = parse_autodiscover(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.err().code, errc::unavailable) << bad;
  }
}

}  // namespace
}  // namespace mailbroker::ews
