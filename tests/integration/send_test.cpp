// Send / reply / forward through a session's SMTP leg, against a real SMTP server
// (smtp-server from npm) that records what it receives; the recorded bytes are read
// back with Python's email package — a MIME parser other than ours.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <thread>

#include "common/random.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "support/broker_fixture.hpp"
#include "support/smtp_testbed.hpp"

namespace mailbroker::testing {
namespace {

constexpr const char* user = "grace";

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

std::string without_cr(std::string s) {
  std::erase(s, '\r');
  return s;
}

class send_mail : public broker_fixture {
 protected:
  static void SetUpTestSuite() { smtp_ = new smtp_testbed(shared_dovecot().state_dir()); }
  static void TearDownTestSuite() {
    delete smtp_;
    smtp_ = nullptr;
  }

  void SetUp() override {
    broker_fixture::SetUp();
    start_broker();
    mailbox_ = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
    suffix_ = std::to_string(std::random_device{}() % 1000000);
    lease_ = connect(with_smtp(imaps_request("send-" + suffix_, user)));
  }

  pb::ConnectRequest with_smtp(pb::ConnectRequest r) const {
    auto* server = r.mutable_spec()->mutable_smtp()->mutable_server();
    server->set_host(smtp_->host());
    server->set_port(smtp_->smtp_port());
    server->set_tls_mode(pb::TLS_MODE_STARTTLS);
    server->mutable_tls()->set_ca_file(smtp_->ca_file());
    return r;
  }

  std::string connect(const pb::ConnectRequest& request) {
    pb::ConnectResponse response;
    auto st = client_->connect(request, &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return response.lease_id();
  }

  static pb::Address address(const std::string& name, const std::string& addr) {
    pb::Address a;
    a.set_name(name);
    a.set_address(addr);
    return a;
  }

  pb::SendMessageRequest basic_message(const std::string& subject) const {
    pb::SendMessageRequest r;
    r.set_lease_id(lease_);
    *r.mutable_from() = address("Grace Bot", "grace@example.org");
    *r.add_to() = address("Frank", "frank@example.org");
    r.set_subject(subject);
    r.set_text_body("Hello.\n");
    return r;
  }

  grpc::Status send(const pb::SendMessageRequest& r, pb::SendMessageResponse* response) {
    grpc::ClientContext context;
    return mailbox_->SendMessage(&context, r, response);
  }

  // The recorded message whose Message-ID is `id` (the server records it right after
  // its 250, so give it a moment).
  std::optional<recorded_message> recorded(const std::string& id) {
    const auto lower = [](std::string s) {
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    const auto wanted = lower("Message-ID: " + id);
    for (int attempt = 0; attempt < 30; ++attempt) {
      for (const auto& m : smtp_->messages()) {
        if (lower(smtp_testbed::read_file(m.eml_path)).find(wanted) != std::string::npos) return m;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return std::nullopt;
  }

  static smtp_testbed* smtp_;
  std::unique_ptr<pb::Mailbox::Stub> mailbox_;
  std::string suffix_, lease_;
};

smtp_testbed* send_mail::smtp_ = nullptr;

TEST_F(send_mail, builds_mime_that_another_parser_reads_back_byte_for_byte) {
  auto r = basic_message("Grüße – Bericht 📎 " + suffix_);
  *r.add_cc() = address("Jörg Müller", "jorg@example.org");
  *r.add_bcc() = address("", "audit@example.org");
  r.set_text_body("Hallo Frank,\nanbei der Bericht.\n.\n..Zeile mit Punkt\n");
  r.set_html_body("<p>Hallo <b>Frank</b> – anbei der Bericht.</p>\n");
  const auto pdf = random_bytes(300 * 1024, 7);
  const std::string notes = "Übersicht: 3 Positionen\n";
  auto* a1 = r.add_attachments();
  a1->set_filename("bericht.pdf");
  a1->set_content_type("application/pdf");
  a1->set_data(pdf);
  auto* a2 = r.add_attachments();
  a2->set_filename("Übersicht.txt");
  a2->set_content_type("text/plain");
  a2->set_data(notes);

  pb::SendMessageResponse response;
  auto st = send(r, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_FALSE(response.message_id().empty());
  ASSERT_EQ(response.recipients_size(), 3);
  for (const auto& rcpt : response.recipients()) EXPECT_TRUE(rcpt.accepted()) << rcpt.address();

  auto m = recorded(response.message_id());
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->mail_from, "grace@example.org");
  EXPECT_EQ(m->rcpt_to, (std::vector<std::string>{"frank@example.org", "jorg@example.org", "audit@example.org"}));
  EXPECT_EQ(m->user, user);  // the session's own credentials
  EXPECT_TRUE(m->tls);
  const auto raw = smtp_testbed::read_file(m->eml_path);
  EXPECT_EQ(raw.size(), response.size());
  EXPECT_EQ(raw.find("audit@"), std::string::npos) << "Bcc leaked into the headers";

  const auto parsed = smtp_testbed::parse_eml(m->eml_path);
  EXPECT_TRUE(parsed["defects"].empty()) << parsed["defects"].dump();
  EXPECT_EQ(parsed["headers"]["Subject"], r.subject());
  EXPECT_EQ(parsed["headers"]["Message-ID"], response.message_id());
  EXPECT_NE(parsed["headers"]["Cc"].get<std::string>().find("Jörg Müller"), std::string::npos);
  const auto& parts = parsed["parts"];
  ASSERT_EQ(parts.size(), 4u) << parsed.dump(1);
  EXPECT_EQ(parts[0]["content_type"], "text/plain");
  EXPECT_EQ(without_cr(parts[0]["text"].get<std::string>()), r.text_body());
  EXPECT_EQ(parts[1]["content_type"], "text/html");
  EXPECT_EQ(without_cr(parts[1]["text"].get<std::string>()), r.html_body());
  EXPECT_EQ(parts[2]["filename"], "bericht.pdf");
  EXPECT_EQ(parts[2]["length"], pdf.size());
  EXPECT_EQ(parts[2]["sha256"], sha256_hex(pdf));
  EXPECT_EQ(parts[3]["filename"], "Übersicht.txt");
  EXPECT_EQ(parts[3]["sha256"], sha256_hex(notes));

  EXPECT_TRUE(wait_for_status("send-" + suffix_, [](const pb::SessionStatus& s) { return s.smtp().messages_sent() > 0; }));
  const auto status = status_of("send-" + suffix_);
  ASSERT_TRUE(status.has_smtp());
  EXPECT_EQ(status.smtp().port(), smtp_->smtp_port());
  EXPECT_TRUE(status.smtp().connected());  // kept for the next send
  EXPECT_EQ(status.smtp().messages_sent(), 1u);
  EXPECT_EQ(status.smtp().send_failures(), 0u);
}

TEST_F(send_mail, refused_recipients_are_reported_one_by_one) {
  auto r = basic_message("mixed " + suffix_);
  *r.add_to() = address("", "reject-me@example.org");
  *r.add_to() = address("", "defer-me@example.org");
  pb::SendMessageResponse response;
  auto st = send(r, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(response.recipients_size(), 3);
  EXPECT_TRUE(response.recipients(0).accepted());
  EXPECT_FALSE(response.recipients(1).accepted());
  EXPECT_EQ(response.recipients(1).code(), 550u);
  EXPECT_EQ(response.recipients(1).enhanced_code(), "5.1.1");
  EXPECT_FALSE(response.recipients(2).accepted());
  EXPECT_EQ(response.recipients(2).code(), 451u);
  auto m = recorded(response.message_id());
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->rcpt_to, std::vector<std::string>{"frank@example.org"});

  // Nobody accepted: FAILED_PRECONDITION naming each address, nothing recorded.
  auto none = basic_message("nobody " + suffix_);
  none.mutable_to(0)->set_address("reject-all@example.org");
  pb::SendMessageResponse refused;
  st = send(none, &refused);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("reject-all@example.org"), std::string::npos) << st.error_message();
  // The connection is still usable afterwards (RSET after the refusal).
  pb::SendMessageResponse again;
  EXPECT_TRUE(send(basic_message("after refusal " + suffix_), &again).ok());
}

TEST_F(send_mail, bad_input_gets_a_clear_error_and_the_session_stays) {
  struct bad {
    const char* name;
    std::function<void(pb::SendMessageRequest&)> mutate;
    grpc::StatusCode code;
    const char* field;
  };
  const bad cases[] = {
      {"no recipients", [](auto& r) { r.clear_to(); }, grpc::StatusCode::INVALID_ARGUMENT, "recipient"},
      {"bad address", [](auto& r) { r.mutable_to(0)->set_address("not-an-address"); },
       grpc::StatusCode::INVALID_ARGUMENT, "to[0]"},
      {"header injection", [](auto& r) { r.set_subject("hi\r\nBcc: evil@example.org"); },
       grpc::StatusCode::INVALID_ARGUMENT, "subject"},
      {"from not an address", [](auto& r) { r.clear_from(); }, grpc::StatusCode::INVALID_ARGUMENT, "from.address"},
      {"no lease", [](auto& r) { r.set_lease_id("nope"); }, grpc::StatusCode::NOT_FOUND, "lease_id"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = basic_message("bad " + suffix_);
    c.mutate(r);
    pb::SendMessageResponse response;
    auto st = send(r, &response);
    EXPECT_EQ(st.error_code(), c.code) << st.error_message();
    EXPECT_NE(st.error_message().find(c.field), std::string::npos) << st.error_message();
  }
  // A session without an SMTP leg cannot send, and says how to fix it.
  const auto plain = connect(imaps_request("nosmtp-" + suffix_, user));
  auto r = basic_message("no leg");
  r.set_lease_id(plain);
  pb::SendMessageResponse response;
  auto st = send(r, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("spec.smtp"), std::string::npos) << st.error_message();
  // Wrong SMTP credentials: UNAUTHENTICATED, the password nowhere, the IMAP session fine.
  auto wrong = with_smtp(imaps_request("badsmtp-" + suffix_, user));
  auto* basic = wrong.mutable_spec()->mutable_smtp()->mutable_basic();
  basic->set_username(user);
  basic->mutable_password()->set_inline_value("wrong-smtp-password-123");
  const auto bad_lease = connect(wrong);
  r.set_lease_id(bad_lease);
  st = send(r, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_EQ(st.error_message().find("wrong-smtp-password-123"), std::string::npos);
  EXPECT_EQ(captured_logs().find("wrong-smtp-password-123"), std::string::npos);
  // Status's counters are refreshed as the send finishes, a moment after its reply.
  EXPECT_TRUE(wait_for_status("badsmtp-" + suffix_, [](const pb::SessionStatus& s) { return s.smtp().send_failures() > 0; }));
  const auto status = status_of("badsmtp-" + suffix_);
  EXPECT_EQ(status.smtp().send_failures(), 1u);
  EXPECT_EQ(status.smtp().last_error().code(), "UNAUTHENTICATED");
  EXPECT_EQ(status.smtp().last_error().message().find("wrong-smtp-password-123"), std::string::npos);
  EXPECT_TRUE(wait_for_state("badsmtp-" + suffix_, pb::SESSION_STATE_READY));
  EXPECT_TRUE(wait_for_state("send-" + suffix_, pb::SESSION_STATE_READY));
}

TEST_F(send_mail, replies_and_forwards_carry_the_thread) {
  const std::string folder = "Send-" + suffix_;
  const std::string original_id = "<orig-" + suffix_ + "@test>";
  const std::string file = socket_dir_ + "/orig.eml";
  std::ofstream(file, std::ios::binary)
      << "From: Bob <bob@example.org>\r\nTo: grace@example.org\r\nCc: carol@example.org\r\n"
         "Subject: Quarterly numbers\r\nMessage-ID: "
      << original_id << "\r\nReferences: <older@test>\r\nDate: Thu, 26 Nov 2026 09:00:00 +0000\r\n\r\n"
                        "Original body " << suffix_ << "\r\n";
  dovecot().deliver(user, file, folder);
  pb::ListMessagesRequest list;
  list.set_lease_id(lease_);
  list.set_folder(folder);
  pb::ListMessagesResponse page;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(mailbox_->ListMessages(&context, list, &page).ok());
  }
  ASSERT_EQ(page.messages_size(), 1);
  const auto uid = page.messages(0).uid();

  pb::ReplyToMessageRequest reply;
  reply.set_lease_id(lease_);
  reply.set_folder(folder);
  reply.set_uid(uid);
  reply.set_reply_all(true);
  reply.set_text_body("Thanks, looks good.");
  *reply.mutable_from() = address("Grace", "grace@example.org");
  pb::SendMessageResponse replied;
  {
    grpc::ClientContext context;
    auto st = mailbox_->ReplyToMessage(&context, reply, &replied);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  auto m = recorded(replied.message_id());
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->rcpt_to, (std::vector<std::string>{"bob@example.org", "carol@example.org"}));
  auto parsed = smtp_testbed::parse_eml(m->eml_path);
  EXPECT_EQ(parsed["headers"]["Subject"], "Re: Quarterly numbers");
  EXPECT_EQ(parsed["headers"]["In-Reply-To"], original_id);
  EXPECT_EQ(parsed["headers"]["References"], "<older@test> " + original_id);
  const auto text = parsed["parts"][0]["text"].get<std::string>();
  EXPECT_EQ(text.rfind("Thanks, looks good.", 0), 0u) << text;
  EXPECT_NE(text.find("> Original body " + suffix_), std::string::npos) << text;

  pb::ForwardMessageRequest forward;
  forward.set_lease_id(lease_);
  forward.set_folder(folder);
  forward.set_uid(uid);
  *forward.add_to() = address("Frank", "frank@example.org");
  forward.set_text_body("FYI");
  *forward.mutable_from() = address("", "grace@example.org");
  pb::SendMessageResponse forwarded;
  {
    grpc::ClientContext context;
    auto st = mailbox_->ForwardMessage(&context, forward, &forwarded);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  m = recorded(forwarded.message_id());
  ASSERT_TRUE(m.has_value());
  parsed = smtp_testbed::parse_eml(m->eml_path);
  EXPECT_EQ(parsed["headers"]["Subject"], "Fwd: Quarterly numbers");
  bool found_original = false;
  for (const auto& part : parsed["parts"]) {
    if (part.contains("text") && part["text"].is_string() &&
        part["text"].get<std::string>().find("Original body " + suffix_) != std::string::npos) {
      found_original = true;
    }
  }
  EXPECT_TRUE(found_original) << parsed.dump(1);
  EXPECT_NE(smtp_testbed::read_file(m->eml_path).find("message/rfc822"), std::string::npos);
}

}  // namespace
}  // namespace mailbroker::testing
