// WatchMessages on EWS sessions against the fake EWS server (issue 11, "watch"): from
// Exchange2010_SP1 a streaming subscription wakes the session as soon as something
// arrives (the poll interval here is long, so a prompt arrival proves the stream woke it),
// while the pull subscription and its watermark still say what arrived; before
// Exchange2010_SP1 the pull subscription is read every poll interval. A cut stream, a
// subscription the server forgot, and calls made while the session waits lose nothing
// and wait for nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/eventually.hpp"
#include "support/ews_session_fixture.hpp"
#include "support/tcp_relay.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

class ews_watch : public ews_fixture {
 protected:
  // Connects alice with `version` and `poll_interval` seconds, through `relay` if given.
  void connect_alice(const std::string& version, std::uint32_t poll_interval, const tcp_relay* relay = nullptr) {
    auto request = ews_request("ews-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    request.mutable_spec()->mutable_ews()->set_version(version);
    request.mutable_spec()->set_poll_interval_seconds(poll_interval);
    if (relay) {
      // The same URL on the relay's port: the certificate names 127.0.0.1 either way.
      const std::string url = ews().ews_url();
      const auto colon = url.rfind(':');
      const auto slash = url.find('/', colon);
      request.mutable_spec()->mutable_ews()->set_url(url.substr(0, colon + 1) + std::to_string(relay->port()) +
                                                     url.substr(slash));
    }
    lease_ = connect(request);
    ASSERT_FALSE(lease_.empty());
  }

  struct watch {
    std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
    std::unique_ptr<grpc::ClientReader<pb::MessageEvent>> reader;
  };
  watch start_watch() {
    watch w;
    w.context->set_deadline(std::chrono::system_clock::now() + 120s);
    pb::WatchMessagesRequest request;
    request.set_lease_id(lease_);
    request.set_folder("INBOX");
    w.reader = mailbox_->WatchMessages(w.context.get(), request);
    return w;
  }

  // The next event's subject ("" when the stream ended), and how long it took.
  std::string next_arrival(watch& w, steady::duration* took = nullptr) {
    const auto started = steady::now();
    pb::MessageEvent ev;
    if (!w.reader->Read(&ev)) return "";
    if (took) *took = steady::now() - started;
    EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_NEW_MESSAGE);
    return ev.message().subject();
  }

  std::vector<nlohmann::json> requests_for(const std::string& operation) {
    std::vector<nlohmann::json> out;
    for (const auto& r : nlohmann::json::parse(ews().requests())) {
      if (r.value("operation", nlohmann::json()) == operation) out.push_back(r);
    }
    return out;
  }
  // Subscribe requests asking for a streaming subscription.
  std::size_t streaming_subscribes() {
    std::size_t n = 0;
    for (const auto& r : requests_for("Subscribe")) {
      if (r.value("body", "").find("StreamingSubscriptionRequest") != std::string::npos) ++n;
    }
    return n;
  }
  // Waits until `n` GetStreamingEvents requests have reached the fake (the n-th stream is open).
  bool stream_opened(std::size_t n = 1) {
    return eventually([&] { return requests_for("GetStreamingEvents").size() >= n; }, 20s);
  }
  // The SubscriptionIds a request's body names.
  static std::vector<std::string> subscription_ids(const nlohmann::json& request) {
    static const std::regex id(R"(SubscriptionId>([^<]+)</)");
    const std::string body = request.value("body", "");
    std::vector<std::string> out;
    for (std::sregex_iterator it(body.begin(), body.end(), id), end; it != end; ++it) out.push_back((*it)[1].str());
    return out;
  }

  // What a second client of alice's mailbox does: unsubscribes `id` (over Basic, with curl),
  // so the server no longer knows it, as when Exchange expires a subscription.
  void unsubscribe_as_alice(const std::string& id) {
    const std::string file = socket_dir_ + "/unsubscribe.xml";
    std::ofstream(file) << R"(<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
<soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/></soap:Header>
<soap:Body><m:Unsubscribe><m:SubscriptionId>)"
                        << id << R"(</m:SubscriptionId></m:Unsubscribe></soap:Body></soap:Envelope>)";
    const std::string answer =
        run_command("curl -fsS --max-time 30 --cacert '" + ews().ca_file() + "' -u '" + ews().domain() + "\\alice:" +
                    ews().password("alice") + "' -H 'Content-Type: text/xml; charset=utf-8' --data-binary @" + file +
                    " '" + ews().ews_url() + "'");
    ASSERT_NE(answer.find("NoError"), std::string::npos) << answer;
  }

  std::string lease_;
};

TEST_F(ews_watch, StreamingNotificationsWakeTheWatchAtOnce) {
  connect_alice("Exchange2013_SP1", 60);  // polling alone would take up to a minute
  auto w = start_watch();
  pb::MessageEvent ev;
  ASSERT_TRUE(w.reader->Read(&ev));
  EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_WATCHING);
  EXPECT_EQ(ev.mode(), "EWS_STREAMING");
  ASSERT_TRUE(stream_opened());

  for (int i = 1; i <= 3; ++i) {
    const std::string subject = "streamed-" + std::to_string(i);
    deliver(subject);
    steady::duration took{};
    EXPECT_EQ(next_arrival(w, &took), subject);
    EXPECT_LT(took, 10s) << subject << " came by the poll interval, not by the stream";
  }
  EXPECT_EQ(streaming_subscribes(), 1u);
  const auto streams = requests_for("GetStreamingEvents");
  EXPECT_GE(streams.size(), 3u) << "a new stream after each wake-up";
  for (const auto& s : streams) EXPECT_EQ(subscription_ids(s).size(), 1u);
  // The pull subscription still says what arrived.
  EXPECT_GE(requests_for("GetEvents").size(), 3u);
  w.context->TryCancel();
  w.reader->Finish();
}

TEST_F(ews_watch, Exchange2010PollsWithoutStreaming) {
  connect_alice("Exchange2010", 1);
  auto w = start_watch();
  pb::MessageEvent ev;
  ASSERT_TRUE(w.reader->Read(&ev));
  EXPECT_EQ(ev.mode(), "EWS_PULL");
  deliver("pulled-1");
  EXPECT_EQ(next_arrival(w), "pulled-1");
  deliver("pulled-2");
  EXPECT_EQ(next_arrival(w), "pulled-2");
  EXPECT_EQ(streaming_subscribes(), 0u);
  EXPECT_TRUE(requests_for("GetStreamingEvents").empty());
  EXPECT_FALSE(requests_for("GetEvents").empty());
  w.context->TryCancel();
  w.reader->Finish();
}

TEST_F(ews_watch, ACutStreamLosesNoArrival) {
  tcp_relay relay(static_cast<std::uint16_t>(std::stoi(ews().ews_url().substr(ews().ews_url().rfind(':') + 1))));
  // After a failed stream the session polls once by its interval, so keep it short here.
  connect_alice("Exchange2013_SP1", 3, &relay);
  auto w = start_watch();
  pb::MessageEvent ev;
  ASSERT_TRUE(w.reader->Read(&ev));
  ASSERT_EQ(ev.mode(), "EWS_STREAMING");
  ASSERT_TRUE(stream_opened(1));

  relay.cut();  // the stream and the idle pooled connections drop
  deliver("during-the-cut");
  EXPECT_EQ(next_arrival(w), "during-the-cut");
  ASSERT_TRUE(stream_opened(2)) << "streaming again after the cut";
  deliver("after-the-cut");
  steady::duration took{};
  EXPECT_EQ(next_arrival(w, &took), "after-the-cut") << "during-the-cut was not reported twice";
  EXPECT_LT(took, 10s);
  EXPECT_EQ(streaming_subscribes(), 1u) << "the subscription outlived the cut";

  pb::SessionStatus status = status_of("ews-ACutStreamLosesNoArrival");
  EXPECT_EQ(status.state(), pb::SESSION_STATE_READY);
  w.context->TryCancel();
  w.reader->Finish();
}

TEST_F(ews_watch, ASubscriptionTheServerForgotIsReplaced) {
  connect_alice("Exchange2013_SP1", 60);
  auto w = start_watch();
  pb::MessageEvent ev;
  ASSERT_TRUE(w.reader->Read(&ev));
  ASSERT_TRUE(stream_opened(1));
  const auto first = subscription_ids(requests_for("GetStreamingEvents").front());
  ASSERT_EQ(first.size(), 1u);

  unsubscribe_as_alice(first.front());
  deliver("after-the-expiry");
  steady::duration took{};
  EXPECT_EQ(next_arrival(w, &took), "after-the-expiry");
  EXPECT_LT(took, 15s) << "the watch waited for its poll interval";
  EXPECT_EQ(streaming_subscribes(), 2u);
  ASSERT_TRUE(eventually(
      [&] {
        const auto streams = requests_for("GetStreamingEvents");
        const auto ids = subscription_ids(streams.back());
        return ids.size() == 1 && ids.front() != first.front();
      },
      20s))
      << "the new subscription is streamed";
  deliver("on-the-new-subscription");
  EXPECT_EQ(next_arrival(w, &took), "on-the-new-subscription");
  EXPECT_LT(took, 10s);
  w.context->TryCancel();
  w.reader->Finish();
}

TEST_F(ews_watch, ACallDuringTheWaitIsAnsweredAtOnce) {
  connect_alice("Exchange2013_SP1", 60);
  auto w = start_watch();
  pb::MessageEvent ev;
  ASSERT_TRUE(w.reader->Read(&ev));
  ASSERT_TRUE(stream_opened(1));
  for (int i = 0; i < 3; ++i) {
    const auto started = steady::now();
    list(lease_);
    EXPECT_LT(steady::now() - started, 5s) << "the call waited for the stream";
  }
  deliver("after-the-calls");
  steady::duration took{};
  EXPECT_EQ(next_arrival(w, &took), "after-the-calls");
  EXPECT_LT(took, 10s);
  w.context->TryCancel();
  w.reader->Finish();
}

TEST_F(ews_watch, AnEndedWatchUnsubscribes) {
  connect_alice("Exchange2013_SP1", 60);
  auto w = start_watch();
  pb::MessageEvent ev;
  ASSERT_TRUE(w.reader->Read(&ev));
  ASSERT_TRUE(stream_opened(1));
  deliver("one");  // a GetEvents names the pull subscription
  EXPECT_EQ(next_arrival(w), "one");
  const auto streaming = subscription_ids(requests_for("GetStreamingEvents").front());
  const auto pull = subscription_ids(requests_for("GetEvents").back());
  ASSERT_EQ(streaming.size(), 1u);
  ASSERT_EQ(pull.size(), 1u);

  w.context->TryCancel();
  w.reader->Finish();
  std::set<std::string> unsubscribed;
  EXPECT_TRUE(eventually(
      [&] {
        unsubscribed.clear();
        for (const auto& r : requests_for("Unsubscribe")) {
          if (r.value("status", nlohmann::json()) != 200) continue;
          for (const auto& id : subscription_ids(r)) unsubscribed.insert(id);
        }
        return unsubscribed.size() == 2;
      },
      15s));
  EXPECT_EQ(unsubscribed, (std::set<std::string>{streaming.front(), pull.front()}));
  // The session goes on without a stream: calls are answered, nothing is streamed anew.
  const auto streams = requests_for("GetStreamingEvents").size();
  list(lease_);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(requests_for("GetStreamingEvents").size(), streams);
}

}  // namespace
}  // namespace mailbroker::testing
