// Many bots on one session against the real Dovecot: newest-first listing, and the
// session's message cache and request batching never giving a stale or wrong answer —
// flags changed by another client, a message expunged elsewhere, a delivery made just
// before the call, a folder re-created under a new UIDVALIDITY, moves through the
// daemon, concurrent readers of different messages.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "support/broker_fixture.hpp"
#include "support/eventually.hpp"
#include "support/mail_text.hpp"
#include "support/tcp_relay.hpp"

namespace mailbroker::testing {
namespace {

constexpr const char* user = "erin";

class shared_mailbox : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    start_broker();
    mailbox_ = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
    folder_ = "Shared-" + std::to_string(std::random_device{}() % 1000000);
    dovecot().deliver_many(user, folder_, 5);  // "Job 1".."Job 5", unread, uids ascending
    lease_ = connect_lease();
  }

  std::string connect_lease() {
    pb::ConnectResponse response;
    auto st = client_->connect(imaps_request("shared", user), &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return response.lease_id();
  }

  // ListMessages, retried while the session reconnects (UNAVAILABLE).
  pb::ListMessagesResponse list(pb::ListMessagesRequest request, grpc::Status* status = nullptr) {
    request.set_lease_id(lease_);
    if (request.folder().empty()) request.set_folder(folder_);
    pb::ListMessagesResponse response;
    grpc::Status st;
    for (int attempt = 0; attempt < 100; ++attempt) {
      grpc::ClientContext context;
      response.Clear();
      st = mailbox_->ListMessages(&context, request, &response);
      if (st.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (status) *status = st;
    else EXPECT_TRUE(st.ok()) << st.error_message();
    return response;
  }

  grpc::Status fetch(const std::string& lease, std::uint32_t uid, std::string* bytes, const std::string& folder = {}) {
    grpc::Status st;
    for (int attempt = 0; attempt < 100; ++attempt) {
      pb::GetMessageRequest request;
      request.set_lease_id(lease);
      request.set_folder(folder.empty() ? folder_ : folder);
      request.set_uid(uid);
      grpc::ClientContext context;
      auto reader = mailbox_->GetMessage(&context, request);
      pb::MessageChunk chunk;
      bytes->clear();
      while (reader->Read(&chunk)) *bytes += chunk.data();
      st = reader->Finish();
      if (st.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return st;
  }

  std::map<std::string, const pb::MessageSummary*> by_subject(const pb::ListMessagesResponse& page) {
    std::map<std::string, const pb::MessageSummary*> out;
    for (const auto& m : page.messages()) out[m.subject()] = &m;
    return out;
  }

  std::unique_ptr<pb::Mailbox::Stub> mailbox_;
  std::string folder_, lease_;
};

TEST_F(shared_mailbox, NewestFirstPagesDownFromTheTop) {
  pb::ListMessagesRequest request;
  request.set_order(pb::LIST_ORDER_NEWEST_FIRST);
  request.set_limit(2);
  auto p1 = list(request);
  ASSERT_EQ(p1.messages_size(), 2);
  EXPECT_EQ(p1.messages(0).subject(), "Job 5");
  EXPECT_EQ(p1.messages(1).subject(), "Job 4");
  EXPECT_EQ(p1.total_matching(), 5u);
  EXPECT_EQ(p1.next_after_uid(), 0u);
  ASSERT_EQ(p1.next_before_uid(), p1.messages(1).uid());

  request.set_before_uid(p1.next_before_uid());
  auto p2 = list(request);
  ASSERT_EQ(p2.messages_size(), 2);
  EXPECT_EQ(p2.messages(0).subject(), "Job 3");
  EXPECT_EQ(p2.messages(1).subject(), "Job 2");
  request.set_before_uid(p2.next_before_uid());
  auto p3 = list(request);
  ASSERT_EQ(p3.messages_size(), 1);
  EXPECT_EQ(p3.messages(0).subject(), "Job 1");
  EXPECT_EQ(p3.next_before_uid(), 0u) << "the last page says so";

  pb::ListMessagesRequest oldest;  // the default order is unchanged
  oldest.set_limit(1);
  EXPECT_EQ(list(oldest).messages(0).subject(), "Job 1");
}

TEST_F(shared_mailbox, FlagsChangedByAnotherClientAreSeen) {
  auto before = list({});
  ASSERT_EQ(before.messages_size(), 5);
  const auto uid = by_subject(before).at("Job 2")->uid();
  EXPECT_FALSE(by_subject(before).at("Job 2")->seen());

  dovecot().doveadm("flags add -u " + std::string(user) + " '\\Seen \\Flagged' mailbox " + folder_ + " uid " +
                    std::to_string(uid));
  auto after = list({});
  ASSERT_EQ(after.messages_size(), 5);
  const auto* job2 = by_subject(after).at("Job 2");
  EXPECT_TRUE(job2->seen()) << "flags are never answered from the cache";
  EXPECT_NE(std::find(job2->flags().begin(), job2->flags().end(), "\\Flagged"), job2->flags().end());

  pb::ListMessagesRequest unread;
  unread.set_read(pb::READ_FILTER_UNREAD);
  EXPECT_EQ(list(unread).messages_size(), 4);
}

// With CONDSTORE (Dovecot has it), a listing that finds the mailbox at the version its
// last page was listed at answers with that page after SELECT + SEARCH alone: one round
// trip, no FETCH. Any change made elsewhere moves the version and the flags are fetched.
TEST_F(shared_mailbox, AnUnchangedMailboxIsListedWithoutAFetchAndAChangedOneIsFetched) {
  const auto sent = [&] { return status_of("shared").counters().commands_sent(); };
  // Status's counters are refreshed once as a call finishes, a moment after its reply, and
  // that refresh counts all of the call's commands: each call's cost is the first change
  // after it. The login's commands were counted before Connect answered.
  std::uint64_t counted = sent();
  const auto cost_of_last_call = [&] {
    std::uint64_t now = counted;
    EXPECT_TRUE(eventually([&] { return (now = sent()) != counted; }, std::chrono::seconds(5)));
    const auto cost = now - counted;
    counted = now;
    return cost;
  };
  auto first = list({});
  ASSERT_EQ(first.messages_size(), 5);
  cost_of_last_call();

  auto again = list({});
  EXPECT_EQ(cost_of_last_call(), 2u) << "SELECT + SEARCH only";
  ASSERT_EQ(again.messages_size(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(again.messages(i).uid(), first.messages(i).uid());

  const auto uid = by_subject(first).at("Job 4")->uid();
  dovecot().doveadm("flags add -u " + std::string(user) + " '\\Seen' mailbox " + folder_ + " uid " +
                    std::to_string(uid));
  auto changed = list({});
  EXPECT_EQ(cost_of_last_call(), 3u) << "SELECT + SEARCH + FETCH of the flags";
  EXPECT_TRUE(by_subject(changed).at("Job 4")->seen());

  auto settled = list({});
  EXPECT_EQ(cost_of_last_call(), 2u) << "unchanged again";
  EXPECT_TRUE(by_subject(settled).at("Job 4")->seen());
}

// SessionSpec.read_ahead_bytes: a listing is followed by one UID FETCH of the page's
// bodies, and the reads of them are then answered from memory, sending nothing.
TEST_F(shared_mailbox, ReadAheadBringsTheListedBodiesSoReadingThemSendsNothing) {
  auto ahead = imaps_request("ahead", user);
  ahead.mutable_spec()->set_read_ahead_bytes(1 << 20);
  pb::ConnectResponse connected;
  ASSERT_TRUE(client_->connect(ahead, &connected).ok());
  lease_ = connected.lease_id();
  const auto sent = [&] { return status_of("ahead").counters().commands_sent(); };
  const auto logged_in = sent();  // counted before Connect answered

  auto page = list({});
  ASSERT_EQ(page.messages_size(), 5);
  // SELECT + SEARCH + FETCH of the summaries, then the read-ahead's one UID FETCH.
  std::uint64_t now = 0;
  EXPECT_TRUE(eventually([&] { return (now = sent()) == logged_in + 4; }, std::chrono::seconds(5)))
      << "sent " << now - logged_in << " commands";
  for (const auto& m : page.messages()) {
    std::string bytes;
    ASSERT_TRUE(fetch(lease_, m.uid(), &bytes).ok());
    EXPECT_NE(bytes.find("Subject: " + m.subject()), std::string::npos) << m.subject();
    EXPECT_EQ(bytes.size(), m.size());
  }
  // The next listing's cost is everything sent since: SELECT + SEARCH (the mailbox is
  // unchanged), so the five reads sent nothing.
  list({});
  EXPECT_TRUE(eventually([&] { return (now = sent()) != logged_in + 4; }, std::chrono::seconds(5)));
  EXPECT_EQ(now - logged_in - 4, 2u);
}

TEST_F(shared_mailbox, ReadAheadStopsAtItsBudgetAndTheRestIsFetchedOnDemand) {
  const auto sizes = list({});  // the fixture's session, without read-ahead
  ASSERT_EQ(sizes.messages_size(), 5);
  auto ahead = imaps_request("ahead-two", user);
  ahead.mutable_spec()->set_read_ahead_bytes(
      static_cast<std::uint32_t>(sizes.messages(0).size() + sizes.messages(1).size()));
  pb::ConnectResponse connected;
  ASSERT_TRUE(client_->connect(ahead, &connected).ok());
  lease_ = connected.lease_id();
  const auto sent = [&] { return status_of("ahead-two").counters().commands_sent(); };
  const auto logged_in = sent();

  auto page = list({});  // oldest first: Job 1, Job 2 fit the budget
  ASSERT_EQ(page.messages_size(), 5);
  std::uint64_t now = 0;
  EXPECT_TRUE(eventually([&] { return (now = sent()) == logged_in + 4; }, std::chrono::seconds(5)))
      << "sent " << now - logged_in << " commands";
  for (int i = 0; i < 3; ++i) {
    std::string bytes;
    ASSERT_TRUE(fetch(lease_, page.messages(i).uid(), &bytes).ok());
    EXPECT_NE(bytes.find("Subject: " + page.messages(i).subject()), std::string::npos);
  }
  // A listing of just those three (all cached now: nothing more to read ahead) ends the
  // count: Job 3's FETCH, then SELECT + SEARCH + FETCH of the flags (a new query). Had Job 1
  // or Job 2 been fetched, the count would pass 8 without ever being 8.
  pb::ListMessagesRequest first_three;
  first_three.set_limit(3);
  list(first_three);
  EXPECT_TRUE(eventually([&] { return (now = sent()) == logged_in + 8; }, std::chrono::seconds(5)))
      << "sent " << now - logged_in - 4 << " after the read-ahead";
}

// Another bot's read of a message while the read-ahead FETCH that brings it is still on
// the wire (a slow link: every chunk from the server 400 ms late) waits for that FETCH
// instead of fetching the message again.
TEST_F(shared_mailbox, AReadOfAMessageBeingReadAheadWaitsForThatFetch) {
  tcp_relay relay(dovecot().imaps_port());
  auto ahead = imaps_request("ahead-slow", user);
  ahead.mutable_spec()->mutable_server()->set_port(relay.port());
  ahead.mutable_spec()->set_read_ahead_bytes(1 << 20);
  pb::ConnectResponse first, second;
  ASSERT_TRUE(client_->connect(ahead, &first).ok());
  ASSERT_TRUE(client_->connect(ahead, &second).ok());  // a second bot attaches
  lease_ = first.lease_id();
  const auto sent = [&] { return status_of("ahead-slow").counters().commands_sent(); };
  const auto logged_in = sent();

  relay.set_server_delay(std::chrono::milliseconds(400));
  auto page = list({});  // SELECT + SEARCH + FETCH; the read-ahead's UID FETCH follows at once
  ASSERT_EQ(page.messages_size(), 5);
  // The read-ahead runs in the listing lease's next turn, a moment after the reply: a read
  // that got its turn first would not wait for a read-ahead not started yet (by design:
  // see imap_read_ahead.hpp) and would fetch for itself. On a loaded machine the other
  // lease's turn came first once in a while; 100 ms lets the FETCH go out (its answer
  // takes 800 ms).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto started = std::chrono::steady_clock::now();
  std::string bytes;
  ASSERT_TRUE(fetch(second.lease_id(), page.messages(2).uid(), &bytes).ok());
  EXPECT_NE(bytes.find("Subject: Job 3"), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(200))
      << "answered before the read-ahead's answer could have come";
  relay.set_server_delay(std::chrono::milliseconds(0));
  // A listing at the unchanged version ends the count: SELECT + SEARCH. Had the read
  // fetched the message itself, the count would pass 6 without ever being 6 (3, 4, 5, 7).
  list({});
  std::uint64_t now = 0;
  EXPECT_TRUE(eventually([&] { return (now = sent()) == logged_in + 6; }, std::chrono::seconds(10)))
      << "sent " << now - logged_in << " commands";
}

TEST_F(shared_mailbox, AMessageExpungedElsewhereDisappearsAndANewOneAppears) {
  auto before = list({});
  ASSERT_EQ(before.messages_size(), 5);
  const auto gone = by_subject(before).at("Job 3")->uid();
  dovecot().doveadm("expunge -u " + std::string(user) + " mailbox " + folder_ + " uid " + std::to_string(gone));
  const std::string file = socket_dir_ + "/late.eml";
  std::ofstream(file, std::ios::binary) << crlf("From: late@example.org\nSubject: Late arrival\n\nJust now.\n");
  dovecot().deliver(user, file, folder_);

  // The very next call sees both changes: nothing is answered from an older view.
  auto after = list({});
  auto subjects = by_subject(after);
  EXPECT_EQ(after.messages_size(), 5);
  EXPECT_FALSE(subjects.contains("Job 3"));
  EXPECT_TRUE(subjects.contains("Late arrival"));
}

TEST_F(shared_mailbox, AFolderRecreatedUnderANewUidValidityIsNeverServedFromTheCache) {
  auto before = list({});
  ASSERT_EQ(before.messages_size(), 5);
  const auto uid = by_subject(before).at("Job 1")->uid();
  std::string old_bytes;
  ASSERT_TRUE(fetch(lease_, uid, &old_bytes).ok());
  ASSERT_NE(old_bytes.find("Work item 1."), std::string::npos);

  // Another client deletes the folder and creates it again with other mail: same uids,
  // new UIDVALIDITY.
  dovecot().doveadm("mailbox delete -u " + std::string(user) + " " + folder_);
  const std::string file = socket_dir_ + "/replacement.eml";
  std::ofstream(file, std::ios::binary) << crlf("From: new@example.org\nSubject: Replacement\n\nOther bytes.\n");
  dovecot().deliver(user, file, folder_);

  auto after = list({});
  ASSERT_EQ(after.messages_size(), 1);
  EXPECT_NE(after.uid_validity(), before.uid_validity());
  EXPECT_EQ(after.messages(0).subject(), "Replacement");
  std::string new_bytes;
  ASSERT_TRUE(fetch(lease_, after.messages(0).uid(), &new_bytes).ok());
  EXPECT_NE(new_bytes.find("Other bytes."), std::string::npos);
  EXPECT_EQ(new_bytes.find("Work item"), std::string::npos) << "a cached body of the old folder was served";
}

TEST_F(shared_mailbox, AMessageMovedThroughTheDaemonIsNoLongerServed) {
  auto page = list({});
  const auto uid = by_subject(page).at("Job 4")->uid();
  std::string bytes;
  ASSERT_TRUE(fetch(lease_, uid, &bytes).ok());  // now cached
  pb::MoveMessagesRequest move;
  move.set_lease_id(lease_);
  move.set_folder(folder_);
  move.add_uids(uid);
  dovecot().doveadm("mailbox create -u " + std::string(user) + " " + folder_ + "-moved");
  move.set_target_folder(folder_ + "-moved");
  pb::MoveMessagesResponse moved;
  grpc::ClientContext context;
  ASSERT_TRUE(mailbox_->MoveMessages(&context, move, &moved).ok());
  auto st = fetch(lease_, uid, &bytes);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
}

TEST_F(shared_mailbox, ConcurrentBotsEachGetTheirOwnMessagesBytes) {
  // More messages than one batch holds, read by several bots at once, each a
  // different order: every answer must carry the bytes of the uid asked for.
  dovecot().deliver_many(user, folder_ + "-many", 60);
  pb::ListMessagesRequest request;
  request.set_folder(folder_ + "-many");
  request.set_limit(100);
  auto page = list(request);
  ASSERT_EQ(page.messages_size(), 60);
  std::map<std::uint32_t, std::string> subject_of;
  for (const auto& m : page.messages()) subject_of[m.uid()] = m.subject();

  constexpr int bots = 6;
  std::vector<std::string> leases;
  for (int b = 0; b < bots; ++b) leases.push_back(connect_lease());
  std::vector<std::string> failures(bots);
  std::vector<std::thread> threads;
  for (int b = 0; b < bots; ++b) {
    threads.emplace_back([&, b] {
      std::vector<std::uint32_t> uids;
      for (const auto& [uid, s] : subject_of) uids.push_back(uid);
      std::shuffle(uids.begin(), uids.end(), std::mt19937(static_cast<unsigned>(b)));
      for (auto uid : uids) {
        std::string bytes;
        auto st = fetch(leases[static_cast<std::size_t>(b)], uid, &bytes, folder_ + "-many");
        const std::string want = "Subject: " + subject_of[uid] + "\r\n";
        if (!st.ok() || bytes.find(want) == std::string::npos) {
          failures[static_cast<std::size_t>(b)] = "uid " + std::to_string(uid) + ": " + st.error_message();
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& f : failures) EXPECT_TRUE(f.empty()) << f;
  EXPECT_EQ(dovecot().who(user), 1) << "all bots on the session's one connection";
}

TEST_F(shared_mailbox, ConcurrentIdenticalListsAllGetTheWholeCurrentPage) {
  // Bots asking the same question at once may share one listing; each must still get
  // the complete answer, and a listing that started before a change is never reused by
  // a call made after it.
  constexpr int bots = 12;
  std::vector<std::string> leases;
  for (int b = 0; b < bots; ++b) leases.push_back(connect_lease());
  std::vector<pb::ListMessagesResponse> pages(bots);
  std::vector<grpc::Status> statuses(bots);
  std::vector<std::thread> threads;
  for (int b = 0; b < bots; ++b) {
    threads.emplace_back([&, b] {
      pb::ListMessagesRequest request;
      request.set_lease_id(leases[static_cast<std::size_t>(b)]);
      request.set_folder(folder_);
      request.set_order(pb::LIST_ORDER_NEWEST_FIRST);
      grpc::ClientContext context;
      statuses[static_cast<std::size_t>(b)] =
          mailbox_->ListMessages(&context, request, &pages[static_cast<std::size_t>(b)]);
    });
  }
  for (auto& t : threads) t.join();
  for (int b = 0; b < bots; ++b) {
    ASSERT_TRUE(statuses[static_cast<std::size_t>(b)].ok()) << statuses[static_cast<std::size_t>(b)].error_message();
    ASSERT_EQ(pages[static_cast<std::size_t>(b)].messages_size(), 5);
    EXPECT_EQ(pages[static_cast<std::size_t>(b)].messages(0).subject(), "Job 5");
    EXPECT_EQ(pages[static_cast<std::size_t>(b)].messages(4).subject(), "Job 1");
  }
  const std::string file = socket_dir_ + "/after.eml";
  std::ofstream(file, std::ios::binary) << crlf("From: late@example.org\nSubject: After the burst\n\nNew.\n");
  dovecot().deliver(user, file, folder_);
  pb::ListMessagesRequest again;
  again.set_order(pb::LIST_ORDER_NEWEST_FIRST);
  auto after = list(again);
  ASSERT_EQ(after.messages_size(), 6) << "a call made after the burst is answered afresh";
  EXPECT_EQ(after.messages(0).subject(), "After the burst");
}

// Identical listings made while one runs share the next one: however many bots ask
// during a listing (here 8, on a link where every chunk from the server is 600 ms late),
// the server sees two listings, not one per bot one after another.
TEST_F(shared_mailbox, IdenticalListingsMadeWhileOneRunsShareTheNextOne) {
  tcp_relay relay(dovecot().imaps_port());
  auto request = imaps_request("burst-slow", user);
  request.mutable_spec()->mutable_server()->set_port(relay.port());
  constexpr int bots = 9;
  std::vector<std::string> leases;
  for (int b = 0; b < bots; ++b) {
    pb::ConnectResponse connected;
    ASSERT_TRUE(client_->connect(request, &connected).ok());
    leases.push_back(connected.lease_id());
  }
  lease_ = leases[0];
  const auto sent = [&] { return status_of("burst-slow").counters().commands_sent(); };
  const auto logged_in = sent();  // counted before Connect answered
  list({});  // SELECT + SEARCH + FETCH; summaries cached: an unchanged listing is SELECT + SEARCH
  const auto before = logged_in + 3;
  std::uint64_t now = 0;
  ASSERT_TRUE(eventually([&] { return (now = sent()) == before; }, std::chrono::seconds(5)))
      << "the first listing sent " << now - logged_in << " commands";

  relay.set_server_delay(std::chrono::milliseconds(600));
  std::vector<grpc::Status> statuses(bots);
  std::vector<int> sizes(bots, -1);
  const auto ask = [&](int b) {
    pb::ListMessagesRequest r;
    r.set_lease_id(leases[static_cast<std::size_t>(b)]);
    r.set_folder(folder_);
    pb::ListMessagesResponse page;
    grpc::ClientContext context;
    statuses[static_cast<std::size_t>(b)] = mailbox_->ListMessages(&context, r, &page);
    sizes[static_cast<std::size_t>(b)] = page.messages_size();
  };
  std::vector<std::thread> threads;
  threads.emplace_back(ask, 0);
  // Bot 0's listing is on the wire; the others have ~450 ms to make their calls.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  for (int b = 1; b < bots; ++b) threads.emplace_back(ask, b);
  for (auto& t : threads) t.join();
  relay.set_server_delay(std::chrono::milliseconds(0));
  for (int b = 0; b < bots; ++b) {
    EXPECT_TRUE(statuses[static_cast<std::size_t>(b)].ok()) << statuses[static_cast<std::size_t>(b)].error_message();
    EXPECT_EQ(sizes[static_cast<std::size_t>(b)], 5) << "bot " << b;
  }
  EXPECT_TRUE(eventually([&] { return (now = sent()) >= before + 4; }, std::chrono::seconds(5)));
  // Not a wait for a condition but for the absence of one: a third listing's commands
  // would be counted a moment after the replies (counters trail a call).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(sent() - before, 4u) << "SELECT + SEARCH of bot 0's listing and of the one the other 8 shared";
}

}  // namespace
}  // namespace mailbroker::testing
