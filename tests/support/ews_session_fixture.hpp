#pragma once
// EWS sessions through the in-process daemon against the fake EWS server (issue 11).
// One fake for the whole test binary (started on first use, ~1 s; emptied by reset() before
// every test, so each test starts with empty mailboxes, zero counters and no injections),
// a fresh daemon per test (broker_fixture), and helpers for Mailbox calls that name
// messages by MessageRef.item_id. Server-side effects are read back from the fake's
// control API (mailbox dump, counters, recorded requests, sent log).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "support/broker_fixture.hpp"
#include "support/ews_testbed.hpp"
#include "support/mail_text.hpp"

namespace mailbroker::testing {

// The fake EWS server of this test binary: started on first use, stopped at exit.
inline ews_testbed& shared_ews() {
  static ews_testbed instance;
  return instance;
}

class ews_fixture : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    ews().reset();
    start_broker();
    mailbox_ = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
  }

  ews_testbed& ews() { return shared_ews(); }

  // A Connect request for `user` of the fake: NTLM as TESTLAB\user, the fake's CA.
  pb::ConnectRequest ews_request(const std::string& session, const std::string& user = "alice") {
    pb::ConnectRequest r;
    r.set_session(session);
    r.set_client_name("ews-test");
    auto* spec = r.mutable_spec();
    spec->set_protocol(pb::PROTOCOL_EWS);
    spec->mutable_server()->mutable_tls()->set_ca_file(ews().ca_file());
    auto* leg = spec->mutable_ews();
    leg->set_url(ews().ews_url());
    leg->set_domain(ews().domain());
    leg->set_auth_scheme(pb::EWS_AUTH_SCHEME_NTLM);
    auto* basic = spec->mutable_auth()->mutable_basic();
    basic->set_username(user);
    basic->mutable_password()->set_inline_value(ews().password(user));
    return r;
  }

  // Connects; returns the lease ("" and a test failure when Connect fails).
  std::string connect(const pb::ConnectRequest& request) {
    pb::ConnectResponse response;
    auto st = client_->connect(request, &response);
    EXPECT_TRUE(st.ok()) << request.session() << ": " << st.error_message();
    return response.lease_id();
  }

  // An RFC 5322 message (CRLF line ends) from `from` with `subject` and `body`.
  static std::string message(const std::string& subject, const std::string& body = "Hello.",
                             const std::string& from = "Bob Sender <bob@testlab.test>",
                             const std::string& to = "alice@testlab.test", const std::string& message_id = {}) {
    static int counter = 0;
    const std::string id = message_id.empty() ? "<ews-test-" + std::to_string(++counter) + "@testlab.test>" : message_id;
    return crlf("From: " + from + "\nTo: " + to + "\nSubject: " + subject +
                "\nDate: Thu, 26 Nov 2026 09:00:00 +0000\nMessage-ID: " + id +
                "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n");
  }

  // Delivers `bytes` to `folder` of `user` (the folder is made if missing); returns the item id.
  std::string deliver_bytes(const std::string& bytes, const std::string& folder = "INBOX",
                            const std::string& user = "alice") {
    const std::string file = socket_dir_ + "/deliver-" + std::to_string(++files_) + ".eml";
    std::ofstream(file, std::ios::binary) << bytes;
    const auto answer = nlohmann::json::parse(ews().deliver(user, file, folder));
    return answer.at("item_id").get<std::string>();
  }
  std::string deliver(const std::string& subject, const std::string& folder = "INBOX",
                      const std::string& user = "alice") {
    return deliver_bytes(message(subject), folder, user);
  }

  // The fake's view of a mailbox: {"folders": [{"name", "path", "distinguished", "items":
  // [{"id", "subject", "is_read", "flag", "conversation_id", ...}]}]}.
  nlohmann::json mailbox_dump(const std::string& user) {
    return nlohmann::json::parse(run_command("curl -fsS --max-time 30 '" + ews().control_url() + "/mailbox?user=" +
                                             user + "'"));
  }
  // The items of the folder named `distinguished` ("inbox", "sentitems", "deleteditems")
  // or, when no folder has that distinguished name, whose path is `distinguished`.
  std::vector<nlohmann::json> items_in(const std::string& user, const std::string& folder) {
    const nlohmann::json dump = mailbox_dump(user);
    std::vector<nlohmann::json> out;
    for (const auto& f : dump.at("folders")) {
      const bool named = (f.at("distinguished").is_string() && f.at("distinguished") == folder) || f.at("path") == folder;
      if (!named) continue;
      for (const auto& i : f.at("items")) out.push_back(i);
    }
    return out;
  }
  // The item with `id` anywhere in the mailbox, with "folder_path" added; null if none.
  nlohmann::json find_item(const std::string& user, const std::string& id) {
    const nlohmann::json dump = mailbox_dump(user);
    for (const auto& f : dump.at("folders")) {
      for (const auto& i : f.at("items")) {
        if (i.at("id") == id) {
          auto copy = i;
          copy["folder_path"] = f.at("path");
          copy["folder_distinguished"] = f.at("distinguished");
          return copy;
        }
      }
    }
    return nullptr;
  }

  static pb::MessageRef item(const std::string& id, const std::string& change_key = {}) {
    pb::MessageRef r;
    r.set_item_id(id);
    r.set_change_key(change_key);
    return r;
  }

  pb::ListMessagesResponse list(const std::string& lease, pb::ListMessagesRequest request,
                                grpc::Status* status = nullptr) {
    request.set_lease_id(lease);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
    pb::ListMessagesResponse response;
    auto st = mailbox_->ListMessages(&context, request, &response);
    if (status) *status = st;
    else EXPECT_TRUE(st.ok()) << "ListMessages: " << st.error_message();
    return response;
  }
  pb::ListMessagesResponse list(const std::string& lease, const std::string& folder = "INBOX",
                                grpc::Status* status = nullptr) {
    pb::ListMessagesRequest request;
    request.set_folder(folder);
    return list(lease, request, status);
  }

  // GetMessage, every chunk concatenated.
  grpc::Status fetch(const std::string& lease, const pb::MessageRef& ref, std::string* bytes,
                     const std::string& folder = "INBOX") {
    pb::GetMessageRequest request;
    request.set_lease_id(lease);
    request.set_folder(folder);
    *request.mutable_ref() = ref;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = mailbox_->GetMessage(&context, request);
    pb::MessageChunk chunk;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.offset(), bytes->size());
      *bytes += chunk.data();
    }
    return reader->Finish();
  }

  grpc::Status set_flags(const std::string& lease, const std::vector<pb::MessageRef>& refs, std::optional<bool> seen,
                         std::optional<bool> flagged) {
    pb::SetFlagsRequest request;
    request.set_lease_id(lease);
    request.set_folder("INBOX");
    for (const auto& r : refs) *request.add_refs() = r;
    if (seen) request.set_seen(*seen);
    if (flagged) request.set_flagged(*flagged);
    grpc::ClientContext context;
    pb::SetFlagsResponse response;
    return mailbox_->SetFlags(&context, request, &response);
  }

  // The summary whose subject is `subject` in `folder` ("" ref when none).
  pb::MessageSummary summary_of(const std::string& lease, const std::string& subject,
                                const std::string& folder = "INBOX") {
    pb::ListMessagesRequest request;
    request.set_folder(folder);
    request.set_limit(1000);
    const auto page = list(lease, request);  // a range-for over a temporary's member dangles
    for (const auto& m : page.messages()) {
      if (m.subject() == subject) return m;
    }
    return {};
  }

  std::unique_ptr<pb::Mailbox::Stub> mailbox_;
  int files_ = 0;
};

}  // namespace mailbroker::testing
