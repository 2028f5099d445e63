// Claim / ack work distribution through one session, against the real Dovecot: many bots
// (leases) share a folder and every message is processed exactly once; a crashed bot's
// claims come back.
#include <gtest/gtest.h>

#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "support/broker_fixture.hpp"

namespace mailbroker::testing {
namespace {

constexpr const char* user = "carol";

class claims : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    start_broker();
    mailbox_ = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
    folder_ = "Jobs-" + std::to_string(std::random_device{}() % 1000000);
  }

  std::string lease() {
    pb::ConnectResponse response;
    auto st = client_->connect(imaps_request("jobs", user), &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return response.lease_id();
  }

  pb::ClaimMessagesResponse claim(const std::string& lease_id, std::uint32_t max, std::uint32_t ttl = 0,
                                  grpc::Status* status = nullptr) {
    pb::ClaimMessagesRequest request;
    request.set_lease_id(lease_id);
    request.set_folder(folder_);
    request.set_read(pb::READ_FILTER_UNREAD);
    request.set_max(max);
    request.set_claim_ttl_seconds(ttl);
    pb::ClaimMessagesResponse response;
    grpc::ClientContext context;
    auto st = mailbox_->ClaimMessages(&context, request, &response);
    if (status) *status = st;
    else EXPECT_TRUE(st.ok()) << st.error_message();
    return response;
  }

  grpc::Status ack(const std::string& lease_id, std::uint32_t uid, pb::AckAction action,
                   const std::string& target = {}) {
    pb::AckMessageRequest request;
    request.set_lease_id(lease_id);
    request.set_folder(folder_);
    request.set_uid(uid);
    request.set_action(action);
    request.set_target_folder(target);
    pb::AckMessageResponse response;
    grpc::ClientContext context;
    return mailbox_->AckMessage(&context, request, &response);
  }

  int count(const std::string& folder, pb::ReadFilter read = pb::READ_FILTER_ALL) {
    pb::ListMessagesRequest request;
    request.set_lease_id(probe_lease_);
    request.set_folder(folder);
    request.set_read(read);
    request.set_limit(1);
    pb::ListMessagesResponse response;
    grpc::ClientContext context;
    auto st = mailbox_->ListMessages(&context, request, &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return static_cast<int>(response.total_matching());
  }

  std::unique_ptr<pb::Mailbox::Stub> mailbox_;
  std::string folder_;
  std::string probe_lease_;
};

TEST_F(claims, TwentyBotsProcessAThousandMessagesExactlyOnce) {
  constexpr int messages = 1000;
  constexpr int bots = 20;
  dovecot().deliver_many(user, folder_, messages);
  probe_lease_ = lease();
  const std::string done_folder = folder_ + "-done";
  dovecot().deliver_many(user, done_folder, 0);  // creates it

  std::mutex mutex;
  std::multiset<std::string> processed;  // subjects, to spot a message processed twice
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int b = 0; b < bots; ++b) {
    threads.emplace_back([&, b] {
      const std::string my_lease = lease();
      for (;;) {
        auto batch = claim(my_lease, 10, 120);
        if (batch.messages_size() == 0) break;
        for (const auto& m : batch.messages()) {
          // Half the bots move their work to a "done" folder, the others delete it.
          auto st = ack(my_lease, m.summary().uid(), b % 2 == 0 ? pb::ACK_ACTION_MOVE : pb::ACK_ACTION_DELETE,
                        done_folder);
          if (!st.ok()) {
            ++errors;
            ADD_FAILURE() << st.error_message();
            continue;
          }
          std::lock_guard lock(mutex);
          processed.insert(m.summary().subject());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(processed.size(), static_cast<std::size_t>(messages));
  std::set<std::string> distinct(processed.begin(), processed.end());
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(messages)) << "a message was processed twice";
  EXPECT_TRUE(distinct.count("Job 1") && distinct.count("Job 1000"));
  EXPECT_EQ(count(folder_), 0);
  const int moved = count(done_folder);
  EXPECT_GT(moved, 0);
  EXPECT_LT(moved, messages);
  EXPECT_EQ(dovecot().who(user), 1) << "21 leases, one upstream connection";
}

TEST_F(claims, NoMessageIsHeldByTwoBotsAndACrashedBotsClaimsComeBack) {
  dovecot().deliver_many(user, folder_, 12);
  probe_lease_ = lease();
  const std::string a = lease(), b = lease();
  auto first = claim(a, 5);
  ASSERT_EQ(first.messages_size(), 5);
  auto second = claim(b, 100);
  ASSERT_EQ(second.messages_size(), 7) << "b gets only what a does not hold";
  std::set<std::uint32_t> uids_a, uids_b;
  for (const auto& m : first.messages()) uids_a.insert(m.summary().uid());
  for (const auto& m : second.messages()) uids_b.insert(m.summary().uid());
  for (auto uid : uids_a) EXPECT_EQ(uids_b.count(uid), 0u);
  EXPECT_EQ(claim(b, 100).messages_size(), 0) << "nothing left to claim";

  // Another lease cannot ack a's message.
  auto st = ack(b, *uids_a.begin(), pb::ACK_ACTION_MARK_READ);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();

  // a "crashes": its lease is released without acking; its 5 messages come back.
  pb::DisconnectResponse d;
  ASSERT_TRUE(client_->disconnect(a, false, &d).ok());
  auto again = claim(b, 100);
  ASSERT_EQ(again.messages_size(), 5);
  for (const auto& m : again.messages()) EXPECT_EQ(uids_a.count(m.summary().uid()), 1u);

  // Acked messages are never offered again, even with a filter they still match.
  for (const auto& m : again.messages()) ASSERT_TRUE(ack(b, m.summary().uid(), pb::ACK_ACTION_NONE).ok());
  pb::ReleaseMessagesRequest release;
  release.set_lease_id(b);
  release.set_folder(folder_);
  for (auto uid : uids_b) release.add_uids(uid);
  pb::ReleaseMessagesResponse released;
  grpc::ClientContext context;
  ASSERT_TRUE(mailbox_->ReleaseMessages(&context, release, &released).ok());
  EXPECT_EQ(released.released(), 7u);
  auto rest = claim(b, 100);
  EXPECT_EQ(rest.messages_size(), 7) << "released ones come back, acked ones do not";
}

TEST_F(claims, ExpiredClaimsAreOfferedAgainAndCannotBeAcked) {
  dovecot().deliver_many(user, folder_, 3);
  probe_lease_ = lease();
  const std::string a = lease(), b = lease();
  auto held = claim(a, 3, 1);
  ASSERT_EQ(held.messages_size(), 3);
  EXPECT_EQ(claim(b, 3).messages_size(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the 1 s claim TTL passes
  auto retaken = claim(b, 3);
  EXPECT_EQ(retaken.messages_size(), 3);
  auto st = ack(a, held.messages(0).summary().uid(), pb::ACK_ACTION_MARK_READ);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(count(folder_, pb::READ_FILTER_UNREAD), 3) << "a late ack changed nothing";

  grpc::Status bad;
  claim(b, 1000, 0, &bad);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("max"), std::string::npos);
  EXPECT_EQ(ack(b, retaken.messages(0).summary().uid(), pb::ACK_ACTION_UNSPECIFIED).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace mailbroker::testing
