// Mailbox calls on an EWS session through the daemon, against the fake EWS server (issue
// 11): folders by path, listings (order, paging, filters, refs), raw MIME and parts, flags,
// move / copy / delete, sending through Exchange, claims and watches on item ids, and the
// characters XML 1.0 forbids. Effects are checked in the fake's mailbox dump, not only in
// the daemon's answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "support/ews_session_fixture.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

class ews_mailbox : public ews_fixture {
 protected:
  // Connects alice's session (NTLM, Exchange2013_SP1) and keeps its lease in lease_.
  void connect_alice(const std::string& version = {}, std::uint32_t poll_interval = 0) {
    auto request = ews_request("ews-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    if (!version.empty()) request.mutable_spec()->mutable_ews()->set_version(version);
    if (poll_interval) request.mutable_spec()->set_poll_interval_seconds(poll_interval);
    lease_ = connect(request);
    ASSERT_FALSE(lease_.empty());
  }

  std::vector<std::string> subjects(const pb::ListMessagesResponse& page) {
    std::vector<std::string> out;
    for (const auto& m : page.messages()) out.push_back(m.subject());
    return out;
  }

  grpc::Status list_folders(const std::string& pattern, const std::string& regex, std::set<std::string>* names) {
    pb::ListFoldersRequest request;
    request.set_lease_id(lease_);
    request.set_pattern(pattern);
    request.set_regex(regex);
    grpc::ClientContext context;
    pb::ListFoldersResponse response;
    auto st = mailbox_->ListFolders(&context, request, &response);
    for (const auto& f : response.folders()) {
      names->insert(f.name());
      EXPECT_EQ(f.delimiter(), "/");
    }
    return st;
  }

  grpc::Status move_or_copy(bool move, const std::vector<pb::MessageRef>& refs, const std::string& target,
                            pb::MoveMessagesResponse* response) {
    pb::MoveMessagesRequest request;
    request.set_lease_id(lease_);
    request.set_folder("INBOX");
    for (const auto& r : refs) *request.add_refs() = r;
    request.set_target_folder(target);
    grpc::ClientContext context;
    return move ? mailbox_->MoveMessages(&context, request, response)
                : mailbox_->CopyMessages(&context, request, response);
  }

  grpc::Status remove(const std::vector<pb::MessageRef>& refs, bool permanent) {
    pb::DeleteMessagesRequest request;
    request.set_lease_id(lease_);
    request.set_folder("INBOX");
    for (const auto& r : refs) *request.add_refs() = r;
    request.set_permanent(permanent);
    grpc::ClientContext context;
    pb::DeleteMessagesResponse response;
    return mailbox_->DeleteMessages(&context, request, &response);
  }

  // Items anywhere in `user`'s mailbox whose subject is `subject`, each with its folder's path.
  std::vector<nlohmann::json> with_subject(const std::string& user, const std::string& subject) {
    std::vector<nlohmann::json> out;
    const auto dump = mailbox_dump(user);  // a range-for over a temporary's member dangles
    for (const auto& f : dump.at("folders")) {
      for (const auto& i : f.at("items")) {
        if (i.at("subject") == subject) {
          auto copy = i;
          copy["folder_path"] = f.at("path");
          copy["folder_distinguished"] = f.at("distinguished");
          out.push_back(copy);
        }
      }
    }
    return out;
  }

  std::string lease_;
};

TEST_F(ews_mailbox, EwsListFoldersByPathWithPatternAndRegex) {
  deliver("in-sub", "INBOX/Sub");
  deliver("in-deeper", "INBOX/Sub/Deeper");
  deliver("archived", "Archive");
  connect_alice();

  std::set<std::string> all;
  ASSERT_TRUE(list_folders("", "", &all).ok());
  for (const char* expected : {"INBOX", "INBOX/Sub", "INBOX/Sub/Deeper", "Archive", "Sent Items", "Deleted Items"}) {
    EXPECT_TRUE(all.count(expected)) << expected;
  }
  EXPECT_FALSE(all.count("Calendar")) << "mail folders only";
  EXPECT_FALSE(all.count("Contacts")) << "mail folders only";

  std::set<std::string> under_inbox;
  ASSERT_TRUE(list_folders("INBOX/*", "", &under_inbox).ok());
  EXPECT_EQ(under_inbox, (std::set<std::string>{"INBOX/Sub", "INBOX/Sub/Deeper"}));
  std::set<std::string> one_level;
  ASSERT_TRUE(list_folders("INBOX/%", "", &one_level).ok());
  EXPECT_EQ(one_level, (std::set<std::string>{"INBOX/Sub"}));
  std::set<std::string> by_regex;
  ASSERT_TRUE(list_folders("*", "^Arch", &by_regex).ok());
  EXPECT_EQ(by_regex, (std::set<std::string>{"Archive"}));
  std::set<std::string> ignored;
  auto st = list_folders("*", "(", &ignored);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("regex"), std::string::npos) << st.error_message();

  // Folders by path in the other calls; "inbox/sub" in any case for INBOX.
  EXPECT_EQ(subjects(list(lease_, "INBOX/Sub")), std::vector<std::string>{"in-sub"});
  EXPECT_EQ(subjects(list(lease_, "inbox/Sub/Deeper")), std::vector<std::string>{"in-deeper"});
  EXPECT_EQ(subjects(list(lease_, "Archive")), std::vector<std::string>{"archived"});
  // A folder made after the tree was read is found.
  deliver("later", "Later");
  EXPECT_EQ(subjects(list(lease_, "Later")), std::vector<std::string>{"later"});
  list(lease_, "No such folder", &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("No such folder"), std::string::npos) << st.error_message();
}

TEST_F(ews_mailbox, EwsListMessagesOrderPagingFiltersAndRefs) {
  constexpr int n = 7;
  std::vector<std::string> expected, ids;
  for (int i = 0; i < n; ++i) {
    expected.push_back("msg-" + std::to_string(i));
    ids.push_back(deliver(expected.back()));
  }
  deliver("elsewhere", "Archive");
  connect_alice();

  pb::ListMessagesRequest oldest;
  oldest.set_folder("INBOX");
  auto page = list(lease_, oldest);
  EXPECT_EQ(subjects(page), expected);
  EXPECT_EQ(page.total_matching(), static_cast<unsigned>(n));
  EXPECT_TRUE(page.next_page_token().empty());
  for (int i = 0; i < page.messages_size(); ++i) {
    const auto& m = page.messages(i);
    EXPECT_EQ(m.uid(), 0u);
    EXPECT_EQ(m.ref().uid(), 0u);
    EXPECT_EQ(m.ref().item_id(), ids[i]) << "the id the server gave the delivered item";
    EXPECT_FALSE(m.ref().change_key().empty());
    EXPECT_FALSE(m.seen());
    ASSERT_EQ(m.from_size(), 1);
    EXPECT_EQ(m.from(0).address(), "bob@testlab.test");
    EXPECT_GT(m.size(), 0u);
  }

  pb::ListMessagesRequest newest = oldest;
  newest.set_order(pb::LIST_ORDER_NEWEST_FIRST);
  auto reversed = expected;
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(subjects(list(lease_, newest)), reversed);

  // Pages of 3 in both orders: every message exactly once, in order, then no token.
  for (auto* request : {&oldest, &newest}) {
    request->set_limit(3);
    std::vector<std::string> seen;
    int pages = 0;
    for (;;) {
      auto p = list(lease_, *request);
      ++pages;
      EXPECT_LE(p.messages_size(), 3);
      for (const auto& m : p.messages()) seen.push_back(m.subject());
      if (p.next_page_token().empty() || pages > n) break;
      request->set_page_token(p.next_page_token());
    }
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen, request == &oldest ? expected : reversed);
  }

  // Read / unread.
  std::vector<pb::MessageRef> read_refs{item(ids[1]), item(ids[4])};
  ASSERT_TRUE(set_flags(lease_, read_refs, true, std::nullopt).ok());
  pb::ListMessagesRequest unread;
  unread.set_read(pb::READ_FILTER_UNREAD);
  EXPECT_EQ(subjects(list(lease_, unread)),
            (std::vector<std::string>{"msg-0", "msg-2", "msg-3", "msg-5", "msg-6"}));
  pb::ListMessagesRequest read;
  read.set_read(pb::READ_FILTER_READ);
  page = list(lease_, read);
  EXPECT_EQ(subjects(page), (std::vector<std::string>{"msg-1", "msg-4"}));
  for (const auto& m : page.messages()) EXPECT_TRUE(m.seen());

  pb::ListMessagesRequest by_subject;
  by_subject.set_subject_contains("MSG-3");
  EXPECT_EQ(subjects(list(lease_, by_subject)), std::vector<std::string>{"msg-3"});
  pb::ListMessagesRequest by_from;
  by_from.set_from_contains("BOB@testlab");  // the address: the display name is "Bob Sender"
  EXPECT_EQ(list(lease_, by_from).total_matching(), static_cast<unsigned>(n));
  by_from.set_from_contains("nobody-at-all");
  EXPECT_EQ(list(lease_, by_from).messages_size(), 0);

  grpc::Status st;
  pb::ListMessagesRequest bad_token;
  bad_token.set_page_token("not-a-token");
  list(lease_, bad_token, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("page_token"), std::string::npos) << st.error_message();
}

TEST_F(ews_mailbox, EwsGetMessageReturnsTheDeliveredBytesAndPartsParse) {
  const std::string original = crlf(
      "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@testlab.test>\nTo: alice@testlab.test\nSubject: Report with attachment\n"
      "Date: Thu, 26 Nov 2026 11:00:00 +0000\nMessage-ID: <parts@testlab.test>\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain; charset=utf-8\n"
      "Content-Transfer-Encoding: 8bit\n\nSee attached, Gr\xc3\xbc\xc3\x9f" "e.\n--b1\n"
      "Content-Type: application/pdf; name=report.pdf\nContent-Disposition: attachment; filename=report.pdf\n"
      "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iago=\n--b1--\n");
  const auto id = deliver_bytes(original);
  connect_alice();
  const auto summary = summary_of(lease_, "Report with attachment");
  ASSERT_EQ(summary.ref().item_id(), id);
  EXPECT_TRUE(summary.has_attachments());

  std::string raw;
  auto st = fetch(lease_, summary.ref(), &raw);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(raw, original) << "MimeContent is the delivered message, byte for byte";

  pb::GetMessageRequest request;
  request.set_lease_id(lease_);
  *request.mutable_ref() = summary.ref();
  grpc::ClientContext context;
  pb::MessageParts parts;
  st = mailbox_->GetMessageParts(&context, request, &parts);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(parts.summary().subject(), "Report with attachment");
  ASSERT_EQ(parts.summary().from_size(), 1);
  EXPECT_EQ(parts.summary().from(0).name(), "Jörg");
  EXPECT_EQ(parts.summary().ref().item_id(), id);
  EXPECT_NE(parts.text_body().find("Grüße"), std::string::npos) << parts.text_body();
  ASSERT_EQ(parts.attachments_size(), 1);
  EXPECT_EQ(parts.attachments(0).filename(), "report.pdf");
  EXPECT_EQ(parts.attachments(0).content_type(), "application/pdf");

  // Reading did not mark it read (GetMessage "does not set \Seen").
  EXPECT_FALSE(find_item("alice", id).at("is_read").get<bool>());
}

TEST_F(ews_mailbox, EwsSetFlagsReadAndFollowUpFlagByVersion) {
  const auto a = deliver("flag-a");
  const auto b = deliver("flag-b");
  connect_alice();
  std::vector<pb::MessageRef> both{item(a), item(b)};
  ASSERT_TRUE(set_flags(lease_, both, true, std::nullopt).ok());
  EXPECT_TRUE(find_item("alice", a).at("is_read").get<bool>());
  EXPECT_TRUE(find_item("alice", b).at("is_read").get<bool>());
  std::vector<pb::MessageRef> just_b{item(b)};
  ASSERT_TRUE(set_flags(lease_, just_b, false, std::nullopt).ok());
  EXPECT_FALSE(find_item("alice", b).at("is_read").get<bool>());
  EXPECT_TRUE(find_item("alice", a).at("is_read").get<bool>());

  // The follow-up flag: Exchange2013 and later.
  const auto key_before = find_item("alice", a).at("change_key").get<std::string>();
  std::vector<pb::MessageRef> just_a{item(a)};
  auto st = set_flags(lease_, just_a, std::nullopt, true);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(find_item("alice", a).at("flag"), "Flagged");
  EXPECT_NE(find_item("alice", a).at("change_key").get<std::string>(), key_before) << "a change makes a new key";
  const auto listed = summary_of(lease_, "flag-a");
  EXPECT_TRUE(listed.seen());
  EXPECT_EQ(listed.ref().change_key(), find_item("alice", a).at("change_key").get<std::string>());

  // A session that speaks Exchange2010 cannot set it: refused before anything is sent.
  const auto old_lease = connect([&] {
    auto r = ews_request("ews-2010");
    r.mutable_spec()->mutable_ews()->set_version("Exchange2010");
    return r;
  }());
  ASSERT_FALSE(old_lease.empty());
  std::vector<pb::MessageRef> just_b2{item(b)};
  st = set_flags(old_lease, just_b2, std::nullopt, true);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_NE(st.error_message().find("Exchange2010"), std::string::npos) << st.error_message();
  EXPECT_EQ(find_item("alice", b).at("flag"), "NotFlagged");
  // IsRead works there.
  st = set_flags(old_lease, just_b2, true, std::nullopt);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(find_item("alice", b).at("is_read").get<bool>());

  // An unknown item is NOT_FOUND naming it.
  std::vector<pb::MessageRef> gone{item(a)};
  ASSERT_TRUE(remove(gone, true).ok());
  st = set_flags(lease_, gone, true, std::nullopt);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
}

TEST_F(ews_mailbox, EwsMoveCopyAndDelete) {
  const auto to_move = deliver("to-move");
  const auto to_copy = deliver("to-copy");
  const auto to_trash = deliver("to-trash");
  const auto to_purge = deliver("to-purge");
  deliver("placeholder", "Archive");
  connect_alice();

  pb::MoveMessagesResponse moved;
  auto st = move_or_copy(true, {item(to_move)}, "Archive", &moved);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(moved.target_refs_size(), 1);
  const auto new_id = moved.target_refs(0).item_id();
  EXPECT_FALSE(new_id.empty());
  EXPECT_NE(new_id, to_move) << "Exchange ids change on move";
  EXPECT_TRUE(find_item("alice", to_move).is_null());
  const auto there = find_item("alice", new_id);
  ASSERT_FALSE(there.is_null());
  EXPECT_EQ(there.at("folder_path"), "Archive");
  EXPECT_EQ(there.at("subject"), "to-move");
  std::string raw;
  st = fetch(lease_, item(to_move), &raw);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  raw.clear();
  st = fetch(lease_, moved.target_refs(0), &raw, "Archive");
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_NE(raw.find("Subject: to-move"), std::string::npos);
  // Oldest received first: a move keeps DateTimeReceived (to-move arrived before the placeholder).
  EXPECT_EQ(subjects(list(lease_, "Archive")), (std::vector<std::string>{"to-move", "placeholder"}));

  pb::MoveMessagesResponse copied;
  st = move_or_copy(false, {item(to_copy)}, "Archive", &copied);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(copied.target_refs_size(), 1);
  EXPECT_NE(copied.target_refs(0).item_id(), to_copy);
  EXPECT_EQ(find_item("alice", to_copy).at("folder_distinguished"), "inbox") << "the original stays";
  EXPECT_EQ(find_item("alice", copied.target_refs(0).item_id()).at("folder_path"), "Archive");

  pb::MoveMessagesResponse nowhere;
  st = move_or_copy(true, {item(to_trash)}, "No such folder", &nowhere);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("target_folder"), std::string::npos) << st.error_message();

  // Delete: to Deleted Items by default, gone for good with permanent.
  ASSERT_TRUE(remove({item(to_trash)}, false).ok());
  auto trashed = with_subject("alice", "to-trash");
  ASSERT_EQ(trashed.size(), 1u);
  EXPECT_EQ(trashed[0].at("folder_distinguished"), "deleteditems");
  ASSERT_TRUE(remove({item(to_purge)}, true).ok());
  EXPECT_TRUE(with_subject("alice", "to-purge").empty()) << "HardDelete leaves nothing (not even Deleted Items)";
  EXPECT_EQ(subjects(list(lease_)), std::vector<std::string>{"to-copy"});
  // Deleting again: NOT_FOUND naming the item.
  st = remove({item(to_purge)}, true);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find(to_purge), std::string::npos) << st.error_message();
}

TEST_F(ews_mailbox, EwsSendReplyAndForwardThroughExchange) {
  const auto original = deliver_bytes(
      message("Question about the invoice", "Can you confirm?", "Bob <bob@testlab.test>", "alice@testlab.test",
              "<question-1@testlab.test>"));
  connect_alice();

  pb::SendMessageRequest send;
  send.set_lease_id(lease_);
  // Given explicitly: the daemon's default (the session's user name) is "alice" here, a
  // Windows account name, not an address (see the report: EWS could leave From to Exchange).
  send.mutable_from()->set_address(ews().address("alice"));
  auto* to = send.add_to();
  to->set_address(ews().address("bob"));
  to->set_name("Bob");
  send.set_subject("Hello Bob from EWS");
  send.set_text_body("Sent through CreateItem.");
  grpc::ClientContext context;
  pb::SendMessageResponse sent;
  auto st = mailbox_->SendMessage(&context, send, &sent);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(sent.message_id().empty());
  const auto at_bob = with_subject("bob", "Hello Bob from EWS");
  ASSERT_EQ(at_bob.size(), 1u) << "delivered to the recipient";
  EXPECT_EQ(at_bob[0].at("folder_distinguished"), "inbox");
  EXPECT_EQ(at_bob[0].at("message_id"), sent.message_id());
  const auto copy = with_subject("alice", "Hello Bob from EWS");
  ASSERT_EQ(copy.size(), 1u) << "a copy in Sent Items";
  EXPECT_EQ(copy[0].at("folder_distinguished"), "sentitems");
  EXPECT_NE(ews().sent().find("Hello Bob from EWS"), std::string::npos);

  const auto conversation = find_item("alice", original).at("conversation_id").get<std::string>();
  auto in_conversation = [&](const std::string& user, const std::string& folder) {
    int n = 0;
    for (const auto& i : items_in(user, folder)) {
      if (i.at("conversation_id") == conversation) ++n;
    }
    return n;
  };

  pb::ReplyToMessageRequest reply;
  reply.set_lease_id(lease_);
  reply.set_folder("INBOX");
  *reply.mutable_ref() = item(original);
  reply.set_text_body("Confirmed.");
  grpc::ClientContext context2;
  pb::SendMessageResponse replied;
  st = mailbox_->ReplyToMessage(&context2, reply, &replied);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(in_conversation("alice", "sentitems"), 1) << "the reply is in the original's conversation";
  EXPECT_EQ(items_in("bob", "inbox").size(), 2u) << "bob got the reply";

  pb::ForwardMessageRequest forward;
  forward.set_lease_id(lease_);
  forward.set_folder("INBOX");
  *forward.mutable_ref() = item(original);
  forward.add_to()->set_address(ews().address("carol"));
  forward.set_text_body("FYI");
  grpc::ClientContext context3;
  pb::SendMessageResponse forwarded;
  st = mailbox_->ForwardMessage(&context3, forward, &forwarded);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(in_conversation("alice", "sentitems"), 2) << "the forward too";
  EXPECT_EQ(items_in("carol", "inbox").size(), 1u) << "carol got the forward";
  EXPECT_EQ(ews().counters().at("auth_failures"), 0);
}

TEST_F(ews_mailbox, EwsClaimsOnItemIdsNeverGiveOneItemToTwoLeases) {
  std::set<std::string> all;
  for (int i = 0; i < 6; ++i) all.insert(deliver("job-" + std::to_string(i)));
  deliver("placeholder", "Done");
  connect_alice();
  const auto a = lease_;
  const auto b = connect(ews_request("ews-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())));
  ASSERT_FALSE(b.empty());
  ASSERT_NE(a, b);

  auto claim = [&](const std::string& lease, std::uint32_t max) {
    pb::ClaimMessagesRequest request;
    request.set_lease_id(lease);
    request.set_folder("INBOX");
    request.set_read(pb::READ_FILTER_UNREAD);
    request.set_max(max);
    grpc::ClientContext context;
    pb::ClaimMessagesResponse response;
    auto st = mailbox_->ClaimMessages(&context, request, &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<pb::MessageRef> out;
    for (const auto& m : response.messages()) {
      EXPECT_FALSE(m.summary().ref().item_id().empty());
      out.push_back(m.summary().ref());
    }
    return out;
  };
  auto ack = [&](const std::string& lease, const pb::MessageRef& ref, pb::AckAction action,
                 const std::string& target = {}) {
    pb::AckMessageRequest request;
    request.set_lease_id(lease);
    request.set_folder("INBOX");
    *request.mutable_ref() = ref;
    request.set_action(action);
    request.set_target_folder(target);
    grpc::ClientContext context;
    pb::AckMessageResponse response;
    return mailbox_->AckMessage(&context, request, &response);
  };

  const auto by_a = claim(a, 4);
  const auto by_b = claim(b, 4);
  ASSERT_EQ(by_a.size(), 4u);
  ASSERT_EQ(by_b.size(), 2u);
  std::set<std::string> claimed;
  for (const auto& r : by_a) claimed.insert(r.item_id());
  for (const auto& r : by_b) EXPECT_TRUE(claimed.insert(r.item_id()).second) << "claimed twice: " << r.item_id();
  EXPECT_EQ(claimed, all);
  EXPECT_TRUE(claim(a, 4).empty()) << "everything is held";

  // B cannot ack what A holds.
  auto st = ack(b, by_a[0], pb::ACK_ACTION_MARK_READ);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_FALSE(find_item("alice", by_a[0].item_id()).at("is_read").get<bool>());

  st = ack(a, by_a[0], pb::ACK_ACTION_MARK_READ);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(find_item("alice", by_a[0].item_id()).at("is_read").get<bool>());
  st = ack(a, by_a[1], pb::ACK_ACTION_MOVE, "Done");
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(find_item("alice", by_a[1].item_id()).is_null());
  EXPECT_EQ(items_in("alice", "Done").size(), 2u);

  pb::ReleaseMessagesRequest release;
  release.set_lease_id(a);
  release.set_folder("INBOX");
  *release.add_refs() = by_a[2];
  *release.add_refs() = by_a[3];
  *release.add_refs() = by_b[0];  // not A's: ignored
  grpc::ClientContext context;
  pb::ReleaseMessagesResponse released;
  st = mailbox_->ReleaseMessages(&context, release, &released);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(released.released(), 2u);

  // B gets exactly the released ones: not the acked, not its own.
  const auto again = claim(b, 10);
  std::set<std::string> got;
  for (const auto& r : again) got.insert(r.item_id());
  EXPECT_EQ(got, (std::set<std::string>{by_a[2].item_id(), by_a[3].item_id()}));
}

TEST_F(ews_mailbox, EwsWatchReportsEachArrivalOnceAcrossADroppedConnection) {
  deliver("already-there");
  connect_alice({}, 1);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
  pb::WatchMessagesRequest request;
  request.set_lease_id(lease_);
  request.set_folder("INBOX");
  auto reader = mailbox_->WatchMessages(&context, request);
  pb::MessageEvent ev;
  ASSERT_TRUE(reader->Read(&ev));
  EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_WATCHING);
  EXPECT_EQ(ev.mode(), "EWS_STREAMING");  // Exchange2013_SP1: the stream wakes, the pull subscription reports

  const auto first = deliver("arrival-1");
  ASSERT_TRUE(reader->Read(&ev));
  EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_NEW_MESSAGE);
  EXPECT_EQ(ev.message().subject(), "arrival-1");
  EXPECT_EQ(ev.message().ref().item_id(), first);

  // The connection is dropped under the watch; what arrives meanwhile is reported once.
  const auto connections = ews().counters().at("tcp_connections");
  ews().inject("drop");
  const auto second = deliver("arrival-2");
  ASSERT_TRUE(reader->Read(&ev));
  EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_NEW_MESSAGE);
  EXPECT_EQ(ev.message().subject(), "arrival-2");
  EXPECT_EQ(ev.message().ref().item_id(), second);
  const auto third = deliver("arrival-3");
  ASSERT_TRUE(reader->Read(&ev));
  EXPECT_EQ(ev.message().subject(), "arrival-3") << "arrival-2 was not reported twice";
  EXPECT_EQ(ev.message().ref().item_id(), third);
  EXPECT_GT(ews().counters().at("tcp_connections"), connections) << "the drop happened and was recovered from";
  bool dropped = false;
  for (const auto& r : nlohmann::json::parse(ews().requests())) {
    if (r.value("injected", nlohmann::json()) == "drop") dropped = true;
  }
  EXPECT_TRUE(dropped);
  context.TryCancel();
  reader->Finish();
}

// Subjects with the characters XML 1.0 forbids, as far as a MIME subject carries them: the
// fake writes each as a numeric character reference, as Exchange does. The listing must
// succeed, each such character becoming U+FFFD; the raw message keeps the original bytes.
TEST_F(ews_mailbox, EwsSubjectsWithCharactersXmlForbidsBecomeReplacementCharacters) {
  const std::string fffd = "\xEF\xBF\xBD";
  struct forbidden {
    std::string name;
    std::string subject_header;  // as planted
    int replaced;                // characters that become U+FFFD between "a" and "z"
  };
  const std::vector<forbidden> cases = {
      {"nul", "=?UTF-8?Q?a=00z?=", 1},
      {"c0-low", "=?UTF-8?Q?a=01=02=03=04=05=06=07=08z?=", 8},
      {"vt-ff", "=?UTF-8?Q?a=0B=0Cz?=", 2},
      {"c0-high", "=?UTF-8?Q?a=0E=0F=10=15=1A=1B=1F?= =?UTF-8?Q?z?=", 7},
      {"raw-c0", "a\x01\x1f" "z", 2},
      {"surrogates", "=?UTF-8?Q?a=ED=A0=80=ED=BF=BFz?=", 2},
      {"fdd0-fdef", "=?UTF-8?Q?a=EF=B7=90=EF=B7=A0=EF=B7=AFz?=", 3},
      {"fffe-ffff", "=?UTF-8?Q?a=EF=BF=BE=EF=BF=BFz?=", 2},
      {"plane-nfffe", "=?UTF-8?Q?a=F0=9F=BF=BE=F4=8F=BF=BFz?=", 2},
  };
  std::map<std::string, std::string> planted;  // item id -> bytes
  std::map<std::string, std::string> expected;  // item id -> summary subject
  for (const auto& c : cases) {
    const std::string bytes = "From: bob@testlab.test\r\nTo: alice@testlab.test\r\nSubject: " + c.name + " " +
                              c.subject_header + "\r\nMessage-ID: <" + c.name +
                              "@testlab.test>\r\nDate: Thu, 26 Nov 2026 09:00:00 +0000\r\n\r\nBody of " + c.name +
                              "\r\n";
    const auto id = deliver_bytes(bytes);
    planted[id] = bytes;
    std::string subject = c.name + " a";
    for (int i = 0; i < c.replaced; ++i) subject += fffd;
    expected[id] = subject + "z";
  }
  connect_alice();
  grpc::Status st;
  pb::ListMessagesRequest request;
  request.set_limit(100);
  const auto page = list(lease_, request, &st);
  ASSERT_TRUE(st.ok()) << "one odd subject must not fail the listing: " << st.error_message();
  ASSERT_EQ(page.messages_size(), static_cast<int>(cases.size()));
  for (const auto& m : page.messages()) {
    const auto& id = m.ref().item_id();
    ASSERT_TRUE(expected.count(id)) << id;
    EXPECT_EQ(m.subject(), expected[id]);
    std::string raw;
    st = fetch(lease_, m.ref(), &raw);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(raw, planted[id]) << "GetMessage keeps the original bytes";
  }
}

}  // namespace
}  // namespace mailbroker::testing
