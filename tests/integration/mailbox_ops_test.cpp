// Mailbox operations through the daemon's one live IMAP connection, against the real
// Dovecot, on a corpus the test plants with doveadm: RFC 2047 headers, non-UTF-8
// charsets, attachments, HTML-only, a multi-MiB message, a folder with a non-ASCII name.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "common/base64.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "support/broker_fixture.hpp"
#include "support/mail_text.hpp"

namespace mailbroker::testing {
namespace {

constexpr const char* user = "dave";

std::string base64_block(std::size_t bytes, unsigned seed) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::mt19937 rng(seed);
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    out += alphabet[rng() % 64];
    if (i % 76 == 75) out += '\n';
  }
  return out + "\n";
}

struct corpus_message {
  std::string name;
  std::string bytes;
};

std::vector<corpus_message> corpus() {
  return {
      {"plain", crlf("From: Bob Sender <bob@example.org>\nTo: dave@example.org\nSubject: Invoice 1001\n"
                     "Date: Thu, 26 Nov 2026 09:00:00 +0000\nMessage-ID: <plain@test>\n\nPlease pay.\n")},
      {"encoded", crlf("From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <jorg@example.de>\nTo: dave@example.org\n"
                       "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\nDate: Thu, 26 Nov 2026 10:00:00 +0100\n"
                       "Message-ID: <encoded@test>\nContent-Type: text/plain; charset=ISO-8859-1\n"
                       "Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe\n")},
      {"attachment", crlf("From: bob@example.org\nTo: dave@example.org\nSubject: Report with attachment\n"
                          "Date: Thu, 26 Nov 2026 11:00:00 +0000\nMessage-ID: <attach@test>\nMIME-Version: 1.0\n"
                          "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain\n\nSee attached.\n"
                          "--b1\nContent-Type: application/pdf; name=report.pdf\nContent-Disposition: attachment; "
                          "filename=report.pdf\nContent-Transfer-Encoding: base64\n\n" +
                          base64_block(2000, 1) + "--b1--\n")},
      {"html", crlf("From: news@example.com\nTo: dave@example.org\nSubject: HTML only newsletter\n"
                    "Date: Thu, 26 Nov 2026 12:00:00 +0000\nMessage-ID: <html@test>\nMIME-Version: 1.0\n"
                    "Content-Type: text/html; charset=windows-1252\n\n<p>Caf\xe9</p>\n")},
      {"large", crlf("From: scanner@example.org\nTo: dave@example.org\nSubject: Large scan\n"
                     "Date: Thu, 26 Nov 2026 13:00:00 +0000\nMessage-ID: <large@test>\nMIME-Version: 1.0\n"
                     "Content-Type: multipart/mixed; boundary=b2\n\n--b2\nContent-Type: text/plain\n\nScan.\n--b2\n"
                     "Content-Type: image/tiff; name=scan.tif\nContent-Disposition: attachment; filename=scan.tif\n"
                     "Content-Transfer-Encoding: base64\n\n" +
                     base64_block(2'600'000, 2) + "--b2--\n")},
  };
}

class mailbox_ops : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    start_broker();
    mailbox_ = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
    // Fresh folders per test: the Dovecot is shared by the whole binary.
    const auto suffix = std::to_string(std::random_device{}() % 1000000);
    folder_ = "Ops-" + suffix;
    unicode_folder_ = "Entwürfe-" + suffix;
    for (const auto& m : corpus_) {
      const std::string file = socket_dir_ + "/" + m.name + ".eml";
      std::ofstream(file, std::ios::binary) << m.bytes;
      dovecot().deliver(user, file, folder_);
    }
    const std::string file = socket_dir_ + "/draft.eml";
    std::ofstream(file, std::ios::binary) << corpus_[0].bytes;
    dovecot().deliver(user, file, unicode_folder_);
    pb::ConnectResponse response;
    auto st = client_->connect(imaps_request("mbx", user), &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
    lease_ = response.lease_id();
  }

  pb::ListMessagesResponse list(pb::ListMessagesRequest request, grpc::Status* status = nullptr) {
    request.set_lease_id(request.lease_id().empty() ? lease_ : request.lease_id());
    if (request.folder().empty()) request.set_folder(folder_);
    grpc::ClientContext context;
    pb::ListMessagesResponse response;
    auto st = mailbox_->ListMessages(&context, request, &response);
    if (status) *status = st;
    else EXPECT_TRUE(st.ok()) << st.error_message();
    return response;
  }

  std::uint32_t uid_of(const std::string& subject) {
    const auto page = list({});
    for (const auto& m : page.messages()) {
      if (m.subject() == subject) return m.uid();
    }
    return 0;
  }

  // GetMessage, all chunks concatenated.
  grpc::Status fetch(const std::string& lease, std::uint32_t uid, std::string* bytes, int* chunks = nullptr,
                     const std::string& folder = {}) {
    pb::GetMessageRequest request;
    request.set_lease_id(lease);
    request.set_folder(folder.empty() ? folder_ : folder);
    request.set_uid(uid);
    grpc::ClientContext context;
    auto reader = mailbox_->GetMessage(&context, request);
    pb::MessageChunk chunk;
    int n = 0;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.offset(), bytes->size());
      *bytes += chunk.data();
      ++n;
    }
    if (chunks) *chunks = n;
    return reader->Finish();
  }

  std::vector<corpus_message> corpus_ = corpus();
  std::unique_ptr<pb::Mailbox::Stub> mailbox_;
  std::string folder_, unicode_folder_, lease_;
};

TEST_F(mailbox_ops, ListsFoldersWithUtf8NamesAndFilters) {
  pb::ListFoldersRequest request;
  request.set_lease_id(lease_);
  pb::ListFoldersResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(mailbox_->ListFolders(&context, request, &response).ok());
  std::set<std::string> names;
  for (const auto& f : response.folders()) names.insert(f.name());
  EXPECT_TRUE(names.count("INBOX"));
  EXPECT_TRUE(names.count(folder_));
  EXPECT_TRUE(names.count(unicode_folder_)) << "modified UTF-7 decoded to UTF-8";

  request.set_regex("^Entwürfe-");
  pb::ListFoldersResponse filtered;
  grpc::ClientContext context2;
  ASSERT_TRUE(mailbox_->ListFolders(&context2, request, &filtered).ok());
  ASSERT_EQ(filtered.folders_size(), 1);
  EXPECT_EQ(filtered.folders(0).name(), unicode_folder_);

  // A message in the non-ASCII folder is reachable by its UTF-8 name.
  pb::ListMessagesRequest in_unicode;
  in_unicode.set_folder(unicode_folder_);
  EXPECT_EQ(list(in_unicode).messages_size(), 1);
}

TEST_F(mailbox_ops, SummariesDecodeHeadersAndSpotAttachments) {
  auto page = list({});
  ASSERT_EQ(page.messages_size(), 5);
  EXPECT_EQ(page.total_matching(), 5u);
  EXPECT_NE(page.uid_validity(), 0u);
  std::map<std::string, pb::MessageSummary> by_id;
  for (const auto& m : page.messages()) by_id[m.message_id()] = m;
  EXPECT_EQ(by_id["<plain@test>"].subject(), "Invoice 1001");
  ASSERT_EQ(by_id["<plain@test>"].from_size(), 1);
  EXPECT_EQ(by_id["<plain@test>"].from(0).name(), "Bob Sender");
  EXPECT_EQ(by_id["<plain@test>"].from(0).address(), "bob@example.org");
  EXPECT_EQ(by_id["<encoded@test>"].subject(), "Grüße aus Köln");
  EXPECT_EQ(by_id["<encoded@test>"].from(0).name(), "Jörg Müller");
  EXPECT_TRUE(by_id["<attach@test>"].has_attachments());
  EXPECT_TRUE(by_id["<large@test>"].has_attachments());
  EXPECT_FALSE(by_id["<plain@test>"].has_attachments());
  EXPECT_FALSE(by_id["<html@test>"].has_attachments());
  EXPECT_GT(by_id["<large@test>"].size(), 2'600'000u);
  EXPECT_EQ(by_id["<plain@test>"].date().seconds(), 1795683600);  // 2026-11-26T09:00:00Z
  EXPECT_FALSE(by_id["<plain@test>"].seen());
}

TEST_F(mailbox_ops, FiltersAndPages) {
  pb::ListMessagesRequest subject;
  subject.set_subject_contains("invoice");  // case-insensitive at the server
  ASSERT_EQ(list(subject).messages_size(), 1);

  pb::ListMessagesRequest from;
  from.set_from_contains("bob@example.org");
  EXPECT_EQ(list(from).messages_size(), 2);

  pb::ListMessagesRequest first;
  first.set_limit(2);
  auto p1 = list(first);
  ASSERT_EQ(p1.messages_size(), 2);
  ASSERT_NE(p1.next_after_uid(), 0u);
  EXPECT_EQ(p1.total_matching(), 5u);
  pb::ListMessagesRequest next;
  next.set_limit(10);
  next.set_after_uid(p1.next_after_uid());
  auto p2 = list(next);
  EXPECT_EQ(p2.messages_size(), 3);
  EXPECT_EQ(p2.next_after_uid(), 0u);
  EXPECT_GT(p2.messages(0).uid(), p1.messages(1).uid());
}

TEST_F(mailbox_ops, FlagsMoveCopyDelete) {
  const auto invoice = uid_of("Invoice 1001");
  ASSERT_NE(invoice, 0u);
  pb::SetFlagsRequest flags;
  flags.set_lease_id(lease_);
  flags.set_folder(folder_);
  flags.add_uids(invoice);
  flags.set_seen(true);
  flags.set_flagged(true);
  pb::SetFlagsResponse flags_response;
  grpc::ClientContext c1;
  ASSERT_TRUE(mailbox_->SetFlags(&c1, flags, &flags_response).ok());
  pb::ListMessagesRequest unread;
  unread.set_read(pb::READ_FILTER_UNREAD);
  EXPECT_EQ(list(unread).messages_size(), 4);
  pb::ListMessagesRequest read;
  read.set_read(pb::READ_FILTER_READ);
  auto r = list(read);
  ASSERT_EQ(r.messages_size(), 1);
  EXPECT_TRUE(r.messages(0).seen());

  // Move to the non-ASCII folder: gone here, there with a new uid.
  pb::MoveMessagesRequest move;
  move.set_lease_id(lease_);
  move.set_folder(folder_);
  move.add_uids(invoice);
  move.set_target_folder(unicode_folder_);
  pb::MoveMessagesResponse moved;
  grpc::ClientContext c2;
  auto st = mailbox_->MoveMessages(&c2, move, &moved);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(moved.target_uids_size(), 1);
  EXPECT_EQ(list({}).messages_size(), 4);
  pb::ListMessagesRequest there;
  there.set_folder(unicode_folder_);
  EXPECT_EQ(list(there).messages_size(), 2);

  // Copy keeps the original.
  const auto html = uid_of("HTML only newsletter");
  pb::MoveMessagesRequest copy = move;
  copy.clear_uids();
  copy.add_uids(html);
  pb::MoveMessagesResponse copied;
  grpc::ClientContext c3;
  ASSERT_TRUE(mailbox_->CopyMessages(&c3, copy, &copied).ok());
  EXPECT_EQ(list({}).messages_size(), 4);
  EXPECT_EQ(list(there).messages_size(), 3);

  // Delete expunges exactly that uid, even with another message flagged \Deleted.
  pb::DeleteMessagesRequest del;
  del.set_lease_id(lease_);
  del.set_folder(folder_);
  del.add_uids(html);
  pb::DeleteMessagesResponse deleted;
  grpc::ClientContext c4;
  ASSERT_TRUE(mailbox_->DeleteMessages(&c4, del, &deleted).ok());
  auto left = list({});
  EXPECT_EQ(left.messages_size(), 3);
  for (const auto& m : left.messages()) EXPECT_NE(m.uid(), html);
}

// Issue #10: a uid that does not exist is NOT_FOUND, named; the uids that exist are
// still changed (one pipelined UID SEARCH tells which exist), and the message says so.
TEST_F(mailbox_ops, UnknownUidsAreNotFoundAndNamed) {
  const auto invoice = uid_of("Invoice 1001");
  const auto html = uid_of("HTML only newsletter");
  ASSERT_NE(invoice, 0u);
  ASSERT_NE(html, 0u);
  constexpr std::uint32_t ghost = 999999;
  constexpr std::uint32_t ghost2 = 888888;

  pb::SetFlagsRequest flags;
  flags.set_lease_id(lease_);
  flags.set_folder(folder_);
  flags.add_uids(invoice);
  flags.add_uids(ghost);
  flags.set_flagged(true);
  pb::SetFlagsResponse flags_response;
  grpc::ClientContext c1;
  auto st = mailbox_->SetFlags(&c1, flags, &flags_response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("uid 999999 is not in folder"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("the other 1 was changed"), std::string::npos) << st.error_message();
  bool invoice_flagged = false;
  const auto after_flags = list({});  // a range-for over a temporary's member would dangle
  for (const auto& m : after_flags.messages()) {
    if (m.uid() == invoice) {
      for (const auto& f : m.flags()) invoice_flagged = invoice_flagged || f == "\\Flagged";
    }
  }
  EXPECT_TRUE(invoice_flagged) << "the uid that exists was still flagged";

  pb::MoveMessagesRequest move;
  move.set_lease_id(lease_);
  move.set_folder(folder_);
  move.add_uids(ghost);
  move.add_uids(ghost2);
  move.set_target_folder(unicode_folder_);
  pb::MoveMessagesResponse moved;
  grpc::ClientContext c2;
  st = mailbox_->MoveMessages(&c2, move, &moved);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("uids 888888, 999999 are not in folder"), std::string::npos)
      << st.error_message();
  EXPECT_NE(st.error_message().find("nothing was changed"), std::string::npos) << st.error_message();
  grpc::ClientContext c3;
  st = mailbox_->CopyMessages(&c3, move, &moved);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_EQ(list({}).messages_size(), 5) << "nothing moved";

  move.clear_uids();
  move.add_uids(invoice);
  move.add_uids(ghost);
  grpc::ClientContext c4;
  st = mailbox_->MoveMessages(&c4, move, &moved);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("the other 1 was moved to '" + unicode_folder_ + "'"), std::string::npos)
      << st.error_message();
  EXPECT_EQ(list({}).messages_size(), 4) << "the existing uid was moved";

  pb::DeleteMessagesRequest del;
  del.set_lease_id(lease_);
  del.set_folder(folder_);
  del.add_uids(ghost);
  del.add_uids(html);
  pb::DeleteMessagesResponse deleted;
  grpc::ClientContext c5;
  st = mailbox_->DeleteMessages(&c5, del, &deleted);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("uid 999999"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("the other 1 was deleted"), std::string::npos) << st.error_message();
  EXPECT_EQ(list({}).messages_size(), 3);

  // All present: OK as before.
  del.clear_uids();
  del.add_uids(uid_of("Large scan"));
  grpc::ClientContext c6;
  st = mailbox_->DeleteMessages(&c6, del, &deleted);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(list({}).messages_size(), 2);
}

TEST_F(mailbox_ops, LargeMessageStreamsInChunksByteForByte) {
  const auto uid = uid_of("Large scan");
  ASSERT_NE(uid, 0u);
  std::string bytes;
  int chunks = 0;
  auto st = fetch(lease_, uid, &bytes, &chunks);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(bytes, corpus_[4].bytes);
  EXPECT_GE(chunks, 3);  // 1 MiB chunks
  // BODY.PEEK: reading does not mark it read.
  pb::ListMessagesRequest unread;
  unread.set_read(pb::READ_FILTER_UNREAD);
  EXPECT_EQ(list(unread).messages_size(), 5);
}

TEST_F(mailbox_ops, PartsAreDecodedAndAttachmentsStreamByteForByte) {
  auto parts_of = [&](const std::string& subject) {
    pb::GetMessageRequest request;
    request.set_lease_id(lease_);
    request.set_folder(folder_);
    request.set_uid(uid_of(subject));
    grpc::ClientContext context;
    pb::MessageParts parts;
    auto st = mailbox_->GetMessageParts(&context, request, &parts);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return parts;
  };
  const auto encoded = parts_of("Grüße aus Köln");
  EXPECT_EQ(encoded.summary().from(0).name(), "Jörg Müller");
  EXPECT_EQ(encoded.text_body().rfind("Grüße", 0), 0u) << encoded.text_body();
  EXPECT_EQ(parts_of("HTML only newsletter").html_body().rfind("<p>Café</p>", 0), 0u);

  const auto large = parts_of("Large scan");
  ASSERT_EQ(large.attachments_size(), 1);
  EXPECT_EQ(large.attachments(0).filename(), "scan.tif");
  EXPECT_EQ(large.attachments(0).content_type(), "image/tiff");
  std::string encoded_block = base64_block(2'600'000, 2);
  std::erase(encoded_block, '\n');
  const auto expected = base64_decode(encoded_block);
  ASSERT_TRUE(expected.has_value());
  EXPECT_EQ(large.attachments(0).size(), expected->size());

  pb::GetAttachmentRequest request;
  request.set_lease_id(lease_);
  request.set_folder(folder_);
  request.set_uid(uid_of("Large scan"));
  request.set_part_id(large.attachments(0).part_id());
  grpc::ClientContext context;
  auto reader = mailbox_->GetAttachment(&context, request);
  std::string bytes;
  int chunks = 0;
  pb::MessageChunk chunk;
  while (reader->Read(&chunk)) {
    EXPECT_EQ(chunk.offset(), bytes.size());
    EXPECT_LE(chunk.data().size(), 1024u * 1024u);
    bytes += chunk.data();
    ++chunks;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GE(chunks, 2);
  EXPECT_TRUE(bytes == *expected) << "attachment differs (" << bytes.size() << " vs " << expected->size() << " bytes)";

  request.set_part_id("9.9");
  grpc::ClientContext missing_context;
  auto missing = mailbox_->GetAttachment(&missing_context, request);
  EXPECT_FALSE(missing->Read(&chunk));
  auto st = missing->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("9.9"), std::string::npos);
}

TEST_F(mailbox_ops, ASmallCallIsNotStarvedByAnotherBotsDownloads) {
  pb::ConnectResponse second;
  ASSERT_TRUE(client_->connect(imaps_request("mbx", user), &second).ok());
  const auto large = uid_of("Large scan");
  const auto plain = uid_of("Invoice 1001");
  // Bot A starts four multi-MiB downloads (12+ chunk turns); then bot B flags a message.
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::future<grpc::Status>> downloads;
  for (int i = 0; i < 4; ++i) {
    downloads.push_back(std::async(std::launch::async, [&] {
      std::string bytes;
      return fetch(lease_, large, &bytes);
    }));
  }
  // Until the first chunk is on the wire there is nothing to be starved by.
  ASSERT_TRUE(wait_for_status("mbx", [](const pb::SessionStatus& s) { return s.counters().bytes_in() > 1'000'000; },
                              std::chrono::seconds(10)));
  pb::SetFlagsRequest flags;
  flags.set_lease_id(second.lease_id());
  flags.set_folder(folder_);
  flags.add_uids(plain);
  flags.set_flagged(true);
  pb::SetFlagsResponse out;
  grpc::ClientContext context;
  const auto flag_sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(mailbox_->SetFlags(&context, flags, &out).ok());
  const auto flag_took = std::chrono::steady_clock::now() - flag_sent;
  for (auto& d : downloads) EXPECT_TRUE(d.get().ok());
  const auto downloads_took = std::chrono::steady_clock::now() - start;
  // Served in its round-robin turn (about one chunk), not after the whole backlog.
  EXPECT_LT(flag_took, downloads_took / 3)
      << "flag " << std::chrono::duration_cast<std::chrono::milliseconds>(flag_took).count() << " ms, downloads "
      << std::chrono::duration_cast<std::chrono::milliseconds>(downloads_took).count() << " ms";
  EXPECT_EQ(dovecot().who(user), 1) << "everything went over the one upstream connection";
}

TEST_F(mailbox_ops, BadRequestsGetClearErrors) {
  pb::ListMessagesRequest missing;
  missing.set_folder("No-Such-Folder-Here");
  grpc::Status st;
  list(missing, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("No-Such-Folder-Here"), std::string::npos);

  std::string bytes;
  st = fetch(lease_, 999999, &bytes);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();

  st = fetch("no-such-lease", 1, &bytes);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);

  pb::SetFlagsRequest no_uids;
  no_uids.set_lease_id(lease_);
  no_uids.set_seen(true);
  pb::SetFlagsResponse out;
  grpc::ClientContext c1;
  st = mailbox_->SetFlags(&c1, no_uids, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("uids"), std::string::npos);

  pb::MoveMessagesRequest to_nowhere;
  to_nowhere.set_lease_id(lease_);
  to_nowhere.set_folder(folder_);
  to_nowhere.add_uids(uid_of("Invoice 1001"));
  to_nowhere.set_target_folder("No-Such-Target");
  pb::MoveMessagesResponse moved;
  grpc::ClientContext c2;
  st = mailbox_->MoveMessages(&c2, to_nowhere, &moved);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();

  pb::ListFoldersRequest bad_regex;
  bad_regex.set_lease_id(lease_);
  bad_regex.set_regex("([");
  pb::ListFoldersResponse folders;
  grpc::ClientContext c3;
  st = mailbox_->ListFolders(&c3, bad_regex, &folders);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("regex"), std::string::npos);

  // After all that the session is still READY and usable.
  EXPECT_EQ(status_of("mbx").state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(list({}).messages_size(), 5);
}

TEST_F(mailbox_ops, CallsDuringAReconnectAreUnavailableNotLost) {
  dovecot().kick(user);
  ASSERT_TRUE(wait_for_status("mbx", [](const pb::SessionStatus& s) { return s.reconnect_count() >= 1; }));
  grpc::Status st;
  list({}, &st);
  // Either refused while reconnecting (UNAVAILABLE, retry) or already served after it.
  EXPECT_TRUE(st.ok() || st.error_code() == grpc::StatusCode::UNAVAILABLE) << st.error_message();
  ASSERT_TRUE(wait_for_status("mbx", [](const pb::SessionStatus& s) {
    return s.state() == pb::SESSION_STATE_READY && s.counters().connects() == 2;
  }));
  EXPECT_EQ(list({}).messages_size(), 5);
}

}  // namespace
}  // namespace mailbroker::testing
