// SessionBroker.TestConnection and `mailbroker test` against the real Dovecot and SMTP
// testbeds: every step timed on success, the failing step and its fix otherwise, no
// secret anywhere in the reply, and nothing left behind (no session, no store record,
// no connection).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

#include "support/broker_fixture.hpp"
#include "support/eventually.hpp"
#include "support/smtp_testbed.hpp"
#include "support/trust_support.hpp"

namespace mailbroker::testing {
namespace {

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::vector<std::string> names_of(const pb::TestConnectionResponse& r) {
  std::vector<std::string> out;
  for (const auto& s : r.steps()) out.push_back(s.name());
  return out;
}

const pb::TestStep* step_named(const pb::TestConnectionResponse& r, const std::string& name) {
  for (const auto& s : r.steps()) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

// Every step passed and took time; the reply is consistent with that.
void expect_all_ok(const pb::TestConnectionResponse& r) {
  EXPECT_TRUE(r.ok()) << r.DebugString();
  EXPECT_TRUE(r.failed_step().empty()) << r.failed_step();
  EXPECT_TRUE(r.fix().empty()) << r.fix();
  for (const auto& s : r.steps()) {
    EXPECT_TRUE(s.ok()) << s.name();
    EXPECT_GT(s.duration_us(), 0u) << s.name();
    EXPECT_TRUE(s.error().empty()) << s.name() << ": " << s.error();
  }
}

// The reply failed at `step`, which is its last step; every step before it passed.
void expect_failed_at(const pb::TestConnectionResponse& r, const std::string& step) {
  EXPECT_FALSE(r.ok()) << r.DebugString();
  EXPECT_EQ(r.failed_step(), step) << r.DebugString();
  ASSERT_GT(r.steps_size(), 0);
  const auto& last = r.steps(r.steps_size() - 1);
  EXPECT_EQ(last.name(), step);
  EXPECT_FALSE(last.ok());
  EXPECT_FALSE(last.error().empty());
  EXPECT_FALSE(r.fix().empty());
  for (int i = 0; i + 1 < r.steps_size(); ++i) EXPECT_TRUE(r.steps(i).ok()) << r.steps(i).name();
}

class test_connection : public broker_fixture {
 protected:
  static void SetUpTestSuite() { smtp_ = new smtp_testbed(shared_dovecot().state_dir()); }
  static void TearDownTestSuite() {
    delete smtp_;
    smtp_ = nullptr;
  }

  void SetUp() override {
    broker_fixture::SetUp();
    start_broker();
  }

  // imaps_request() as a TestConnectionRequest.
  pb::TestConnectionRequest imaps(const std::string& session, const std::string& user = "erin") const {
    auto connect = imaps_request(session, user);
    pb::TestConnectionRequest r;
    r.set_session(connect.session());
    *r.mutable_spec() = connect.spec();
    return r;
  }

  pb::TestConnectionResponse run(const pb::TestConnectionRequest& request) {
    pb::TestConnectionResponse response;
    auto st = client_->test_connection(request, &response, std::chrono::seconds(30));
    EXPECT_TRUE(st.ok()) << st.error_code() << ": " << st.error_message();
    return response;
  }

  // No session exists and Dovecot holds no connection of `user`.
  void expect_nothing_left(const std::string& session, const std::string& user) {
    pb::StatusResponse st;
    EXPECT_EQ(client_->status(session, &st).error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(client_->status("", &st).error_code(), grpc::StatusCode::OK);
    EXPECT_EQ(st.total_sessions(), 0u);
    EXPECT_TRUE(wait_for_who(user, 0)) << "a connection of " << user << " is still open";
  }

  static smtp_testbed* smtp_;
};

smtp_testbed* test_connection::smtp_ = nullptr;

TEST_F(test_connection, ImapsPassesEveryStepAndLeavesNothingBehind) {
  const auto r = run(imaps("tc-imaps"));
  expect_all_ok(r);
  const auto names = names_of(r);
  // Dovecot announces its capabilities in the greeting: no separate CAPABILITY step.
  EXPECT_EQ(names, (std::vector<std::string>{"dns", "tcp", "tls", "greeting", "auth", "first_call", "logout"}));
  const auto port = std::to_string(dovecot().imaps_port());
  EXPECT_EQ(step_named(r, "dns")->detail(), "127.0.0.1");
  EXPECT_EQ(step_named(r, "tcp")->detail(), "127.0.0.1:" + port);
  const auto& tls = step_named(r, "tls")->detail();
  EXPECT_TRUE(contains(tls, "TLSv1.")) << tls;
  EXPECT_TRUE(contains(tls, "CN=")) << tls;
  EXPECT_TRUE(contains(tls, "expires 20")) << tls;
  EXPECT_TRUE(contains(step_named(r, "greeting")->detail(), "AUTH=PLAIN")) << step_named(r, "greeting")->detail();
  // Dovecot offers AUTH=PLAIN and SASL-IR: the login is one AUTHENTICATE PLAIN line.
  EXPECT_EQ(step_named(r, "auth")->detail(), "AUTHENTICATE PLAIN (SASL-IR) as erin");
  EXPECT_TRUE(contains(step_named(r, "first_call")->detail(), "EXAMINE INBOX: ")) << step_named(r, "first_call")->detail();

  expect_nothing_left("tc-imaps", "erin");
  // Audited like a Connect.
  const auto audit = read_text_file(socket_dir_ + "/state/audit.log");
  EXPECT_TRUE(contains(audit, R"("call":"TestConnection","session":"tc-imaps")")) << audit;
  EXPECT_TRUE(contains(audit, R"("detail":"ok")")) << audit;
  // Nothing in the store either: a daemon restarted on the same state has no session to restore.
  start_broker();
  pb::StatusResponse st;
  ASSERT_TRUE(client_->status("", &st).ok());
  EXPECT_EQ(st.total_sessions(), 0u);
}

TEST_F(test_connection, StartTlsReportsGreetingStartTlsAndCapabilities) {
  auto request = imaps("tc-starttls");
  auto* server = request.mutable_spec()->mutable_server();
  server->set_port(dovecot().imap_port());
  server->set_tls_mode(pb::TLS_MODE_STARTTLS);
  const auto r = run(request);
  expect_all_ok(r);
  EXPECT_EQ(names_of(r), (std::vector<std::string>{"dns", "tcp", "greeting", "starttls", "capabilities", "auth",
                                                    "first_call", "logout"}));
  EXPECT_TRUE(contains(step_named(r, "starttls")->detail(), "TLSv1.")) << step_named(r, "starttls")->detail();
  EXPECT_TRUE(contains(step_named(r, "capabilities")->detail(), "AUTH=PLAIN"));
  expect_nothing_left("tc-starttls", "erin");
}

TEST_F(test_connection, Pop3sPassesWithStat) {
  auto request = imaps("tc-pop3");
  request.mutable_spec()->set_protocol(pb::PROTOCOL_POP3);
  request.mutable_spec()->mutable_server()->set_port(dovecot().pop3s_port());
  const auto r = run(request);
  expect_all_ok(r);
  EXPECT_EQ(names_of(r), (std::vector<std::string>{"dns", "tcp", "tls", "greeting", "capabilities", "auth",
                                                    "first_call", "logout"}));
  EXPECT_TRUE(contains(step_named(r, "first_call")->detail(), "STAT: ")) << step_named(r, "first_call")->detail();
  EXPECT_EQ(step_named(r, "logout")->detail(), "QUIT");
  expect_nothing_left("tc-pop3", "erin");
}

TEST_F(test_connection, WrongPasswordFailsAtAuthWithoutTheSecretAnywhere) {
  const std::string wrong = "wrong-password-5e1b7c0d";
  auto request = imaps("tc-wrong");
  request.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_inline_value(wrong);
  const auto r = run(request);
  expect_failed_at(r, "auth");
  EXPECT_TRUE(contains(r.fix(), "refused the credentials")) << r.fix();
  EXPECT_TRUE(contains(step_named(r, "auth")->error(), "UNAUTHENTICATED")) << step_named(r, "auth")->error();
  EXPECT_EQ(step_named(r, "auth")->detail(), "AUTHENTICATE PLAIN (SASL-IR) as erin");
  // The whole reply, every field and its encoding, and the daemon's log.
  for (const auto& text : {r.SerializeAsString(), r.DebugString(), captured_logs()}) {
    EXPECT_FALSE(contains(text, wrong));
    EXPECT_FALSE(contains(text, dovecot().password("erin")));
  }
  expect_nothing_left("tc-wrong", "erin");
}

TEST_F(test_connection, UntrustedCertificateFailsAtTls) {
  auto request = imaps("tc-untrusted");
  request.mutable_spec()->mutable_server()->mutable_tls()->clear_ca_file();  // the system store does not know it
  const auto r = run(request);
  expect_failed_at(r, "tls");
  EXPECT_TRUE(contains(r.fix(), "not trusted")) << r.fix();
  EXPECT_TRUE(contains(r.fix(), "--ca-file")) << r.fix();
  // The certificate the server sent is still described.
  EXPECT_TRUE(contains(step_named(r, "tls")->detail(), "CN=")) << step_named(r, "tls")->detail();
  EXPECT_TRUE(contains(step_named(r, "tls")->error(), "FAILED_PRECONDITION")) << step_named(r, "tls")->error();
}

TEST_F(test_connection, ClosedPortFailsAtTcp) {
  auto request = imaps("tc-closed");
  request.mutable_spec()->mutable_server()->set_port(1);  // nothing listens there on loopback
  const auto r = run(request);
  expect_failed_at(r, "tcp");
  EXPECT_EQ(names_of(r), (std::vector<std::string>{"dns", "tcp"}));
  EXPECT_TRUE(contains(r.fix(), "port")) << r.fix();
}

TEST_F(test_connection, UnknownHostFailsAtDns) {
  auto request = imaps("tc-dns");
  request.mutable_spec()->mutable_server()->set_host("no-such-host.invalid");
  const auto r = run(request);
  expect_failed_at(r, "dns");
  EXPECT_EQ(r.steps_size(), 1);
  EXPECT_TRUE(contains(r.fix(), "host name")) << r.fix();
}

TEST_F(test_connection, SmtpLegIsTestedAfterTheMailbox) {
  auto request = imaps("tc-smtp", "grace");
  auto* server = request.mutable_spec()->mutable_smtp()->mutable_server();
  server->set_host(smtp_->host());
  server->set_port(smtp_->smtp_port());
  server->set_tls_mode(pb::TLS_MODE_STARTTLS);
  server->mutable_tls()->set_ca_file(smtp_->ca_file());
  const auto before = smtp_->messages().size();
  const auto r = run(request);
  expect_all_ok(r);
  const auto names = names_of(r);
  const std::vector<std::string> smtp_steps(names.end() - 7, names.end());
  EXPECT_EQ(smtp_steps, (std::vector<std::string>{"smtp.dns", "smtp.tcp", "smtp.greeting", "smtp.starttls",
                                                   "smtp.ehlo", "smtp.auth", "smtp.logout"}));
  EXPECT_TRUE(contains(step_named(r, "smtp.auth")->detail(), "as grace")) << step_named(r, "smtp.auth")->detail();
  EXPECT_EQ(smtp_->messages().size(), before);  // nothing was sent

  // A wrong SMTP password of its own fails at smtp.auth, after the mailbox passed.
  const std::string wrong = "smtp-wrong-9a8b7c";
  auto* basic = request.mutable_spec()->mutable_smtp()->mutable_basic();
  basic->set_username("grace");
  basic->mutable_password()->set_inline_value(wrong);
  const auto failed = run(request);
  expect_failed_at(failed, "smtp.auth");
  EXPECT_TRUE(contains(failed.fix(), "--smtp-user")) << failed.fix();
  EXPECT_FALSE(contains(failed.SerializeAsString(), wrong));
  EXPECT_TRUE(step_named(failed, "logout") != nullptr && step_named(failed, "logout")->ok());
}

// A listener that never accepts: the kernel completes the TCP handshake and then nothing
// is ever said, so a test waits in "greeting" until its connect timeout.
class silent_listener {
 public:
  silent_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "silent listener: " << std::strerror(errno);
    }
    port_ = ntohs(a.sin_port);
  }
  ~silent_listener() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST_F(test_connection, AtMostFourTestsRunAtOnceAndASilentServerFailsAtGreeting) {
  silent_listener silent;
  auto request = imaps("tc-silent");
  auto* server = request.mutable_spec()->mutable_server();
  server->set_port(silent.port());
  server->set_tls_mode(pb::TLS_MODE_PLAIN);
  server->set_allow_plaintext(true);
  request.mutable_spec()->set_connect_timeout_ms(2000);
  std::vector<std::future<std::pair<grpc::Status, pb::TestConnectionResponse>>> calls;
  for (int i = 0; i < 6; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      pb::TestConnectionResponse response;
      auto st = client_->test_connection(request, &response, std::chrono::seconds(20));
      return std::make_pair(st, response);
    }));
  }
  int refused = 0, ran = 0;
  for (auto& call : calls) {
    auto [st, response] = call.get();
    if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      EXPECT_TRUE(contains(st.error_message(), "4 connection tests are already running")) << st.error_message();
      continue;
    }
    ASSERT_TRUE(st.ok()) << st.error_message();
    ++ran;
    expect_failed_at(response, "greeting");
    EXPECT_GE(response.steps(response.steps_size() - 1).duration_us(), 1900000u);
  }
  EXPECT_EQ(ran, 4);
  EXPECT_EQ(refused, 2);
  // The slots are free again.
  pb::TestConnectionResponse after;
  EXPECT_TRUE(client_->test_connection(imaps("tc-after"), &after).ok());
  EXPECT_TRUE(after.ok()) << after.DebugString();
}

TEST_F(test_connection, CallErrorsAreThoseOfConnect) {
  pb::TestConnectionResponse response;
  // A malformed spec: INVALID_ARGUMENT naming the field, as Connect.
  auto bad = imaps("tc-bad");
  bad.mutable_spec()->mutable_server()->set_host("");
  auto st = client_->test_connection(bad, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "spec.server.host")) << st.error_message();
  auto bad_name = imaps("a b/c");
  EXPECT_EQ(client_->test_connection(bad_name, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A daemon-side secret with no binding to this server: PERMISSION_DENIED, nothing tried.
  auto unbound = imaps("tc-unbound");
  unbound.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_env("MB_TEST_UNSET_VARIABLE");
  st = client_->test_connection(unbound, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "env:MB_TEST_UNSET_VARIABLE")) << st.error_message();
}

// The CLI: `mailbroker test` takes connect's flags, prints a line per step, exits 0 or 3;
// a local user without `connect` on the name gets PERMISSION_DENIED.
TEST_F(test_connection, CliPrintsStepsAndExitsByOutcome) {
  ASSERT_EQ(::chmod(socket_dir_.c_str(), 0755), 0);
  daemon::daemon_config config;
  config.socket_mode = 0666;
  start_broker(config);
  const std::string target = "unix:" + socket_dir_ + "/d.sock";
  auto cli = [&](const std::string& password, const std::string& session, uid_t uid = 0) {
    const std::string cmd = "MB_TC_PW=" + shell_quote(password) + " " + (uid == 0 ? "" : "setpriv --reuid=" +
                            std::to_string(uid) + " --regid=" + std::to_string(uid) + " --clear-groups ") +
                            shell_quote(MB_CLI_PATH) + " --target " + shell_quote(target) + " test " + session +
                            " --host 127.0.0.1 --port " + std::to_string(dovecot().imaps_port()) + " --ca-file " +
                            shell_quote(dovecot().ca_file()) + " --user erin --password-env MB_TC_PW";
    return run_shell(cmd, 60);
  };
  const auto passed = cli(dovecot().password("erin"), "tc-cli");
  EXPECT_EQ(passed.exit_code, 0) << passed.out << passed.err;
  EXPECT_TRUE(contains(passed.out, "ok   tls ")) << passed.out;
  EXPECT_TRUE(contains(passed.out, " ms  TLSv1.")) << passed.out;
  EXPECT_TRUE(contains(passed.out, "connection test passed")) << passed.out;

  const std::string wrong = "cli-wrong-3c4d5e";
  const auto failed = cli(wrong, "tc-cli");
  EXPECT_EQ(failed.exit_code, 3) << failed.out << failed.err;
  EXPECT_TRUE(contains(failed.out, "FAIL auth ")) << failed.out;
  EXPECT_TRUE(contains(failed.out, "fix: the server refused the credentials")) << failed.out;
  EXPECT_FALSE(contains(failed.out + failed.err, wrong));

  const auto denied = cli(dovecot().password("erin"), "tc-cli", 65534);  // nobody: no allow rule names it
  EXPECT_EQ(denied.exit_code, 3) << denied.out << denied.err;
  EXPECT_TRUE(contains(denied.err, "PERMISSION_DENIED")) << denied.err;
  EXPECT_TRUE(contains(denied.err, "connect")) << denied.err;
  EXPECT_FALSE(contains(denied.out, "ok   ")) << denied.out;
}

}  // namespace
}  // namespace mailbroker::testing
