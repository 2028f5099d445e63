// ews::streaming_reader: a GetStreamingEvents body read piece by piece, decided at the
// right envelope whatever the split points, memory bounded.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/ews/streaming_reader.hpp"
#include "unit/ews_test_support.hpp"

namespace mailbroker::ews {
namespace {

using namespace test;
using state = streaming_reader::state;

std::string streaming(const std::string& inside, const char* response_class = "Success") {
  return envelope_of(operation("GetStreamingEventsResponse", std::string("<m:GetStreamingEventsResponseMessage ResponseClass=\"") +
                                                                  response_class + "\">" + inside +
                                                                  "</m:GetStreamingEventsResponseMessage>"));
}

// As the fake (and Exchange) write them: no XML declaration, unprefixed Envelope.
std::string bare(const std::string& inside) {
  return R"(<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><soap11:Header xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"></soap11:Header><soap11:Body xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/">)" +
         operation("GetStreamingEventsResponse",
                   "<m:GetStreamingEventsResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode>" +
                       inside + "</m:GetStreamingEventsResponseMessage>") +
         "</soap11:Body></Envelope>";
}

const std::string no_error = "<m:ResponseCode>NoError</m:ResponseCode>";
const std::string heartbeat = streaming(no_error + "<m:ConnectionStatus>OK</m:ConnectionStatus>");
const std::string closed = streaming(no_error + "<m:ConnectionStatus>Closed</m:ConnectionStatus>");

std::string notification(const std::string& events) {
  return streaming(no_error + "<m:Notifications><m:Notification><t:SubscriptionId>s1</t:SubscriptionId>" + events +
                   "</m:Notification></m:Notifications>");
}
const std::string new_mail = notification(
    R"(<t:NewMailEvent><t:Watermark>w1</t:Watermark><t:TimeStamp>2026-12-06T12:00:00Z</t:TimeStamp><t:ItemId Id="i1" ChangeKey="c1"/><t:ParentFolderId Id="f1"/></t:NewMailEvent>)");
const std::string status_only =
    notification(R"(<t:StatusEvent><t:Watermark>w0</t:Watermark></t:StatusEvent>)");

// Feeds `stream` cut at `cut` (two pieces), returns the final state.
state feed_split(const std::string& stream, std::size_t cut) {
  streaming_reader reader(server_version::exchange2013_sp1);
  reader.feed(std::string_view(stream).substr(0, cut));
  return reader.feed(std::string_view(stream).substr(cut));
}

TEST(EwsStreamingReader, HeartbeatsAreNotNewsAnEventIsAtEverySplitPoint) {
  const std::string stream = heartbeat + status_only + heartbeat + new_mail + heartbeat;
  const std::size_t news_end = heartbeat.size() * 2 + status_only.size() + new_mail.size();
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    EXPECT_EQ(feed_split(stream, cut), state::news) << cut;
  }
  // Byte by byte: undecided until the last byte of the envelope with the event.
  streaming_reader reader(server_version::exchange2013_sp1);
  for (std::size_t i = 0; i < stream.size(); ++i) {
    const state s = reader.feed(std::string_view(stream).substr(i, 1));
    ASSERT_EQ(s, i + 1 < news_end ? state::reading : state::news) << i;
    if (s != state::reading) break;
  }
  EXPECT_EQ(reader.envelopes(), 4u) << "the heartbeat after the news is not read";
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(EwsStreamingReader, EnvelopesWithoutDeclarationAsExchangeStreamsThem) {
  const std::string stream = bare("<m:ConnectionStatus>OK</m:ConnectionStatus>") +
                             bare(R"(<m:Notifications><m:Notification><t:SubscriptionId>s1</t:SubscriptionId><t:CreatedEvent><t:Watermark>w1</t:Watermark><t:TimeStamp>2026-12-06T12:00:00Z</t:TimeStamp><t:ItemId Id="i1" ChangeKey="c1"/><t:ParentFolderId Id="f1"/></t:CreatedEvent></m:Notification></m:Notifications>)");
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) EXPECT_EQ(feed_split(stream, cut), state::news) << cut;
}

TEST(EwsStreamingReader, EveryRealEventTypeIsNews) {
  for (const char* type : {"NewMailEvent", "CreatedEvent", "MovedEvent", "CopiedEvent", "ModifiedEvent", "DeletedEvent",
                           "FreeBusyChangedEvent"}) {
    const std::string ev = std::string("<t:") + type +
                           R"(><t:Watermark>w1</t:Watermark><t:TimeStamp>2026-12-06T12:00:00Z</t:TimeStamp><t:ItemId Id="i1"/><t:ParentFolderId Id="f1"/></t:)" +
                           type + ">";
    streaming_reader reader(server_version::exchange2013_sp1);
    EXPECT_EQ(reader.feed(notification(ev)), state::news) << type;
  }
}

TEST(EwsStreamingReader, ClosedEndsTheStreamNewsWinsInTheSameEnvelope) {
  streaming_reader reader(server_version::exchange2013_sp1);
  EXPECT_EQ(reader.feed(heartbeat + closed + new_mail), state::closed);
  EXPECT_EQ(reader.feed(new_mail), state::closed) << "a final state stays";
  EXPECT_EQ(reader.envelopes(), 2u);

  streaming_reader both(server_version::exchange2013_sp1);
  const std::string events_and_closed = streaming(
      no_error +
      R"(<m:Notifications><m:Notification><t:SubscriptionId>s1</t:SubscriptionId><t:NewMailEvent><t:Watermark>w1</t:Watermark><t:TimeStamp>2026-12-06T12:00:00Z</t:TimeStamp><t:ItemId Id="i1"/><t:ParentFolderId Id="f1"/></t:NewMailEvent></m:Notification></m:Notifications><m:ConnectionStatus>Closed</m:ConnectionStatus>)");
  EXPECT_EQ(both.feed(events_and_closed), state::news);
}

TEST(EwsStreamingReader, UnknownSubscriptionsAreNamed) {
  const std::string gone = streaming(
      "<m:MessageText>The specified subscription was not found.</m:MessageText><m:ResponseCode>ErrorSubscriptionNotFound</"
      "m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:ErrorSubscriptionIds><m:SubscriptionId>gone1</"
      "m:SubscriptionId><m:SubscriptionId>gone2</m:SubscriptionId></m:ErrorSubscriptionIds>",
      "Error");
  streaming_reader reader(server_version::exchange2013_sp1);
  EXPECT_EQ(reader.feed(gone), state::subscriptions_gone);
  EXPECT_EQ(reader.gone_subscriptions(), (std::vector<std::string>{"gone1", "gone2"}));
  EXPECT_EQ(reader.failure().code, errc::not_found);

  for (const char* code : {"ErrorExpiredSubscription", "ErrorInvalidSubscription"}) {
    streaming_reader unnamed(server_version::exchange2013_sp1);
    EXPECT_EQ(unnamed.feed(streaming(std::string("<m:MessageText>x</m:MessageText><m:ResponseCode>") + code +
                                         "</m:ResponseCode>",
                                     "Error")),
              state::subscriptions_gone)
        << code;
    EXPECT_TRUE(unnamed.gone_subscriptions().empty()) << "none named: any may be gone";
  }
}

TEST(EwsStreamingReader, OtherErrorsAndWrongAnswersFail) {
  struct bad_case {
    const char* name;
    std::string stream;
    errc code;
  };
  const std::vector<bad_case> cases = {
      {"access denied",
       streaming("<m:MessageText>no</m:MessageText><m:ResponseCode>ErrorSubscriptionAccessDenied</m:ResponseCode>", "Error"),
       errc::permission_denied},
      {"too many connections",
       streaming("<m:MessageText>no</m:MessageText><m:ResponseCode>ErrorExceededConnectionCount</m:ResponseCode>", "Error"),
       errc::internal},
      {"another operation",
       envelope_of(operation("GetEventsResponse",
                             "<m:GetEventsResponseMessage ResponseClass=\"Success\">" + no_error +
                                 "</m:GetEventsResponseMessage>")),
       errc::internal},
      {"not SOAP", "<html><body>proxy error</body></html><Foo></Envelope>", errc::unavailable},
  };
  for (const auto& c : cases) {
    streaming_reader reader(server_version::exchange2013_sp1);
    EXPECT_EQ(reader.feed(heartbeat + c.stream), state::failed) << c.name;
    EXPECT_EQ(reader.failure().code, c.code) << c.name << ": " << reader.failure().message;
  }
}

TEST(EwsStreamingReader, AnEnvelopeOverTheLimitEndsTheStreamWithBoundedMemory) {
  streaming_reader reader(server_version::exchange2013_sp1, 4096);
  EXPECT_EQ(reader.feed(heartbeat), state::reading);
  const std::string filler(1000, 'x');
  EXPECT_EQ(reader.feed("<Envelope>"), state::reading);
  state s = state::reading;
  int pieces = 0;
  while (s == state::reading && pieces < 100) {
    s = reader.feed(filler);
    ++pieces;
    EXPECT_LE(reader.buffered(), 4096u + filler.size());
  }
  EXPECT_EQ(s, state::failed);
  EXPECT_EQ(pieces, 5) << "stops as soon as the buffer passes the limit";
  EXPECT_EQ(reader.failure().code, errc::resource_exhausted);
  EXPECT_NE(reader.failure().message.find("4096"), std::string::npos) << reader.failure().message;
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_EQ(reader.feed(closed), state::failed);

  // The default limit is the named constant: 1 MiB buffered is still fine.
  streaming_reader big(server_version::exchange2013_sp1);
  EXPECT_EQ(big.feed("<Envelope>" + std::string(max_streaming_envelope_bytes - 10, ' ')), state::reading);
  EXPECT_EQ(big.feed(std::string(64, ' ')), state::failed);
}

}  // namespace
}  // namespace mailbroker::ews
