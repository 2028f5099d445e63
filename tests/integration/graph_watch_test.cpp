// WatchMessages on Graph sessions against the fake Microsoft Graph (issue 12, "watch by
// delta queries"): the session runs a delta query on the folder every poll interval (mode
// "GRAPH_DELTA") and reports each new message once: not the ones already there when the
// watch started (however many pages the first round takes), not a change to an old one, not
// a message in another folder; many arrivals at once (more than one delta page) all come,
// in order; a connection cut under a poll loses nothing and repeats nothing; and a daemon
// restart under a watch neither.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "support/eventually.hpp"
#include "support/graph_session_fixture.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

class graph_watch : public graph_fixture {
 protected:
  // Connects alice (app-only) polling every `poll_interval` seconds.
  void connect_alice(std::uint32_t poll_interval) {
    auto request = app_request("graph-" + test_name());
    request.mutable_spec()->set_poll_interval_seconds(poll_interval);
    lease_ = connect(request);
    ASSERT_FALSE(lease_.empty());
  }

  struct watch {
    std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
    std::unique_ptr<grpc::ClientReader<pb::MessageEvent>> reader;
    ~watch() {
      if (reader) {
        context->TryCancel();
        reader->Finish();
      }
    }
  };
  std::unique_ptr<watch> start_watch(const std::string& folder = "INBOX") {
    auto w = std::make_unique<watch>();
    w->context->set_deadline(std::chrono::system_clock::now() + 120s);
    pb::WatchMessagesRequest request;
    request.set_lease_id(lease_);
    request.set_folder(folder);
    w->reader = mailbox_->WatchMessages(w->context.get(), request);
    return w;
  }
  // Starts a watch and reads its WATCHING event; the test fails unless it says GRAPH_DELTA.
  std::unique_ptr<watch> armed_watch(const std::string& folder = "INBOX") {
    auto w = start_watch(folder);
    pb::MessageEvent ev;
    EXPECT_TRUE(w->reader->Read(&ev));
    EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_WATCHING);
    EXPECT_EQ(ev.mode(), "GRAPH_DELTA");
    EXPECT_EQ(ev.message().ref().item_id(), "");
    return w;
  }

  // The next event (a NEW_MESSAGE, else the test fails); an empty summary when the stream ended.
  pb::MessageSummary next_arrival(watch& w) {
    if (!w.reader) {
      ADD_FAILURE() << "the watch had ended already";
      return {};
    }
    pb::MessageEvent ev;
    if (!w.reader->Read(&ev)) {
      ADD_FAILURE() << "the watch ended: " << w.reader->Finish().error_message();
      w.reader.reset();
      return {};
    }
    EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_NEW_MESSAGE);
    return ev.message();
  }

  // Delta queries the fake answered for `folder_part` (e.g. "/mailFolders/inbox/").
  std::size_t delta_queries() { return recorded("GET", "/messages/delta").size(); }

  std::string lease_;
};

TEST_F(graph_watch, NewMessagesArriveOnceAndOldOnesAreNotReported) {
  // More than one delta page (Graph's default page is 10) is already there.
  std::set<std::string> old_ids;
  for (int i = 0; i < 12; ++i) old_ids.insert(deliver("already-there-" + std::to_string(i)));
  connect_alice(1);
  auto w = armed_watch();

  const auto first = deliver("arrival-1");
  auto m = next_arrival(*w);
  EXPECT_EQ(m.subject(), "arrival-1");
  EXPECT_EQ(m.ref().item_id(), first);
  EXPECT_FALSE(m.ref().change_key().empty());
  ASSERT_EQ(m.from_size(), 1);
  EXPECT_EQ(m.from(0).address(), "bob@testlab.test");
  EXPECT_GT(delta_queries(), 0u);

  // A change to an old message is no arrival; neither is one in another folder.
  std::vector<pb::MessageRef> old{item(*old_ids.begin())};
  ASSERT_TRUE(set_flags(lease_, old, true, std::nullopt).ok());
  deliver("elsewhere", "Archive");
  const auto deltas = delta_queries();
  ASSERT_TRUE(eventually([&] { return delta_queries() >= deltas + 2; }, 10s)) << "the watch polls every second";
  const auto second = deliver("arrival-2");
  m = next_arrival(*w);
  EXPECT_EQ(m.subject(), "arrival-2") << "the flag change or the Archive message was reported";
  EXPECT_EQ(m.ref().item_id(), second);

  // Two at once: both, in arrival order, once.
  const auto third = deliver("arrival-3");
  const auto fourth = deliver("arrival-4");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), third);
  EXPECT_EQ(next_arrival(*w).ref().item_id(), fourth);
  const auto last = deliver("arrival-last");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), last) << "nothing was reported twice";
  EXPECT_EQ(status_of("graph-NewMessagesArriveOnceAndOldOnesAreNotReported").watch_count(), 1u);
}

TEST_F(graph_watch, ManyArrivalsAtOnceAllComeInOrder) {
  connect_alice(1);
  auto w = armed_watch();
  // Delivered between two polls, more than one delta page.
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back(deliver("burst-" + std::to_string(i)));
  std::vector<std::string> got;
  for (int i = 0; i < 25; ++i) {
    const auto m = next_arrival(*w);
    if (m.ref().item_id().empty()) break;
    got.push_back(m.ref().item_id());
  }
  EXPECT_EQ(got, ids);
  const auto sentinel = deliver("after-the-burst");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), sentinel) << "nothing was reported twice";
}

TEST_F(graph_watch, AWatchOnASubfolderSeesThatFolderOnly) {
  deliver("make-the-folder", "INBOX/Sub");
  connect_alice(1);
  auto w = armed_watch("INBOX/Sub");
  deliver("to-the-inbox");
  const auto in_sub = deliver("to-the-subfolder", "INBOX/Sub");
  const auto m = next_arrival(*w);
  EXPECT_EQ(m.subject(), "to-the-subfolder");
  EXPECT_EQ(m.ref().item_id(), in_sub);
  const auto sub_id = graph().folder_id("alice", "INBOX/Sub");
  EXPECT_FALSE(recorded("GET", sub_id + "/messages/delta").empty()) << "the delta query names the subfolder by id";
  const auto sentinel = deliver("second-to-the-subfolder", "INBOX/Sub");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), sentinel) << "the Inbox message was not reported";
}

// The connection is cut under a poll (the fake sends half an answer and closes it: a
// tcp_relay between daemon and fake cannot be used here, as the fake writes its own port
// into @odata.nextLink / deltaLink and the daemon rightly refuses links to another port).
TEST_F(graph_watch, ACutConnectionLosesNoArrivalAndRepeatsNone) {
  connect_alice(1);
  auto w = armed_watch();
  const auto first = deliver("before-the-cut");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), first);

  const auto injected = graph().counters().at("injected_failures");
  graph().fail("truncated", 1);  // the next poll's answer is cut half-way
  const auto during = deliver("during-the-cut");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), during);
  EXPECT_EQ(graph().counters().at("injected_failures"), injected + 1) << "a poll was cut";
  graph().fail("html502", 1);
  const auto again = deliver("after-a-second-failure");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), again) << "during-the-cut was not reported twice";
  const auto last = deliver("last");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), last);
  EXPECT_EQ(status_of("graph-ACutConnectionLosesNoArrivalAndRepeatsNone").state(), pb::SESSION_STATE_READY);
}

// Issue 12: "the delta link kept in the store so a daemon restart loses and repeats no
// arrival". A bot watches; the daemon restarts under it; the bot watches again.
TEST_F(graph_watch, ADaemonRestartLosesAndRepeatsNoArrival) {
  connect_alice(1);
  auto w = armed_watch();
  const auto before = deliver("before-the-restart");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), before);
  server_->shutdown(std::chrono::seconds(5));
  pb::MessageEvent ev;
  EXPECT_FALSE(w->reader->Read(&ev)) << "the watch ends with the daemon";
  w.reset();
  const auto during = deliver("while-the-daemon-was-down");

  start_broker();  // the same store
  mailbox_ = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
  connect_alice(1);
  w = armed_watch();
  EXPECT_EQ(next_arrival(*w).ref().item_id(), during) << "the arrival while the daemon was down was lost";
  const auto after = deliver("after-the-restart");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), after) << "an arrival was reported twice";
}

TEST_F(graph_watch, CallsDuringTheWatchAreAnsweredAtOnce) {
  deliver("listed");
  connect_alice(1);
  auto w = armed_watch();
  for (int i = 0; i < 3; ++i) {
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(subjects(list(lease_)), std::vector<std::string>{"listed"});
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s) << "the call waited for the watch";
  }
  const auto arrived = deliver("after-the-calls");
  EXPECT_EQ(next_arrival(*w).ref().item_id(), arrived);
}

}  // namespace
}  // namespace mailbroker::testing
