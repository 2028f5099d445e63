// Mailbox calls on a Graph session through the daemon, against the fake Microsoft Graph
// (issue 12): folders by path, listings (order, paging by page_token, filters, To / Cc),
// raw MIME and parts, flags (one by one and in $batch requests of 20), move / copy (new
// ids), delete (to Deleted Items or permanent), sendMail / reply / forward, and claims on
// item ids. Effects are checked in the fake's mailbox dump and request log, not only in
// the daemon's answers. Mirrors ews_mailbox_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "support/graph_session_fixture.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class graph_mailbox : public graph_fixture {
 protected:
  // Connects alice's app-only session and keeps its lease in lease_.
  void connect_alice() {
    lease_ = connect(app_request("graph-" + test_name()));
    ASSERT_FALSE(lease_.empty());
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
      EXPECT_TRUE(names->insert(f.name()).second) << "listed twice: " << f.name();
      EXPECT_EQ(f.delimiter(), "/");
    }
    return st;
  }

  grpc::Status move_or_copy(bool move, const std::vector<pb::MessageRef>& refs, const std::string& target,
                            pb::MoveMessagesResponse* response, const std::string& folder = "INBOX") {
    pb::MoveMessagesRequest request;
    request.set_lease_id(lease_);
    request.set_folder(folder);
    for (const auto& r : refs) *request.add_refs() = r;
    request.set_target_folder(target);
    grpc::ClientContext context;
    return move ? mailbox_->MoveMessages(&context, request, response)
                : mailbox_->CopyMessages(&context, request, response);
  }

  grpc::Status remove(const std::vector<pb::MessageRef>& refs, bool permanent, const std::string& folder = "INBOX") {
    pb::DeleteMessagesRequest request;
    request.set_lease_id(lease_);
    request.set_folder(folder);
    for (const auto& r : refs) *request.add_refs() = r;
    request.set_permanent(permanent);
    grpc::ClientContext context;
    pb::DeleteMessagesResponse response;
    return mailbox_->DeleteMessages(&context, request, &response);
  }

  std::string lease_;
};

TEST_F(graph_mailbox, ListFoldersByPathWithPatternAndRegex) {
  deliver("in-sub", "INBOX/Sub");
  deliver("in-deeper", "INBOX/Sub/Deeper");
  deliver("archived", "Archive");
  deliver("project", "Projects");
  connect_alice();

  std::set<std::string> all;
  auto st = list_folders("", "", &all);
  ASSERT_TRUE(st.ok()) << st.error_message();
  for (const char* expected : {"INBOX", "INBOX/Sub", "INBOX/Sub/Deeper", "Archive", "Sent Items", "Deleted Items",
                               "Drafts", "Junk Email", "Projects"}) {
    EXPECT_TRUE(all.count(expected)) << expected;
  }
  EXPECT_FALSE(all.count("Inbox")) << "the Inbox is INBOX, once";
  EXPECT_FALSE(all.count("Top of Information Store")) << "the root is no folder";

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
  st = list_folders("*", "(", &ignored);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "regex")) << st.error_message();

  // Folders by path in the other calls; "inbox/sub" in any case for INBOX.
  EXPECT_EQ(subjects(list(lease_, "INBOX/Sub")), std::vector<std::string>{"in-sub"});
  EXPECT_EQ(subjects(list(lease_, "inbox/Sub/Deeper")), std::vector<std::string>{"in-deeper"});
  EXPECT_EQ(subjects(list(lease_, "Archive")), std::vector<std::string>{"archived"});
  EXPECT_EQ(subjects(list(lease_, "Projects")), std::vector<std::string>{"project"});
  // A folder made after the tree was read is found.
  deliver("later", "Later");
  EXPECT_EQ(subjects(list(lease_, "Later")), std::vector<std::string>{"later"});
  list(lease_, "No such folder", &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "No such folder")) << st.error_message();
}

TEST_F(graph_mailbox, ListMessagesOrderPagingFiltersAndRefs) {
  constexpr int n = 7;
  std::vector<std::string> expected, ids;
  for (int i = 0; i < n; ++i) {
    expected.push_back("msg-" + std::to_string(i));
    const std::string from = i % 2 ? "Carol <carol@testlab.test>" : "Bob Sender <bob@testlab.test>";
    ids.push_back(deliver_bytes(message(expected.back(), "Body " + std::to_string(i), from,
                                        "Alice <alice@testlab.test>, dave@testlab.test",
                                        "<list-" + std::to_string(i) + "@testlab.test>", "Erin <erin@testlab.test>")));
  }
  deliver("elsewhere", "Archive");
  connect_alice();

  pb::ListMessagesRequest oldest;
  oldest.set_folder("INBOX");
  auto page = list(lease_, oldest);
  EXPECT_EQ(subjects(page), expected);
  EXPECT_EQ(page.total_matching(), static_cast<unsigned>(n));
  EXPECT_TRUE(page.next_page_token().empty());
  std::set<std::string> unique;
  for (int i = 0; i < page.messages_size(); ++i) {
    const auto& m = page.messages(i);
    EXPECT_EQ(m.uid(), 0u);
    EXPECT_EQ(m.ref().uid(), 0u);
    EXPECT_EQ(m.ref().item_id(), ids[i]) << "the id Graph gave the delivered message";
    EXPECT_FALSE(m.ref().change_key().empty());
    EXPECT_TRUE(unique.insert(m.ref().item_id()).second);
    EXPECT_FALSE(m.seen());
    ASSERT_EQ(m.from_size(), 1);
    EXPECT_EQ(m.from(0).address(), i % 2 ? "carol@testlab.test" : "bob@testlab.test");
    ASSERT_EQ(m.to_size(), 2) << "Graph summaries carry To";
    EXPECT_EQ(m.to(0).address(), "alice@testlab.test");
    EXPECT_EQ(m.to(0).name(), "Alice");
    EXPECT_EQ(m.to(1).address(), "dave@testlab.test");
    ASSERT_EQ(m.cc_size(), 1) << "and Cc";
    EXPECT_EQ(m.cc(0).address(), "erin@testlab.test");
    EXPECT_EQ(m.message_id(), "<list-" + std::to_string(i) + "@testlab.test>") << "internetMessageId";
    EXPECT_TRUE(m.has_internal_date());
    EXPECT_GT(m.internal_date().seconds(), 0);
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
    std::set<std::string> seen_ids;
    int pages = 0;
    for (;;) {
      auto p = list(lease_, *request);
      ++pages;
      EXPECT_LE(p.messages_size(), 3);
      for (const auto& m : p.messages()) {
        seen.push_back(m.subject());
        EXPECT_TRUE(seen_ids.insert(m.ref().item_id()).second) << "listed twice: " << m.subject();
      }
      if (p.next_page_token().empty() || pages > n) break;
      request->set_page_token(p.next_page_token());
    }
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen, request == &oldest ? expected : reversed);
  }

  // Read / unread.
  std::vector<pb::MessageRef> read_refs{item(ids[1]), item(ids[4])};
  auto st = set_flags(lease_, read_refs, true, std::nullopt);
  ASSERT_TRUE(st.ok()) << st.error_message();
  pb::ListMessagesRequest unread;
  unread.set_read(pb::READ_FILTER_UNREAD);
  EXPECT_EQ(subjects(list(lease_, unread)), (std::vector<std::string>{"msg-0", "msg-2", "msg-3", "msg-5", "msg-6"}));
  pb::ListMessagesRequest read;
  read.set_read(pb::READ_FILTER_READ);
  page = list(lease_, read);
  EXPECT_EQ(subjects(page), (std::vector<std::string>{"msg-1", "msg-4"}));
  for (const auto& m : page.messages()) EXPECT_TRUE(m.seen());

  pb::ListMessagesRequest by_subject;
  by_subject.set_subject_contains("MSG-3");
  EXPECT_EQ(subjects(list(lease_, by_subject)), std::vector<std::string>{"msg-3"});
  // With an '@' the sender's whole address, any case (Graph cannot search inside an
  // address: see protocol/graph/requests.hpp); without one, part of the address or name.
  pb::ListMessagesRequest by_from;
  by_from.set_from_contains("CAROL@testlab.test");
  EXPECT_EQ(subjects(list(lease_, by_from)), (std::vector<std::string>{"msg-1", "msg-3", "msg-5"}));
  by_from.set_from_contains("nobody-at-all");
  EXPECT_EQ(list(lease_, by_from).messages_size(), 0);
  // Filters combine: unread from carol.
  pb::ListMessagesRequest unread_from_carol;
  unread_from_carol.set_read(pb::READ_FILTER_UNREAD);
  unread_from_carol.set_from_contains("carol");
  EXPECT_EQ(subjects(list(lease_, unread_from_carol)), (std::vector<std::string>{"msg-3", "msg-5"}));

  pb::ListMessagesRequest bad_token;
  bad_token.set_page_token("not-a-token");
  list(lease_, bad_token, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "page_token")) << st.error_message();
  EXPECT_EQ(graph().counters().at("unauthorized"), 0);
}

TEST_F(graph_mailbox, SinceAndBeforeFilterByReceivedDay) {
  // 2026-11-20 10:00, 2026-11-22 23:59:59 and 2026-11-23 00:00 UTC.
  const std::time_t day20 = 1795168800, day22_late = 1795391999, day23 = 1795392000;
  ASSERT_EQ(iso_utc(day20), "2026-11-20T10:00:00Z");
  ASSERT_EQ(iso_utc(day22_late), "2026-11-22T23:59:59Z");
  deliver_bytes(message("on-the-20th"), "INBOX", "alice", day20);
  deliver_bytes(message("late-on-the-22nd"), "INBOX", "alice", day22_late);
  deliver_bytes(message("on-the-23rd"), "INBOX", "alice", day23);
  connect_alice();
  auto at_day = [](std::time_t t) {
    google::protobuf::Timestamp ts;
    ts.set_seconds(t);
    return ts;
  };
  pb::ListMessagesRequest since;
  *since.mutable_since() = at_day(day22_late - 3600);  // a time in the 22nd: the day counts
  EXPECT_EQ(subjects(list(lease_, since)), (std::vector<std::string>{"late-on-the-22nd", "on-the-23rd"}));
  pb::ListMessagesRequest before;
  *before.mutable_before() = at_day(day22_late - 3600);
  EXPECT_EQ(subjects(list(lease_, before)), std::vector<std::string>{"on-the-20th"});
  pb::ListMessagesRequest both;
  *both.mutable_since() = at_day(day22_late);
  *both.mutable_before() = at_day(day23);
  EXPECT_EQ(subjects(list(lease_, both)), std::vector<std::string>{"late-on-the-22nd"});
}

TEST_F(graph_mailbox, ListingsAskGraphForSummaryFieldsOnly) {
  for (int i = 0; i < 3; ++i) deliver("select-" + std::to_string(i));
  connect_alice();
  ASSERT_EQ(list(lease_).messages_size(), 3);
  std::vector<nlohmann::json> listings;  // GET .../messages (not a message, not its $value)
  for (const auto& r : recorded("GET", "/messages")) {
    const auto path = path_of(r);
    if (path.size() >= 9 && path.compare(path.size() - 9, 9, "/messages") == 0) listings.push_back(r);
  }
  ASSERT_FALSE(listings.empty()) << graph().requests().dump();
  for (const auto& r : listings) {
    const std::string query = r.at("query");  // decoded: "$select=id,subject,...&$top=..."
    const auto at = query.find("$select=");
    ASSERT_NE(at, std::string::npos) << "$select on the listing: " << query;
    const auto end = query.find('&', at);
    const std::string fields = "," + query.substr(at + 8, end == std::string::npos ? std::string::npos : end - at - 8) + ",";
    for (const char* big : {",body,", ",uniqueBody,", ",internetMessageHeaders,"}) {
      EXPECT_FALSE(contains(fields, big)) << "the summary needs no " << big << ": " << query;
    }
    EXPECT_TRUE(contains(fields, ",subject,")) << query;
  }
}

TEST_F(graph_mailbox, GetMessageReturnsTheDeliveredBytesAndPartsParse) {
  const std::string original = crlf(
      "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@testlab.test>\nTo: alice@testlab.test\nSubject: Report with attachment\n"
      "Date: Thu, 26 Nov 2026 11:00:00 +0000\nMessage-ID: <parts@testlab.test>\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain; charset=utf-8\n"
      "Content-Transfer-Encoding: 8bit\n\nSee attached, Gr\xc3\xbc\xc3\x9f" "e.\n--b1\n"
      "Content-Type: application/pdf; name=report.pdf\nContent-Disposition: attachment; filename=report.pdf\n"
      "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iago=\n--b1--\n");
  const auto id = deliver_bytes(original);
  // LF-only bytes come back as stored (the fake keeps the delivered bytes).
  const std::string lf_only = "From: bob@testlab.test\nTo: alice@testlab.test\nSubject: lf only\n\nbare LF\n";
  const auto lf_id = deliver_bytes(lf_only);
  connect_alice();
  const auto summary = summary_of(lease_, "Report with attachment");
  ASSERT_EQ(summary.ref().item_id(), id);
  EXPECT_TRUE(summary.has_attachments());

  std::string raw;
  auto st = fetch(lease_, summary.ref(), &raw);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(raw, original) << "/$value is the delivered message, byte for byte";
  raw.clear();
  st = fetch(lease_, item(lf_id), &raw);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(raw, lf_only);
  EXPECT_FALSE(recorded("GET", "/$value").empty());

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
  EXPECT_TRUE(contains(parts.text_body(), "Grüße")) << parts.text_body();
  ASSERT_EQ(parts.attachments_size(), 1);
  EXPECT_EQ(parts.attachments(0).filename(), "report.pdf");
  EXPECT_EQ(parts.attachments(0).content_type(), "application/pdf");

  // Reading did not mark it read (GetMessage "does not set \Seen").
  EXPECT_FALSE(find_item("alice", id).at("isRead").get<bool>());
  // An id that does not exist (well-formed, deleted meanwhile) is NOT_FOUND.
  ASSERT_TRUE(remove({item(lf_id)}, true).ok());
  raw.clear();
  st = fetch(lease_, item(lf_id), &raw);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
}

TEST_F(graph_mailbox, SetFlagsReadAndFollowUpFlagShowInTheNextListing) {
  const auto a = deliver("flag-a");
  const auto b = deliver("flag-b");
  connect_alice();
  std::vector<pb::MessageRef> both{item(a), item(b)};
  auto st = set_flags(lease_, both, true, std::nullopt);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(find_item("alice", a).at("isRead").get<bool>());
  EXPECT_TRUE(find_item("alice", b).at("isRead").get<bool>());
  std::vector<pb::MessageRef> just_b{item(b)};
  ASSERT_TRUE(set_flags(lease_, just_b, false, std::nullopt).ok());
  EXPECT_FALSE(find_item("alice", b).at("isRead").get<bool>());
  EXPECT_TRUE(find_item("alice", a).at("isRead").get<bool>());

  // The follow-up flag.
  const auto key_before = summary_of(lease_, "flag-a").ref().change_key();
  std::vector<pb::MessageRef> just_a{item(a)};
  st = set_flags(lease_, just_a, std::nullopt, true);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(find_item("alice", a).at("flag").at("flagStatus"), "flagged");
  EXPECT_TRUE(find_item("alice", a).at("isRead").get<bool>()) << "flagging kept the read state";
  const auto listed = summary_of(lease_, "flag-a");
  EXPECT_TRUE(listed.seen());
  EXPECT_NE(std::find(listed.flags().begin(), listed.flags().end(), "\\Flagged"), listed.flags().end())
      << listed.DebugString();
  EXPECT_NE(listed.ref().change_key(), key_before) << "a change makes a new changeKey";
  const auto other = summary_of(lease_, "flag-b");
  EXPECT_FALSE(other.seen());
  EXPECT_EQ(std::find(other.flags().begin(), other.flags().end(), "\\Flagged"), other.flags().end());
  st = set_flags(lease_, just_a, std::nullopt, false);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(find_item("alice", a).at("flag").at("flagStatus"), "notFlagged");

  // An unknown message is NOT_FOUND.
  ASSERT_TRUE(remove({item(a)}, true).ok());
  st = set_flags(lease_, just_a, true, std::nullopt);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
}

TEST_F(graph_mailbox, BulkSetFlagsGoesInBatchesOfTwenty) {
  constexpr int n = 30;
  std::vector<pb::MessageRef> refs;
  for (int i = 0; i < n; ++i) refs.push_back(item(deliver("bulk-" + std::to_string(i))));
  connect_alice();
  const auto before = graph().counters();
  const auto batches_before = recorded("POST", "/$batch").size();

  auto st = set_flags(lease_, refs, true, std::nullopt);
  ASSERT_TRUE(st.ok()) << st.error_message();
  for (const auto& m : items_in("alice", "INBOX")) EXPECT_TRUE(m.at("isRead").get<bool>()) << m.dump();
  EXPECT_EQ(items_in("alice", "INBOX").size(), static_cast<std::size_t>(n));

  auto batches = recorded("POST", "/$batch");
  batches.erase(batches.begin(), batches.begin() + static_cast<long>(batches_before));
  EXPECT_EQ(batches.size(), 2u) << "ceil(30 / 20) $batch requests";
  EXPECT_TRUE(recorded("PATCH").empty()) << "no PATCH outside a $batch";
  std::size_t patches = 0;
  for (const auto& b : batches) {
    ASSERT_TRUE(b.at("batch").is_array()) << b.dump();
    EXPECT_LE(b.at("batch").size(), 20u);
    for (const auto& sub : b.at("batch")) {
      if (sub.at("method") == "PATCH") ++patches;
      EXPECT_LT(sub.at("status").get<int>(), 300) << sub.dump();
    }
  }
  EXPECT_EQ(patches, static_cast<std::size_t>(n));
  const auto counters = graph().counters();
  EXPECT_EQ(counters.at("batches") - before.at("batches"), 2);
  EXPECT_EQ(counters.at("batch_requests") - before.at("batch_requests"), n);

  pb::ListMessagesRequest unread;
  unread.set_read(pb::READ_FILTER_UNREAD);
  EXPECT_EQ(list(lease_, unread).messages_size(), 0);
}

TEST_F(graph_mailbox, MoveCopyAndDelete) {
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
  EXPECT_NE(new_id, to_move) << "Graph ids change on move";
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
  EXPECT_TRUE(contains(raw, "Subject: to-move"));
  // The new id lists in the target.
  const auto archive = list(lease_, "Archive");
  std::set<std::string> archive_ids;
  for (const auto& m : archive.messages()) archive_ids.insert(m.ref().item_id());
  EXPECT_TRUE(archive_ids.count(new_id)) << archive.DebugString();

  pb::MoveMessagesResponse copied;
  st = move_or_copy(false, {item(to_copy)}, "Archive", &copied);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(copied.target_refs_size(), 1);
  EXPECT_NE(copied.target_refs(0).item_id(), to_copy);
  EXPECT_EQ(find_item("alice", to_copy).at("folder_path"), "INBOX") << "the original stays";
  EXPECT_EQ(find_item("alice", copied.target_refs(0).item_id()).at("folder_path"), "Archive");
  EXPECT_EQ(summary_of(lease_, "to-copy", "Archive").ref().item_id(), copied.target_refs(0).item_id());

  pb::MoveMessagesResponse nowhere;
  st = move_or_copy(true, {item(to_trash)}, "No such folder", &nowhere);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "No such folder")) << st.error_message();
  EXPECT_EQ(find_item("alice", to_trash).at("folder_path"), "INBOX") << "nothing moved";

  // Delete: to Deleted Items by default, gone for good with permanent.
  ASSERT_TRUE(remove({item(to_trash)}, false).ok());
  auto trashed = with_subject("alice", "to-trash");
  ASSERT_EQ(trashed.size(), 1u);
  EXPECT_EQ(trashed[0].at("folder_path"), "Deleted Items");
  ASSERT_TRUE(remove({item(to_purge)}, true).ok());
  EXPECT_TRUE(with_subject("alice", "to-purge").empty()) << "permanentDelete leaves nothing (not even Deleted Items)";
  EXPECT_FALSE(recorded("POST", "/permanentDelete").empty() &&
               recorded("POST", "/$batch").empty())
      << "permanent: permanentDelete, not DELETE (which moves to Deleted Items)";
  EXPECT_EQ(subjects(list(lease_)), std::vector<std::string>{"to-copy"});
  // Deleting again: NOT_FOUND.
  st = remove({item(to_purge)}, true);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
}

TEST_F(graph_mailbox, BulkMoveReportsEveryNewIdInRequestOrder) {
  constexpr int n = 25;
  std::vector<pb::MessageRef> refs;
  std::vector<std::string> subjects_in_order;
  for (int i = 0; i < n; ++i) {
    subjects_in_order.push_back("batch-move-" + std::to_string(i));
    refs.push_back(item(deliver(subjects_in_order.back())));
  }
  connect_alice();
  std::reverse(refs.begin(), refs.end());  // request order is not delivery order
  std::reverse(subjects_in_order.begin(), subjects_in_order.end());
  const auto batches_before = recorded("POST", "/$batch").size();
  pb::MoveMessagesResponse moved;
  auto st = move_or_copy(true, refs, "Archive", &moved);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(moved.target_refs_size(), n);
  for (int i = 0; i < n; ++i) {
    const auto found = find_item("alice", moved.target_refs(i).item_id());
    ASSERT_FALSE(found.is_null()) << i;
    EXPECT_EQ(found.at("folder_path"), "Archive");
    EXPECT_EQ(found.at("subject"), subjects_in_order[i]) << "target_refs are in request order";
  }
  EXPECT_TRUE(items_in("alice", "INBOX").empty());
  EXPECT_EQ(recorded("POST", "/$batch").size() - batches_before, 2u) << "ceil(25 / 20) $batch requests";
}

TEST_F(graph_mailbox, SendReplyAndForwardThroughGraph) {
  const auto original = deliver_bytes(message("Question about the invoice", "Can you confirm?", "Bob <bob@testlab.test>",
                                              "alice@testlab.test", "<question-1@testlab.test>"));
  connect_alice();

  pb::SendMessageRequest send;
  send.set_lease_id(lease_);
  auto* to = send.add_to();
  to->set_address("bob@testlab.test");
  to->set_name("Bob");
  send.add_cc()->set_address("dave@testlab.test");
  send.set_subject("Hello Bob from Graph");
  send.set_text_body("Sent through sendMail.");
  grpc::ClientContext context;
  pb::SendMessageResponse sent;
  auto st = mailbox_->SendMessage(&context, send, &sent);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(sent.message_id().empty());
  const auto at_bob = with_subject("bob", "Hello Bob from Graph");
  ASSERT_EQ(at_bob.size(), 1u) << "delivered to the recipient";
  EXPECT_EQ(at_bob[0].at("folder_path"), "INBOX");
  EXPECT_EQ(at_bob[0].at("internetMessageId"), sent.message_id());
  EXPECT_EQ(with_subject("dave", "Hello Bob from Graph").size(), 1u) << "and to Cc";
  const auto copy = graph().sent_items("alice");
  ASSERT_EQ(copy.size(), 1u) << "a copy in Sent Items";
  EXPECT_EQ(copy[0].at("subject"), "Hello Bob from Graph");
  EXPECT_EQ(graph().counters().at("sent"), 1);
  EXPECT_EQ(recorded("POST", "/sendMail").size(), 1u);
  // The MIME as Graph stored it: from the mailbox, the text we sent.
  const auto mime =
      graph().graph_get(graph().mint_app_token(), "/users/bob@testlab.test/messages/" +
                                                      at_bob[0].at("id").get<std::string>() + "/$value");
  EXPECT_TRUE(contains(mime, "alice@testlab.test")) << mime;
  EXPECT_TRUE(contains(mime, "Sent through sendMail.")) << mime;

  const auto conversation = find_item("alice", original).at("conversationId").get<std::string>();
  auto in_conversation = [&](const std::string& user, const std::string& folder) {
    int n = 0;
    for (const auto& i : items_in(user, folder)) {
      if (i.at("conversationId") == conversation) ++n;
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
  EXPECT_EQ(in_conversation("alice", "Sent Items"), 1) << "the reply is in the original's conversation";
  const auto bob_inbox = items_in("bob", "INBOX");
  EXPECT_EQ(bob_inbox.size(), 2u) << "bob got the reply";
  bool reply_subject = false;
  for (const auto& m : bob_inbox) reply_subject = reply_subject || m.at("subject") == "RE: Question about the invoice";
  EXPECT_TRUE(reply_subject);
  EXPECT_EQ(recorded("POST", "/reply").size(), 1u) << "Graph makes the reply";

  pb::ForwardMessageRequest forward;
  forward.set_lease_id(lease_);
  forward.set_folder("INBOX");
  *forward.mutable_ref() = item(original);
  forward.add_to()->set_address("carol@testlab.test");
  forward.set_text_body("FYI");
  grpc::ClientContext context3;
  pb::SendMessageResponse forwarded;
  st = mailbox_->ForwardMessage(&context3, forward, &forwarded);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(in_conversation("alice", "Sent Items"), 2) << "the forward too";
  const auto at_carol = items_in("carol", "INBOX");
  ASSERT_EQ(at_carol.size(), 1u) << "carol got the forward";
  EXPECT_EQ(at_carol[0].at("subject"), "FW: Question about the invoice");
  EXPECT_EQ(recorded("POST", "/forward").size(), 1u);

  // Replies and forwards are made by Graph from text: HTML there is refused, nothing sent.
  pb::ReplyToMessageRequest html_reply = reply;
  html_reply.set_html_body("<p>Confirmed.</p>");
  grpc::ClientContext context4;
  st = mailbox_->ReplyToMessage(&context4, html_reply, &replied);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "html_body")) << st.error_message();
  EXPECT_EQ(graph().counters().at("sent"), 3);
  EXPECT_EQ(graph().counters().at("unauthorized"), 0);
}

TEST_F(graph_mailbox, ClaimsOnItemIdsNeverGiveOneMessageToTwoLeases) {
  std::set<std::string> all;
  for (int i = 0; i < 6; ++i) all.insert(deliver("job-" + std::to_string(i)));
  deliver("placeholder", "Done");
  connect_alice();
  const auto a = lease_;
  const auto b = connect(app_request("graph-" + test_name()));
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
  EXPECT_FALSE(find_item("alice", by_a[0].item_id()).at("isRead").get<bool>());

  st = ack(a, by_a[0], pb::ACK_ACTION_MARK_READ);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(find_item("alice", by_a[0].item_id()).at("isRead").get<bool>());
  st = ack(a, by_a[1], pb::ACK_ACTION_MOVE, "Done");
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(find_item("alice", by_a[1].item_id()).is_null());
  EXPECT_EQ(items_in("alice", "Done").size(), 2u);
  const std::string deleted_subject = find_item("alice", by_b[0].item_id()).at("subject");
  st = ack(b, by_b[0], pb::ACK_ACTION_DELETE);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(find_item("alice", by_b[0].item_id()).is_null()) << "not in the Inbox under its id any more";
  for (const auto& m : with_subject("alice", deleted_subject)) EXPECT_EQ(m.at("folder_path"), "Deleted Items");

  pb::ReleaseMessagesRequest release;
  release.set_lease_id(a);
  release.set_folder("INBOX");
  *release.add_refs() = by_a[2];
  *release.add_refs() = by_a[3];
  *release.add_refs() = by_b[1];  // not A's: ignored
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

}  // namespace
}  // namespace mailbroker::testing
