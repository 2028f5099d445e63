// POP3 sessions through the daemon against the real Dovecot: listing with decoded
// headers (non-UTF-8 charsets), raw and parsed reads, what POP3 cannot do, deletes that
// are committed (QUIT) before the call returns, new mail after the poll interval, and
// claim/ack between two bots.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "support/broker_fixture.hpp"
#include "support/mail_text.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;
constexpr const char* user = "erin";

// "Привет" in KOI8-R, base64: a charset GMime/iconv must convert.
const std::string koi8_body_base64 = "8NLJ18XU\n";  // F0 D2 C9 D7 C5 D4
const std::string pdf_bytes = "%PDF-1.4\nfake pdf body\n";

std::vector<std::string> corpus() {
  return {
      crlf("From: Bob Sender <bob@example.org>\nTo: erin@example.org\nSubject: Invoice 1001\n"
           "Date: Thu, 26 Nov 2026 09:00:00 +0000\nMessage-ID: <pop-plain@test>\n\nPlease pay.\n"),
      crlf("From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <jorg@example.de>\nTo: erin@example.org\n"
           "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\nDate: Thu, 26 Nov 2026 10:00:00 +0100\n"
           "Message-ID: <pop-latin1@test>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-8859-1\n"
           "Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe\n"),
      crlf("From: ivan@example.ru\nTo: erin@example.org\nSubject: =?KOI8-R?B?8NLJ18XU?=\n"
           "Date: Thu, 26 Nov 2026 11:00:00 +0300\nMessage-ID: <pop-koi8@test>\nMIME-Version: 1.0\n"
           "Content-Type: text/plain; charset=KOI8-R\nContent-Transfer-Encoding: base64\n\n" +
           koi8_body_base64),
      crlf("From: bob@example.org\nTo: erin@example.org\nSubject: Report with attachment\n"
           "Date: Thu, 26 Nov 2026 12:00:00 +0000\nMessage-ID: <pop-attach@test>\nMIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain\n\nSee attached.\n"
           "--b1\nContent-Type: application/pdf; name=report.pdf\nContent-Disposition: attachment; "
           "filename=report.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQKZmFrZSBwZGYgYm9keQo=\n--b1--\n"),
      crlf("From: news@example.com\nTo: erin@example.org\nSubject: HTML only newsletter\n"
           "Date: Thu, 26 Nov 2026 13:00:00 +0000\nMessage-ID: <pop-html@test>\nMIME-Version: 1.0\n"
           "Content-Type: text/html; charset=windows-1252\n\n<p>Caf\xe9 \x80 5</p>\n"),
  };
}

class pop3_session : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    dovecot().expunge(user, "INBOX");
    for (std::size_t i = 0; i < corpus_.size(); ++i) deliver_bytes(corpus_[i], "m" + std::to_string(i));
    start_broker();
    mailbox_ = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
    lease_ = connect("pop3");
  }

  void deliver_bytes(const std::string& bytes, const std::string& name) {
    const std::string file = socket_dir_ + "/" + name + ".eml";
    std::ofstream(file, std::ios::binary) << bytes;
    dovecot().deliver(user, file, "INBOX");
  }

  pb::ConnectRequest pop3_request(const std::string& session) const {
    auto r = imaps_request(session, user);
    r.mutable_spec()->set_protocol(pb::PROTOCOL_POP3);
    r.mutable_spec()->mutable_server()->set_port(shared_dovecot().pop3s_port());
    r.mutable_spec()->set_poll_interval_seconds(1);
    return r;
  }

  std::string connect(const std::string& session) {
    pb::ConnectResponse response;
    auto st = client_->connect(pop3_request(session), &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return response.lease_id();
  }

  pb::ListMessagesResponse list(pb::ListMessagesRequest request = {}, grpc::Status* status = nullptr) {
    if (request.lease_id().empty()) request.set_lease_id(lease_);
    grpc::ClientContext context;
    pb::ListMessagesResponse response;
    auto st = mailbox_->ListMessages(&context, request, &response);
    if (status) *status = st;
    else EXPECT_TRUE(st.ok()) << st.error_message();
    return response;
  }

  const pb::MessageSummary* find(const pb::ListMessagesResponse& page, const std::string& subject) {
    for (const auto& m : page.messages()) {
      if (m.subject() == subject) return &m;
    }
    return nullptr;
  }

  std::vector<std::string> corpus_ = corpus();
  std::unique_ptr<pb::Mailbox::Stub> mailbox_;
  std::string lease_;
};

TEST_F(pop3_session, lists_the_maildrop_with_decoded_headers) {
  EXPECT_EQ(status_of("pop3").server().protocol(), pb::PROTOCOL_POP3);
  const auto page = list();
  ASSERT_EQ(page.messages_size(), 5);
  EXPECT_NE(page.uid_validity(), 0u);
  std::set<std::string> unique_ids;
  for (const auto& m : page.messages()) {
    EXPECT_GT(m.uid(), 0u);
    unique_ids.insert(m.unique_id());
  }
  EXPECT_EQ(unique_ids.size(), 5u);
  ASSERT_NE(find(page, "Grüße aus Köln"), nullptr);
  EXPECT_EQ(find(page, "Grüße aus Köln")->from(0).name(), "Jörg Müller");
  ASSERT_NE(find(page, "Привет"), nullptr);
  ASSERT_NE(find(page, "Report with attachment"), nullptr);
  EXPECT_TRUE(find(page, "Report with attachment")->has_attachments());
  EXPECT_FALSE(find(page, "Invoice 1001")->has_attachments());
  EXPECT_EQ(find(page, "Invoice 1001")->size(), corpus_[0].size());

  pb::ListMessagesRequest by_from;
  by_from.set_from_contains("JORG@");  // filtered by the daemon on decoded headers, ASCII case-folded
  EXPECT_EQ(list(by_from).messages_size(), 1);

  pb::ListMessagesRequest paged;
  paged.set_limit(2);
  auto first = list(paged);
  EXPECT_EQ(first.messages_size(), 2);
  EXPECT_EQ(first.total_matching(), 5u);
  paged.set_after_uid(first.next_after_uid());
  EXPECT_EQ(list(paged).messages_size(), 2);

  pb::ListMessagesRequest unread;
  unread.set_read(pb::READ_FILTER_UNREAD);
  grpc::Status st;
  list(unread, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(st.error_message().find("read"), std::string::npos) << st.error_message();
}

TEST_F(pop3_session, reads_raw_and_parsed_messages) {
  const auto page = list();
  const auto* koi8 = find(page, "Привет");
  const auto* attach = find(page, "Report with attachment");
  const auto* html = find(page, "HTML only newsletter");
  ASSERT_TRUE(koi8 && attach && html);

  pb::GetMessageRequest request;
  request.set_lease_id(lease_);
  request.set_uid(attach->uid());
  {
    grpc::ClientContext context;
    auto reader = mailbox_->GetMessage(&context, request);
    std::string bytes;
    pb::MessageChunk chunk;
    while (reader->Read(&chunk)) bytes += chunk.data();
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(bytes, corpus_[3]);
  }
  pb::MessageParts parts;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(mailbox_->GetMessageParts(&context, request, &parts).ok());
  }
  EXPECT_EQ(parts.text_body().rfind("See attached.", 0), 0u) << parts.text_body();
  ASSERT_EQ(parts.attachments_size(), 1);
  EXPECT_EQ(parts.attachments(0).filename(), "report.pdf");
  EXPECT_EQ(parts.attachments(0).size(), pdf_bytes.size());
  {
    pb::GetAttachmentRequest a;
    a.set_lease_id(lease_);
    a.set_uid(attach->uid());
    a.set_part_id(parts.attachments(0).part_id());
    grpc::ClientContext context;
    auto reader = mailbox_->GetAttachment(&context, a);
    std::string bytes;
    pb::MessageChunk chunk;
    while (reader->Read(&chunk)) bytes += chunk.data();
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(bytes, pdf_bytes);
  }
  for (const auto& [uid, expected_text, expected_html] :
       {std::tuple{koi8->uid(), std::string("Привет"), std::string()},
        std::tuple{html->uid(), std::string(), std::string("<p>Café € 5</p>")}}) {
    request.set_uid(uid);
    grpc::ClientContext context;
    pb::MessageParts p;
    ASSERT_TRUE(mailbox_->GetMessageParts(&context, request, &p).ok());
    EXPECT_NE(p.text_body().find(expected_text), std::string::npos) << p.text_body();
    EXPECT_NE(p.html_body().find(expected_html), std::string::npos) << p.html_body();
  }
}

TEST_F(pop3_session, what_pop3_cannot_do_is_unimplemented_and_named) {
  const auto uid = list().messages(0).uid();
  {
    pb::SetFlagsRequest r;
    r.set_lease_id(lease_);
    r.add_uids(uid);
    r.set_seen(true);
    grpc::ClientContext context;
    pb::SetFlagsResponse response;
    auto st = mailbox_->SetFlags(&context, r, &response);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_NE(st.error_message().find("POP3"), std::string::npos);
  }
  {
    pb::MoveMessagesRequest r;
    r.set_lease_id(lease_);
    r.add_uids(uid);
    r.set_target_folder("Archive");
    grpc::ClientContext context;
    pb::MoveMessagesResponse response;
    auto st = mailbox_->MoveMessages(&context, r, &response);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_NE(st.error_message().find("MoveMessages"), std::string::npos);
  }
  {
    pb::ListFoldersRequest r;
    r.set_lease_id(lease_);
    grpc::ClientContext context;
    pb::ListFoldersResponse response;
    ASSERT_TRUE(mailbox_->ListFolders(&context, r, &response).ok());
    ASSERT_EQ(response.folders_size(), 1);
    EXPECT_EQ(response.folders(0).name(), "INBOX");
  }
  {
    pb::ListMessagesRequest r;
    r.set_folder("Archive");
    grpc::Status st;
    list(r, &st);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    pb::GetMessageRequest r;
    r.set_lease_id(lease_);
    r.set_uid(999999);
    grpc::ClientContext context;
    pb::MessageParts parts;
    EXPECT_EQ(mailbox_->GetMessageParts(&context, r, &parts).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_TRUE(wait_for_state("pop3", pb::SESSION_STATE_READY));
}

TEST_F(pop3_session, a_delete_is_committed_before_the_call_returns) {
  const auto page = list();
  const auto* victim = find(page, "Invoice 1001");
  ASSERT_NE(victim, nullptr);
  pb::DeleteMessagesRequest r;
  r.set_lease_id(lease_);
  r.add_uids(victim->uid());
  {
    grpc::ClientContext context;
    pb::DeleteMessagesResponse response;
    auto st = mailbox_->DeleteMessages(&context, r, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // The server's own view, through IMAP on another session: the message is gone.
  pb::ConnectResponse imap;
  ASSERT_TRUE(client_->connect(imaps_request("pop3-check", user), &imap).ok());
  pb::ListMessagesRequest all;
  all.set_lease_id(imap.lease_id());
  const auto seen_by_imap = list(all);
  EXPECT_EQ(seen_by_imap.messages_size(), 4);
  EXPECT_EQ(find(seen_by_imap, "Invoice 1001"), nullptr);
  // And through POP3 again: same uids for the others (numbered by UIDL, not position).
  const auto again = list();
  EXPECT_EQ(again.messages_size(), 4);
  EXPECT_EQ(again.uid_validity(), page.uid_validity());
  EXPECT_EQ(find(again, "Привет")->uid(), find(page, "Привет")->uid());
  // Deleting it twice: NOT_FOUND, naming the uid.
  grpc::ClientContext context;
  pb::DeleteMessagesResponse response;
  auto st = mailbox_->DeleteMessages(&context, r, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(pop3_session, new_mail_appears_and_is_watched) {
  EXPECT_EQ(list().messages_size(), 5);
  pb::WatchMessagesRequest w;
  w.set_lease_id(lease_);
  grpc::ClientContext watch_context;
  auto reader = mailbox_->WatchMessages(&watch_context, w);
  pb::MessageEvent ev;
  ASSERT_TRUE(reader->Read(&ev));
  EXPECT_EQ(ev.mode(), "POP3_POLL");
  deliver_bytes(crlf("From: late@example.org\nSubject: Late arrival\nMessage-ID: <late@test>\n\nhi\n"), "late");
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(reader->Read(&ev));
  EXPECT_EQ(ev.kind(), pb::MESSAGE_EVENT_KIND_NEW_MESSAGE);
  EXPECT_EQ(ev.message().subject(), "Late arrival");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);  // poll interval 1 s
  watch_context.TryCancel();
  reader->Finish();
  EXPECT_EQ(list().messages_size(), 6);
}

TEST_F(pop3_session, two_bots_claim_and_delete_each_message_once) {
  const auto second = connect("pop3");  // attaches to the same session
  std::set<std::uint32_t> handled;
  for (int round = 0; round < 10; ++round) {
    for (const auto& lease : {lease_, second}) {
      pb::ClaimMessagesRequest c;
      c.set_lease_id(lease);
      c.set_max(2);
      grpc::ClientContext context;
      pb::ClaimMessagesResponse claimed;
      ASSERT_TRUE(mailbox_->ClaimMessages(&context, c, &claimed).ok());
      for (const auto& m : claimed.messages()) {
        EXPECT_TRUE(handled.insert(m.summary().uid()).second) << "uid handed out twice";
        pb::AckMessageRequest a;
        a.set_lease_id(lease);
        a.set_uid(m.summary().uid());
        a.set_action(pb::ACK_ACTION_DELETE);
        grpc::ClientContext ack_context;
        pb::AckMessageResponse acked;
        auto st = mailbox_->AckMessage(&ack_context, a, &acked);
        EXPECT_TRUE(st.ok()) << st.error_message();
      }
    }
  }
  EXPECT_EQ(handled.size(), 5u);
  EXPECT_EQ(list().messages_size(), 0);
  pb::AckMessageRequest mark;
  mark.set_lease_id(lease_);
  mark.set_uid(1);
  mark.set_action(pb::ACK_ACTION_MARK_READ);
  grpc::ClientContext context;
  pb::AckMessageResponse acked;
  EXPECT_EQ(mailbox_->AckMessage(&context, mark, &acked).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace mailbroker::testing
