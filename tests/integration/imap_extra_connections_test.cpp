// SessionSpec.max_connections against the real Dovecot: bots reading two folders at once
// get extra connections (each with its own selected folder) and every answer is that
// folder's; the extras are logged out when unused; a change still sees every read done;
// with the default (1) nothing beyond the main connection is opened.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "support/broker_fixture.hpp"

namespace mailbroker::testing {
namespace {

constexpr const char* user = "grace";

class imap_extra_connections : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    suffix_ = std::to_string(std::random_device{}() % 1000000);
    folder_a_ = "PoolA-" + suffix_;
    folder_b_ = "PoolB-" + suffix_;
    dovecot().deliver_many(user, folder_a_, 4);  // "Job 1".."Job 4"
    dovecot().deliver_many(user, folder_b_, 6);  // "Job 1".."Job 6"
  }

  void start(std::chrono::milliseconds extra_idle) {
    daemon::daemon_config config;
    config.registry.session.extra_idle = extra_idle;
    start_broker(config);
    mailbox_ = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
  }

  std::string connect(std::uint32_t max_connections) {
    auto request = imaps_request(session_name(), user);
    request.mutable_spec()->set_max_connections(max_connections);
    pb::ConnectResponse response;
    auto st = client_->connect(request, &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return response.lease_id();
  }

  std::string session_name() const { return "pool-" + suffix_; }

  // Each of `threads` bots lists both folders `rounds` times, alternating, with a limit of
  // its own (so no two calls share a listing); every page must be its folder's.
  void read_both_folders(const std::string& lease, int threads, int rounds) {
    std::atomic<int> wrong{0}, failed{0};
    std::vector<std::thread> bots;
    for (int t = 0; t < threads; ++t) {
      bots.emplace_back([&, t] {
        for (int r = 0; r < rounds; ++r) {
          const bool a = (r + t) % 2 == 0;
          pb::ListMessagesRequest request;
          request.set_lease_id(lease);
          request.set_folder(a ? folder_a_ : folder_b_);
          request.set_limit(static_cast<std::uint32_t>(50 + t));
          pb::ListMessagesResponse page;
          grpc::ClientContext context;
          auto st = mailbox_->ListMessages(&context, request, &page);
          if (!st.ok()) {
            ++failed;
            ADD_FAILURE() << st.error_message();
            continue;
          }
          if (page.messages_size() != (a ? 4 : 6)) ++wrong;
        }
      });
    }
    for (auto& b : bots) b.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(wrong.load(), 0) << "a page came from the other folder's connection";
  }

  std::string suffix_, folder_a_, folder_b_;
  std::unique_ptr<pb::Mailbox::Stub> mailbox_;
};

TEST_F(imap_extra_connections, ReadsOfTwoFoldersAtOnceGetExtraConnectionsThatIdleOut) {
  start(std::chrono::milliseconds(1500));
  const auto lease = connect(3);
  read_both_folders(lease, 8, 12);

  auto status = status_of(session_name());
  ASSERT_TRUE(status.has_imap());
  EXPECT_EQ(status.imap().max(), 3u);
  EXPECT_GE(status.imap().extra_logins(), 1u) << "two folders read at once never needed a second connection";
  EXPECT_LE(status.imap().open(), 3u);
  EXPECT_FALSE(status.imap().has_last_extra_error()) << status.imap().last_extra_error().message();

  // Unused extras are logged out; the main connection stays.
  bool settled = false;
  for (int i = 0; i < 100 && !settled; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = status_of(session_name());
    settled = status.imap().open() == 1;
  }
  EXPECT_TRUE(settled) << "extras still open: " << status.imap().open();
  EXPECT_EQ(status.state(), pb::SESSION_STATE_READY);

  // A change runs alone across the connections and the next reads see it.
  pb::ListMessagesRequest list;
  list.set_lease_id(lease);
  list.set_folder(folder_b_);
  pb::ListMessagesResponse page;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(mailbox_->ListMessages(&context, list, &page).ok());
  }
  pb::SetFlagsRequest flags;
  flags.set_lease_id(lease);
  flags.set_folder(folder_b_);
  flags.add_uids(page.messages(0).uid());
  flags.set_seen(true);
  {
    grpc::ClientContext context;
    pb::SetFlagsResponse done;
    auto st = mailbox_->SetFlags(&context, flags, &done);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  read_both_folders(lease, 4, 4);
  {
    grpc::ClientContext context;
    list.set_read(pb::READ_FILTER_UNREAD);
    ASSERT_TRUE(mailbox_->ListMessages(&context, list, &page).ok());
    EXPECT_EQ(page.messages_size(), 5);
  }
}

TEST_F(imap_extra_connections, TheDefaultIsOneConnection) {
  start(std::chrono::milliseconds(1500));
  const auto lease = connect(0);
  read_both_folders(lease, 6, 6);
  const auto status = status_of(session_name());
  ASSERT_TRUE(status.has_imap());
  EXPECT_EQ(status.imap().max(), 1u);
  EXPECT_EQ(status.imap().extra_logins(), 0u);
  EXPECT_EQ(status.imap().open(), 1u);
}

}  // namespace
}  // namespace mailbroker::testing
