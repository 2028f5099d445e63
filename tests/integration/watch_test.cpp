// Mailbox.WatchMessages against the real Dovecot: IMAP IDLE on the session's one
// connection (interrupted for queued calls), polling when a session watches several
// folders, and the stream keeping its lease alive.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "support/broker_fixture.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;
constexpr const char* user = "frank";

class watch_messages : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    start_broker();
    mailbox_ = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
    suffix_ = std::to_string(std::random_device{}() % 1000000);
    folder_ = "Watch-" + suffix_;
    deliver("first", folder_);  // creates the folder
  }

  void deliver(const std::string& subject, const std::string& folder) {
    const std::string file = socket_dir_ + "/" + subject + ".eml";
    std::ofstream(file, std::ios::binary) << "From: sender@example.org\r\nTo: frank@example.org\r\nSubject: " << subject
                                          << "\r\nMessage-ID: <" << subject << "-" << suffix_
                                          << "@test>\r\n\r\nBody of " << subject << "\r\n";
    dovecot().deliver(user, file, folder);
  }

  std::string connect(const std::string& session, std::uint32_t lease_ttl = 0, std::uint32_t poll_interval = 0) {
    auto request = imaps_request(session + "-" + suffix_, user);
    if (lease_ttl) request.set_lease_ttl_seconds(lease_ttl);
    if (poll_interval) request.mutable_spec()->set_poll_interval_seconds(poll_interval);
    pb::ConnectResponse response;
    auto st = client_->connect(request, &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return response.lease_id();
  }

  struct stream {
    std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
    std::unique_ptr<grpc::ClientReader<pb::MessageEvent>> reader;
  };

  stream watch(const std::string& lease, const std::string& folder) {
    stream s;
    pb::WatchMessagesRequest request;
    request.set_lease_id(lease);
    request.set_folder(folder);
    s.reader = mailbox_->WatchMessages(s.context.get(), request);
    return s;
  }

  std::unique_ptr<pb::Mailbox::Stub> mailbox_;
  std::string suffix_, folder_;
};

TEST_F(watch_messages, idle_reports_a_delivery_within_one_second) {
  const auto lease = connect("idle");
  auto s = watch(lease, folder_);
  pb::MessageEvent ev;
  ASSERT_TRUE(s.reader->Read(&ev));
  EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_WATCHING);
  EXPECT_EQ(ev.mode(), "IDLE");
  EXPECT_GE(ev.last_uid(), 1u);  // "first" is already there and not reported
  std::this_thread::sleep_for(300ms);  // let the session enter IDLE

  for (int i = 1; i <= 3; ++i) {
    const std::string subject = "arrival-" + std::to_string(i);
    const auto before = std::chrono::steady_clock::now();
    deliver(subject, folder_);
    const auto delivered = std::chrono::steady_clock::now();
    ASSERT_TRUE(s.reader->Read(&ev));
    const auto after = std::chrono::steady_clock::now();
    EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_NEW_MESSAGE);
    EXPECT_EQ(ev.message().subject(), subject);
    EXPECT_GT(ev.message().uid(), 0u);
    const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(after - delivered);
    EXPECT_LT(latency, 1000ms) << "event came " << latency.count() << " ms after the delivery finished";
    std::printf("watch: %s reported %lld ms after doveadm save returned (%lld ms after it started)\n", subject.c_str(),
                static_cast<long long>(latency.count()),
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(after - before).count()));
  }
  s.context->TryCancel();
  s.reader->Finish();
}

TEST_F(watch_messages, idle_is_reissued_and_still_reports) {
  daemon::daemon_config config;
  config.registry.session.idle_restart = std::chrono::seconds(1);  // instead of 28 minutes
  start_broker(config);
  const auto lease = connect("reissue");
  auto s = watch(lease, folder_);
  pb::MessageEvent ev;
  ASSERT_TRUE(s.reader->Read(&ev));
  EXPECT_EQ(ev.mode(), "IDLE");
  const auto before = status_of("reissue-" + suffix_).counters().commands_sent();
  std::this_thread::sleep_for(3500ms);
  // Each cycle: DONE, SEARCH for news, IDLE again — on the same connection.
  const auto after = status_of("reissue-" + suffix_).counters().commands_sent();
  EXPECT_GE(after - before, 6u) << "IDLE was not re-issued";
  EXPECT_EQ(status_of("reissue-" + suffix_).counters().connects(), 1u);
  deliver("after-reissue", folder_);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.reader->Read(&ev));
  EXPECT_EQ(ev.message().subject(), "after-reissue");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  s.context->TryCancel();
  s.reader->Finish();
}

TEST_F(watch_messages, a_queued_call_interrupts_idle_and_the_watch_goes_on) {
  const auto lease = connect("interrupt");
  auto s = watch(lease, folder_);
  pb::MessageEvent ev;
  ASSERT_TRUE(s.reader->Read(&ev));
  std::this_thread::sleep_for(300ms);  // in IDLE now: without DONE a call would wait for 28 minutes

  for (int i = 0; i < 3; ++i) {
    pb::ListMessagesRequest request;
    request.set_lease_id(lease);
    request.set_folder(folder_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    pb::ListMessagesResponse response;
    const auto t0 = std::chrono::steady_clock::now();
    auto st = mailbox_->ListMessages(&context, request, &response);
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(response.messages_size(), 1);
    EXPECT_LT(took, 500ms);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(status_of("interrupt-" + suffix_).watch_count(), 1u);
  deliver("after-calls", folder_);
  ASSERT_TRUE(s.reader->Read(&ev));
  EXPECT_EQ(ev.message().subject(), "after-calls");
  EXPECT_EQ(dovecot().who(user), 1);  // the watch uses the session's one connection
  s.context->TryCancel();
  s.reader->Finish();
}

TEST_F(watch_messages, several_folders_are_polled) {
  const std::string other = "WatchOther-" + suffix_;
  deliver("other-first", other);
  const auto lease = connect("poll", 0, 1);
  auto a = watch(lease, folder_);
  auto b = watch(lease, other);
  pb::MessageEvent ev;
  ASSERT_TRUE(a.reader->Read(&ev));
  ASSERT_TRUE(b.reader->Read(&ev));
  EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_WATCHING);
  deliver("to-other", other);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(b.reader->Read(&ev));
  EXPECT_EQ(ev.message().subject(), "to-other");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);  // poll interval 1 s
  deliver("to-first", folder_);
  ASSERT_TRUE(a.reader->Read(&ev));
  EXPECT_EQ(ev.message().subject(), "to-first");
  a.context->TryCancel();
  b.context->TryCancel();
  a.reader->Finish();
  b.reader->Finish();
}

TEST_F(watch_messages, an_open_watch_keeps_its_lease_alive) {
  const auto lease = connect("keep", 2);
  auto s = watch(lease, folder_);
  pb::MessageEvent ev;
  ASSERT_TRUE(s.reader->Read(&ev));
  std::this_thread::sleep_for(4s);  // twice the lease TTL without a renewal
  pb::RenewLeaseResponse renewed;
  auto st = client_->renew(lease, &renewed);
  EXPECT_TRUE(st.ok()) << st.error_message();
  s.context->TryCancel();
  s.reader->Finish();
}

TEST_F(watch_messages, bad_requests_end_the_stream_with_a_clear_error) {
  const auto lease = connect("bad");
  {
    auto s = watch(lease, "No-Such-Folder-" + suffix_);
    pb::MessageEvent ev;
    EXPECT_FALSE(s.reader->Read(&ev));
    auto st = s.reader->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  }
  {
    auto s = watch("no-such-lease", folder_);
    pb::MessageEvent ev;
    EXPECT_FALSE(s.reader->Read(&ev));
    auto st = s.reader->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_NE(st.error_message().find("lease_id"), std::string::npos);
  }
  // The session is still fine.
  EXPECT_TRUE(wait_for_state("bad-" + suffix_, pb::SESSION_STATE_READY));
}

}  // namespace
}  // namespace mailbroker::testing
