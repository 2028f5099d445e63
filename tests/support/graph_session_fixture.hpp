#pragma once
// Graph sessions through the in-process daemon against the fake Microsoft Graph (issue 12).
// Tokens come from the real test OAuth2 server (oidc-provider, shared_oauth2()): the fake
// checks each one there by introspection, so a session's token is the one the daemon
// fetched itself. App-only sessions use the client-credentials client (its token has no
// `sub`: the fake treats it as app-only and lets it open any /users/{mailbox}); delegated
// /me sessions use the password grant (the token's user is the fake's /me).
// One fake per test binary (started on first use, ~1 s; emptied by reset() before every
// test, so each test starts with empty mailboxes, zero counters, no injections and the
// fake's default limits), a fresh daemon per test (broker_fixture), and helpers for
// Mailbox calls that name messages by MessageRef.item_id. Server-side effects are read
// back from the fake's control API (mailbox dump, counters, recorded requests).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "support/broker_fixture.hpp"
#include "support/graph_testbed.hpp"
#include "support/mail_text.hpp"
#include "support/oauth2_testbed.hpp"

namespace mailbroker::testing {

// The script environment that makes a fake check tokens at the shared OAuth2 server.
inline std::string graph_introspection_env() {
  return "MB_GRAPH_OAUTH2_INTROSPECT_URL=" + shared_oauth2().env("OAUTH2_INTROSPECT_URL_FOR_DOVECOT") + " ";
}

// The fake Graph of this test binary (default limits: 4 in flight per mailbox, Retry-After
// 1 s): started on first use, stopped at exit (after it, the OAuth2 server it asks, which
// was made first).
inline graph_testbed& shared_graph() {
  static graph_testbed instance(graph_introspection_env());
  return instance;
}

// The account's password at the OAuth2 server (OAUTH2_ACCOUNT_PASSWORDS is USER:PASSWORD,...).
inline std::string idp_password(const std::string& user) {
  const std::string all = "," + shared_oauth2().env("OAUTH2_ACCOUNT_PASSWORDS");
  const auto at = all.find("," + user + ":");
  if (at == std::string::npos) throw std::runtime_error("no password for " + user + " in OAUTH2_ACCOUNT_PASSWORDS");
  const auto begin = at + user.size() + 2;
  return all.substr(begin, all.find(',', begin) - begin);
}

class graph_fixture : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    graph().reset();
    start_broker();
    mailbox_ = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
  }

  // The fake this fixture's tests use; a suite with a differently configured fake overrides it.
  virtual graph_testbed& graph() { return shared_graph(); }

  // The current test's name, for session names that never clash between tests.
  static std::string test_name() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

  // An app-only Connect request: client credentials at the OAuth2 server, the fake as a
  // custom cloud, /users/`mailbox` ("" leaves graph.mailbox unset).
  pb::ConnectRequest app_request(const std::string& session, const std::string& mailbox = "alice@testlab.test") {
    auto& o = shared_oauth2();
    pb::ConnectRequest r;
    r.set_session(session);
    r.set_client_name("graph-test");
    auto* spec = r.mutable_spec();
    spec->set_protocol(pb::PROTOCOL_GRAPH);
    spec->mutable_server()->mutable_tls()->set_ca_file(graph().ca_file());
    auto* leg = spec->mutable_graph();
    leg->set_cloud(pb::GRAPH_CLOUD_CUSTOM);
    leg->set_base_url(graph().base_url());
    leg->set_mailbox(mailbox);
    auto* cc = spec->mutable_auth()->mutable_oauth2_client_credentials();
    cc->set_provider(pb::OAUTH2_PROVIDER_CUSTOM);
    cc->set_token_url(o.env("OAUTH2_TOKEN_URL"));
    cc->set_token_ca_file(o.env("OAUTH2_CA_FILE"));
    cc->set_client_id(o.env("OAUTH2_CC_CLIENT_ID"));
    cc->mutable_client_secret()->set_inline_value(o.env("OAUTH2_CC_CLIENT_SECRET"));
    cc->add_scopes(o.env("OAUTH2_SCOPE"));  // "imap": the scope the fake requires
    return r;
  }

  // A delegated Connect request: the password grant for `user` (alice, bob, carol, dave),
  // graph.mailbox `mailbox` ("" = /me).
  pb::ConnectRequest delegated_request(const std::string& session, const std::string& user,
                                       const std::string& mailbox = "") {
    auto& o = shared_oauth2();
    pb::ConnectRequest r;
    r.set_session(session);
    r.set_client_name("graph-test");
    auto* spec = r.mutable_spec();
    spec->set_protocol(pb::PROTOCOL_GRAPH);
    spec->mutable_server()->mutable_tls()->set_ca_file(graph().ca_file());
    auto* leg = spec->mutable_graph();
    leg->set_cloud(pb::GRAPH_CLOUD_CUSTOM);
    leg->set_base_url(graph().base_url());
    leg->set_mailbox(mailbox);
    auto* p = spec->mutable_auth()->mutable_oauth2_password();
    p->set_provider(pb::OAUTH2_PROVIDER_CUSTOM);
    p->set_token_url(o.env("OAUTH2_TOKEN_URL"));
    p->set_token_ca_file(o.env("OAUTH2_CA_FILE"));
    p->set_client_id(o.env("OAUTH2_ROPC_CLIENT_ID"));
    p->mutable_client_secret()->set_inline_value(o.env("OAUTH2_ROPC_CLIENT_SECRET"));
    p->add_scopes(o.env("OAUTH2_SCOPE"));
    p->set_username(user);
    p->mutable_password()->set_inline_value(idp_password(user));
    return r;
  }

  // Connects; returns the lease ("" and a test failure when Connect fails).
  std::string connect(const pb::ConnectRequest& request) {
    pb::ConnectResponse response;
    auto st = client_->connect(request, &response);
    EXPECT_TRUE(st.ok()) << request.session() << ": " << st.error_message();
    return response.lease_id();
  }

  // An RFC 5322 message (CRLF line ends) from `from` to `to` (and `cc`) with `subject`.
  static std::string message(const std::string& subject, const std::string& body = "Hello.",
                             const std::string& from = "Bob Sender <bob@testlab.test>",
                             const std::string& to = "alice@testlab.test", const std::string& message_id = {},
                             const std::string& cc = {}) {
    static int counter = 0;
    const std::string id =
        message_id.empty() ? "<graph-test-" + std::to_string(++counter) + "@testlab.test>" : message_id;
    return crlf("From: " + from + "\nTo: " + to + (cc.empty() ? "" : "\nCc: " + cc) + "\nSubject: " + subject +
                "\nDate: Thu, 26 Nov 2026 09:00:00 +0000\nMessage-ID: " + id +
                "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n");
  }

  // Delivers `bytes` to `folder` ("INBOX", "INBOX/Sub", "Archive": made if missing) of
  // `user`; returns the Graph id. Each delivery of a test gets a receivedDateTime one
  // second after the previous one (Graph has whole seconds there, and a listing in
  // received order is only defined when they differ), starting now; or `received`.
  std::string deliver_bytes(const std::string& bytes, const std::string& folder = "INBOX",
                            const std::string& user = "alice", std::optional<std::time_t> received = std::nullopt) {
    const std::string file = socket_dir_ + "/deliver-" + std::to_string(++files_) + ".eml";
    std::ofstream(file, std::ios::binary) << bytes;
    if (!received) {
      const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
      last_received_ = std::max<std::time_t>(now, last_received_ + 1);
      received = last_received_;
    }
    const auto answer = graph().deliver(user, file, folder, iso_utc(*received));
    return answer.at("id").get<std::string>();
  }
  std::string deliver(const std::string& subject, const std::string& folder = "INBOX",
                      const std::string& user = "alice") {
    return deliver_bytes(message(subject), folder, user);
  }

  static std::string iso_utc(std::time_t t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }

  // The messages of the folder with `path` ("INBOX", "INBOX/Sub", "Sent Items", "Deleted Items").
  std::vector<nlohmann::json> items_in(const std::string& user, const std::string& path) {
    const nlohmann::json dump = graph().mailbox(user);  // a range-for over a temporary's member dangles
    std::vector<nlohmann::json> out;
    for (const auto& f : dump.at("folders")) {
      if (f.at("path") != path) continue;
      for (const auto& m : f.at("messages")) out.push_back(m);
    }
    return out;
  }
  // The message with `id` anywhere in `user`'s mailbox with "folder_path" added; null if none.
  nlohmann::json find_item(const std::string& user, const std::string& id) {
    const nlohmann::json dump = graph().mailbox(user);
    for (const auto& f : dump.at("folders")) {
      for (const auto& m : f.at("messages")) {
        if (m.at("id") == id) {
          auto copy = m;
          copy["folder_path"] = f.at("path");
          return copy;
        }
      }
    }
    return nullptr;
  }
  // Messages anywhere in `user`'s mailbox whose subject is `subject`, each with "folder_path".
  std::vector<nlohmann::json> with_subject(const std::string& user, const std::string& subject) {
    const nlohmann::json dump = graph().mailbox(user);
    std::vector<nlohmann::json> out;
    for (const auto& f : dump.at("folders")) {
      for (const auto& m : f.at("messages")) {
        if (m.at("subject") != subject) continue;
        auto copy = m;
        copy["folder_path"] = f.at("path");
        out.push_back(copy);
      }
    }
    return out;
  }

  // A recorded request's path percent-decoded (the daemon may encode the '@' of
  // /users/{address} and the '=' of ids; Graph reads both forms the same).
  static std::string path_of(const nlohmann::json& request) {
    const std::string path = request.at("path").get<std::string>();
    std::string out;
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (path[i] == '%' && i + 2 < path.size() && std::isxdigit(static_cast<unsigned char>(path[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(path[i + 2]))) {
        out += static_cast<char>(std::stoi(path.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += path[i];
      }
    }
    return out;
  }
  // Recorded requests whose method is `method` ("" = any) and whose path (see path_of)
  // contains `path_part`.
  std::vector<nlohmann::json> recorded(const std::string& method, const std::string& path_part = {}) {
    std::vector<nlohmann::json> out;
    const nlohmann::json all = graph().requests();
    for (const auto& r : all) {
      if ((method.empty() || r.at("method") == method) && path_of(r).find(path_part) != std::string::npos) {
        out.push_back(r);
      }
    }
    return out;
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
    if (status) {
      *status = st;
    } else {
      EXPECT_TRUE(st.ok()) << "ListMessages: " << st.error_message();
    }
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
                         std::optional<bool> flagged, const std::string& folder = "INBOX") {
    pb::SetFlagsRequest request;
    request.set_lease_id(lease);
    request.set_folder(folder);
    for (const auto& r : refs) *request.add_refs() = r;
    if (seen) request.set_seen(*seen);
    if (flagged) request.set_flagged(*flagged);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    pb::SetFlagsResponse response;
    return mailbox_->SetFlags(&context, request, &response);
  }

  // The summary whose subject is `subject` in `folder` (empty when none).
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

  static std::vector<std::string> subjects(const pb::ListMessagesResponse& page) {
    std::vector<std::string> out;
    for (const auto& m : page.messages()) out.push_back(m.subject());
    return out;
  }

  std::unique_ptr<pb::Mailbox::Stub> mailbox_;
  int files_ = 0;
  std::time_t last_received_ = 0;
};

}  // namespace mailbroker::testing
