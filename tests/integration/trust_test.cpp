// Issue #10's attacks replayed against the trust layer: exfiltration of daemon-side
// secrets, other local users hijacking leases, TCP callers without a verified identity,
// socket squatting, stream exhaustion, and policy reload on the real binary.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "client/vault_client.hpp"
#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "support/broker_fixture.hpp"
#include "support/eventually.hpp"
#include "support/trust_support.hpp"

namespace mailbroker::testing {
namespace {

constexpr uid_t nobody_uid = 65534;
constexpr uid_t daemon_uid = 1;  // "daemon": a second unprivileged local user
constexpr uid_t bin_uid = 2;     // "bin": a local user no rule names

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// `status` is `code` and its message names every one of `needles`.
void expect_status(const grpc::Status& status, grpc::StatusCode code, const std::vector<std::string>& needles,
                   const std::string& what) {
  EXPECT_EQ(status.error_code(), code) << what << ": " << status.error_message();
  for (const auto& n : needles) {
    EXPECT_TRUE(contains(status.error_message(), n)) << what << ": no '" << n << "' in: " << status.error_message();
  }
}

// The CLI failed with the daemon's PERMISSION_DENIED (exit 3) naming every one of `needles`.
void expect_cli_denied(const command_result& r, const std::vector<std::string>& needles, const std::string& what) {
  EXPECT_EQ(r.exit_code, 3) << what << "\nstdout: " << r.out << "\nstderr: " << r.err;
  EXPECT_TRUE(contains(r.err, "PERMISSION_DENIED")) << what << ": " << r.err;
  for (const auto& n : needles) EXPECT_TRUE(contains(r.err, n)) << what << ": no '" << n << "' in: " << r.err;
}

class trust_test : public broker_fixture {
 protected:
  std::string state_dir() const { return socket_dir_ + "/state"; }
  std::string audit_text() const { return read_text_file(state_dir() + "/audit.log"); }
  std::string cli_target() const { return "unix:" + socket_dir_ + "/d.sock"; }

  // Lets other local users reach the socket (the state directory stays 0700).
  void open_socket_to_all(daemon::daemon_config& config) {
    ASSERT_EQ(::chmod(socket_dir_.c_str(), 0755), 0);
    config.socket_mode = 0666;
  }

  // imaps_request() aimed at 127.0.0.1:`port` instead of Dovecot's IMAPS port (TLS with
  // Dovecot's CA, so a TLS handshake there fails: nothing may get that far anyway).
  pb::ConnectRequest aimed_at(const std::string& session, std::uint16_t port) const {
    auto r = imaps_request(session);
    r.mutable_spec()->mutable_server()->set_port(port);
    r.mutable_spec()->set_connect_timeout_ms(1000);
    return r;
  }

  static void password_from(pb::ConnectRequest& r, const std::string& kind, const std::string& value) {
    auto* pw = r.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password();
    if (kind == "vault") pw->set_vault(value);
    if (kind == "env") pw->set_env(value);
    if (kind == "file") pw->set_file(value);
  }

  std::string dovecot_destination() const {
    return shared_dovecot().host() + ":" + std::to_string(shared_dovecot().imaps_port());
  }

  // The CLI's connect of `session` to Dovecot with the vault entry `vault`, as `uid`.
  command_result cli_connect(uid_t uid, const std::string& session, const std::string& vault,
                             const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"--target", cli_target(), "--json", "--timeout", "20", "connect", session,
                                     "--host", shared_dovecot().host(), "--port", std::to_string(shared_dovecot().imaps_port()),
                                     "--ca-file", shared_dovecot().ca_file(), "--user", "alice", "--password-vault", vault};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_as(uid, MB_CLI_PATH, args);
  }

  command_result cli(uid_t uid, std::vector<std::string> args) const {
    args.insert(args.begin(), {"--target", cli_target(), "--timeout", "10"});
    return run_as(uid, MB_CLI_PATH, args);
  }
};

// ---------------------------------------------------------------- 1. exfiltration

TEST_F(trust_test, DaemonSideSecretsAreRefusedForUnboundDestinationsAndNothingIsSent) {
  counting_listener trap;
  const std::string trap_destination = "127.0.0.1:" + std::to_string(trap.port());
  const std::string env_password = shared_dovecot().password("alice");
  ASSERT_EQ(::setenv("MB_TRUST_PW", env_password.c_str(), 1), 0);
  std::filesystem::create_directories(state_dir());
  ASSERT_EQ(::chmod(state_dir().c_str(), 0700), 0);

  daemon::daemon_config config;
  config.trust.secret_hosts.push_back("env:MB_TRUST_PW " + shared_dovecot().host());
  config.trust.secret_file_dirs.push_back(state_dir());
  start_broker(config);

  // The vault entries: alice's password bound to Dovecot's IMAPS port, and an SMTP
  // password bound there too (never to the trap).
  const std::string vault_value = shared_dovecot().password("alice");
  const std::string smtp_value = "smtp-secret-never-leaves-7c1f";
  client::vault_client vault(client::make_channel(server_->unix_target()));
  pb::PutSecretResponse put;
  ASSERT_TRUE(vault.put("alice", vault_value, {dovecot_destination()}, &put).ok());
  ASSERT_TRUE(vault.put("alice-smtp", smtp_value, {dovecot_destination()}, &put).ok());

  struct attack {
    std::string what;
    pb::ConnectRequest request;
    std::vector<std::string> needles;
  };
  std::vector<attack> attacks;
  {
    auto r = aimed_at("exfil-plain", trap.port());
    auto* server = r.mutable_spec()->mutable_server();
    server->set_tls_mode(pb::TLS_MODE_PLAIN);
    server->set_allow_plaintext(true);
    server->clear_tls();
    password_from(r, "vault", "alice");
    attacks.push_back({"vault password over plaintext to the trap", r,
                       {"spec.auth.basic.password", "vault:alice", trap_destination}});
  }
  {
    auto r = aimed_at("exfil-noverify", trap.port());
    r.mutable_spec()->mutable_server()->mutable_tls()->clear_ca_file();
    r.mutable_spec()->mutable_server()->mutable_tls()->set_insecure_skip_verify(true);
    password_from(r, "vault", "alice");
    attacks.push_back({"vault password over unverified TLS to the trap", r,
                       {"vault:alice", trap_destination, "insecure_skip_verify"}});
  }
  {
    auto r = aimed_at("exfil-port", trap.port());
    password_from(r, "vault", "alice");
    attacks.push_back({"vault password over verified TLS to a foreign port", r,
                       {"vault:alice", trap_destination, dovecot_destination()}});
  }
  {
    auto r = aimed_at("exfil-shadow", trap.port());
    password_from(r, "file", "/etc/shadow");
    // The denial is about the file's directory; the audit line carries the destination.
    attacks.push_back({"file:/etc/shadow to the trap", r, {"file:/etc/shadow", "secret-file-dir"}});
  }
  {
    auto r = aimed_at("exfil-home", trap.port());
    password_from(r, "env", "HOME");
    attacks.push_back({"env:HOME to the trap", r, {"env:HOME", trap_destination}});
  }
  {
    const std::string key = state_dir() + "/vault.key";
    ASSERT_TRUE(std::filesystem::exists(key));
    auto r = aimed_at("exfil-key", trap.port());
    password_from(r, "file", key);
    attacks.push_back({"the daemon's own vault key to the trap", r, {"file:" + key}});
  }
  {
    // The session itself is legitimate (inline password to Dovecot); its SMTP leg would
    // carry another vault password to the trap.
    auto r = imaps_request("exfil-smtp-own");
    auto* leg = r.mutable_spec()->mutable_smtp();
    leg->mutable_server()->set_host("127.0.0.1");
    leg->mutable_server()->set_port(trap.port());
    leg->mutable_server()->set_tls_mode(pb::TLS_MODE_IMPLICIT);
    leg->mutable_server()->mutable_tls()->set_ca_file(shared_dovecot().ca_file());
    leg->mutable_basic()->set_username("alice");
    leg->mutable_basic()->mutable_password()->set_vault("alice-smtp");
    attacks.push_back({"SMTP leg with its own vault password to the trap", r,
                       {"spec.smtp.password", "vault:alice-smtp", trap_destination}});
  }
  {
    // Bound destination for the mail server, but the SMTP leg reuses the session's
    // vault password and points at the trap.
    auto r = imaps_request("exfil-smtp-reuse");
    password_from(r, "vault", "alice");
    auto* leg = r.mutable_spec()->mutable_smtp();
    leg->mutable_server()->set_host("127.0.0.1");
    leg->mutable_server()->set_port(trap.port());
    leg->mutable_server()->set_tls_mode(pb::TLS_MODE_IMPLICIT);
    leg->mutable_server()->mutable_tls()->set_ca_file(shared_dovecot().ca_file());
    attacks.push_back({"SMTP leg reusing the session's vault password to the trap", r,
                       {"vault:alice", trap_destination}});
  }

  for (const auto& a : attacks) {
    pb::ConnectResponse response;
    auto s = client_->connect(a.request, &response, std::chrono::seconds(10));
    expect_status(s, grpc::StatusCode::PERMISSION_DENIED, a.needles, a.what);
    pb::StatusResponse st;
    EXPECT_FALSE(client_->status(a.request.session(), &st).ok() && st.sessions_size() > 0 &&
                 st.sessions(0).state() != pb::SESSION_STATE_UNSPECIFIED)
        << a.what << ": a session was created";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(trap.accepted(), 0) << "the daemon connected to the trap";

  // Positive controls: the same secrets where they are bound.
  {
    auto r = imaps_request("bound-env");
    password_from(r, "env", "MB_TRUST_PW");
    pb::ConnectResponse response;
    auto s = client_->connect(r, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(wait_for_state("bound-env", pb::SESSION_STATE_READY));
  }
  {
    auto r = imaps_request("bound-vault");
    password_from(r, "vault", "alice");
    pb::ConnectResponse response;
    auto s = client_->connect(r, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(wait_for_state("bound-vault", pb::SESSION_STATE_READY));
  }
  // The trap does count: an inline (caller-held) password may go anywhere root says.
  {
    auto r = aimed_at("inline-to-trap", trap.port());
    pb::ConnectResponse response;
    (void)client_->connect(r, &response, std::chrono::seconds(3));
    EXPECT_TRUE(eventually([&] { return trap.accepted() > 0; }, std::chrono::seconds(5)))
        << "the trap never saw the control connection";
  }

  const auto audit = audit_text();
  EXPECT_GE(count_of(audit, "\"outcome\":\"denied\""), attacks.size()) << audit;
  EXPECT_TRUE(contains(audit, trap_destination)) << audit;
  EXPECT_FALSE(contains(audit, vault_value)) << "a password in the audit log";
  EXPECT_FALSE(contains(audit, smtp_value)) << "a password in the audit log";
  EXPECT_FALSE(contains(captured_logs(), smtp_value)) << "a password in the daemon's log";
  ::unsetenv("MB_TRUST_PW");
}

// ---------------------------------------------------------------- 2. unix peers

std::string lease_of(const std::string& json) {
  static const std::regex lease(R"re("(lease_id|leaseId)"\s*:\s*"([^"]+)")re");
  std::smatch m;
  return std::regex_search(json, m, lease) ? m[2].str() : std::string();
}

TEST_F(trust_test, LocalUsersGetOnlyWhatThePolicyGrantsAndNeverAnotherCallersLease) {
  daemon::daemon_config config;
  open_socket_to_all(config);
  config.trust.allow.push_back("uid:65534 bot,connect trust-*");
  config.trust.allow.push_back("uid:65534 vault-use trust-pw");
  config.trust.allow.push_back("uid:1 bot trust-*");
  config.trust.allow.push_back("uid:1 connect trust-v");
  start_broker(config);
  client::vault_client vault(client::make_channel(server_->unix_target()));
  pb::PutSecretResponse put;
  ASSERT_TRUE(vault.put("trust-pw", shared_dovecot().password("alice"), {dovecot_destination()}, &put).ok());

  // nobody creates a session and holds its lease.
  auto created = cli_connect(nobody_uid, "trust-a", "trust-pw");
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  const auto lease = lease_of(created.out);
  ASSERT_FALSE(lease.empty()) << created.out;
  ASSERT_TRUE(wait_for_state("trust-a", pb::SESSION_STATE_READY));

  // uid 1 may do `bot` things on trust-*, but not with nobody's lease.
  for (const std::string command : {"disconnect", "renew", "folders", "messages"}) {
    expect_cli_denied(cli(daemon_uid, {command, lease}), {"belongs to another caller"}, "uid 1 " + command);
  }
  // uid 1 may create trust-v, but not with a vault entry it was not given.
  expect_cli_denied(cli_connect(daemon_uid, "trust-v", "trust-pw"), {"'vault-use'", "trust-pw"},
                    "uid 1 connect with root's vault entry");
  // uid 2 has no rule at all.
  expect_cli_denied(cli_connect(bin_uid, "trust-b", "trust-pw"), {"uid:2", "lacks permission", "trust-b"},
                    "uid 2 connect");
  expect_cli_denied(cli(bin_uid, {"status", "trust-a"}), {"uid:2", "'watch'", "trust-a"}, "uid 2 status");
  // A listing leaves out what the caller may not watch, in either view.
  for (const bool brief : {false, true}) {
    std::vector<std::string> args = {"status"};
    if (brief) args.emplace_back("--brief");
    auto by_bin = cli(bin_uid, args);
    EXPECT_EQ(by_bin.exit_code, 0) << by_bin.err;
    EXPECT_FALSE(contains(by_bin.out, "trust-a")) << by_bin.out;
    auto by_nobody = cli(nobody_uid, args);
    EXPECT_EQ(by_nobody.exit_code, 0) << by_nobody.err;
    EXPECT_TRUE(contains(by_nobody.out, "trust-a")) << by_nobody.out;
  }
  expect_cli_denied(cli(bin_uid, {"vault", "list"}), {"uid:2", "'vault-list'"}, "uid 2 vault list");
  // uid 2 cannot use the lease either.
  expect_cli_denied(cli(bin_uid, {"renew", lease}), {"belongs to another caller"}, "uid 2 renew");

  // nobody holds `bot,connect`: not admin, not plaintext.
  expect_cli_denied(cli(nobody_uid, {"disconnect", lease, "--force"}), {"'admin'", "trust-a"}, "nobody --force");
  expect_cli_denied(cli_connect(nobody_uid, "trust-p", "trust-pw",
                                {"--tls", "plain", "--allow-plaintext", "--port",
                                 std::to_string(shared_dovecot().imap_port())}),
                    {"'plaintext'", "trust-p"}, "nobody --allow-plaintext");
  expect_cli_denied(cli_connect(nobody_uid, "trust-a", "trust-pw", {"--replace"}), {"'admin'"}, "nobody --replace");

  // The lease still works for its holder, and the session is untouched.
  auto renewed = cli(nobody_uid, {"renew", lease});
  EXPECT_EQ(renewed.exit_code, 0) << renewed.err;
  auto folders = cli(nobody_uid, {"folders", lease});
  EXPECT_EQ(folders.exit_code, 0) << folders.err;
  EXPECT_TRUE(contains(folders.out, "INBOX")) << folders.out;
  EXPECT_EQ(status_of("trust-a").state(), pb::SESSION_STATE_READY);

  // Root (the daemon's own uid here) may end it.
  pb::DisconnectResponse gone;
  auto s = client_->disconnect(lease, true, &gone);
  EXPECT_TRUE(s.ok()) << s.error_message();

  const auto audit = audit_text();
  EXPECT_TRUE(contains(audit, "\"principal\":\"uid:1\"")) << audit;
  EXPECT_TRUE(contains(audit, "\"principal\":\"uid:2\"")) << audit;
  EXPECT_TRUE(contains(audit, "\"principal\":\"uid:65534\"")) << audit;
  EXPECT_GE(count_of(audit, "\"outcome\":\"denied\""), 9u) << audit;
}

// ---------------------------------------------------------------- 3. TCP: mTLS and tokens

grpc::Status list_folders(const std::shared_ptr<grpc::Channel>& channel, const std::string& lease) {
  auto stub = pb::Mailbox::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  pb::ListFoldersRequest request;
  request.set_lease_id(lease);
  pb::ListFoldersResponse response;
  return stub->ListFolders(&context, request, &response);
}

TEST_F(trust_test, TcpCallersNeedAVerifiedCertificateOrAKnownToken) {
  test_pki pki;
  ASSERT_EQ(pki.create(socket_dir_ + "/pki"), "");
  ASSERT_EQ(pki.client_cert("bot-a", "spiffe://test/bot-a"), "");
  ASSERT_EQ(pki.client_cert("bot-b", "spiffe://test/bot-b"), "");
  // Claims bot-a's name, signed by a CA the daemon does not trust.
  ASSERT_EQ(pki.client_cert("rogue", "spiffe://test/bot-a", /*by_other_ca=*/true), "");
  const std::string token = "ci-token-5d0f8a1e2b7c4d9e";
  const std::string token_file = socket_dir_ + "/ci.token";
  const std::string wrong_token_file = socket_dir_ + "/wrong.token";
  std::ofstream(token_file) << token << "\n";
  std::ofstream(wrong_token_file) << token << "x\n";

  daemon::daemon_config config;
  config.listen = "127.0.0.1:0";
  config.trust.tls_cert_file = pki.server_cert;
  config.trust.tls_key_file = pki.server_key;
  config.trust.tls_client_ca_file = pki.ca_file;
  config.trust.allow.push_back("cert:spiffe://test/bot-* connect,bot mtls-*");
  config.trust.tokens.push_back("ci sha256:" + sha256_hex(token));
  config.trust.allow.push_back("token:ci bot mtls-*");
  start_broker(config);
  const auto tcp = server_->tcp_target();
  ASSERT_FALSE(tcp.empty());

  auto channel = [&](client::channel_security security) {
    security.ca_file = pki.ca_file;
    std::string err;
    auto c = client::make_channel(tcp, security, err);
    EXPECT_TRUE(c) << err;
    return c;
  };
  auto with_cert = [&](const std::string& name) {
    client::channel_security security;
    security.cert_file = pki.cert_of(name);
    security.key_file = pki.key_of(name);
    return channel(security);
  };
  auto with_token = [&](const std::string& file) {
    client::channel_security security;
    security.token_file = file;
    return channel(security);
  };
  auto bot_a = with_cert("bot-a");
  auto bot_b = with_cert("bot-b");
  auto rogue = with_cert("rogue");
  auto anonymous = channel(client::channel_security{});
  auto ci = with_token(token_file);
  auto wrong = with_token(wrong_token_file);
  ASSERT_TRUE(bot_a && bot_b && rogue && anonymous && ci && wrong);

  client::broker_client a(bot_a);
  pb::ConnectResponse connected;
  auto s = a.connect(imaps_request("mtls-a"), &connected);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto lease = connected.lease_id();
  ASSERT_FALSE(lease.empty());

  // bot-b is allowed on mtls-* but not to use bot-a's lease.
  client::broker_client b(bot_b);
  pb::RenewLeaseResponse renewed;
  expect_status(b.renew(lease, &renewed), grpc::StatusCode::PERMISSION_DENIED, {"belongs to another caller"},
                "bot-b RenewLease");
  expect_status(list_folders(bot_b, lease), grpc::StatusCode::PERMISSION_DENIED, {"belongs to another caller"},
                "bot-b ListFolders");
  pb::DisconnectResponse dropped;
  expect_status(b.disconnect(lease, false, &dropped), grpc::StatusCode::PERMISSION_DENIED,
                {"belongs to another caller"}, "bot-b Disconnect");
  // ... and bot-a itself may.
  EXPECT_TRUE(a.renew(lease, &renewed).ok());
  s = list_folders(bot_a, lease);
  EXPECT_TRUE(s.ok()) << s.error_message();

  // Neither certificate nor token: UNAUTHENTICATED.
  pb::StatusResponse st;
  expect_status(client::broker_client(anonymous).status("mtls-a", &st), grpc::StatusCode::UNAUTHENTICATED, {},
                "no identity");
  // A certificate from another CA does not get through the handshake.
  s = client::broker_client(rogue).status("mtls-a", &st, std::chrono::seconds(5));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // The token client attaches to the same session with its own lease.
  client::broker_client token_client(ci);
  pb::ConnectResponse attached;
  s = token_client.connect(imaps_request("mtls-a"), &attached);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(attached.created());
  EXPECT_NE(attached.lease_id(), lease);
  expect_status(token_client.renew(lease, &renewed), grpc::StatusCode::PERMISSION_DENIED,
                {"belongs to another caller"}, "token RenewLease of bot-a's lease");
  // A token the daemon does not know: UNAUTHENTICATED.
  expect_status(client::broker_client(wrong).status("mtls-a", &st), grpc::StatusCode::UNAUTHENTICATED, {"token"},
                "wrong token");

  const auto audit = audit_text();
  EXPECT_TRUE(contains(audit, "cert:spiffe://test/bot-b")) << audit;
  EXPECT_FALSE(contains(audit, token)) << "the bearer token in the audit log";
  EXPECT_FALSE(contains(captured_logs(), token)) << "the bearer token in the daemon's log";
}

TEST_F(trust_test, PlainTcpListenersAreRefusedExceptOnLoopbackWithInsecureTcp) {
  auto start_with = [&](const std::string& listen, bool insecure) {
    daemon::daemon_config config;
    config.socket_path = "none";
    config.state_dir = "none";
    config.listen = listen;
    config.trust.insecure_tcp = insecure;
    daemon::broker_server server(config);
    auto e = server.start();
    server.shutdown(std::chrono::seconds(1));
    return e;
  };
  auto e = start_with("127.0.0.1:0", false);
  EXPECT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.message, "TLS")) << e.message;
  e = start_with("0.0.0.0:0", true);
  EXPECT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.message, "loopback")) << e.message;
  // Control: insecure-tcp on loopback starts.
  e = start_with("127.0.0.1:0", true);
  EXPECT_TRUE(e.ok()) << e.message;
}

// ---------------------------------------------------------------- 4. socket squatting

TEST_F(trust_test, SocketDirectoriesAnotherUserCouldWriteAreRefused) {
  auto start_in = [&](const std::string& dir) {
    daemon::daemon_config config;
    config.socket_path = dir + "/d.sock";
    config.state_dir = state_dir();
    daemon::broker_server server(config);
    auto e = server.start();
    server.shutdown(std::chrono::seconds(1));
    return e;
  };
  auto make_dir = [](const std::string& dir, mode_t mode, uid_t owner) {
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0) << dir;
    ASSERT_EQ(::chmod(dir.c_str(), mode), 0) << dir;
    ASSERT_EQ(::chown(dir.c_str(), owner, owner), 0) << dir;
  };

  // nobody made the directory first (and could swap the socket for a listener of its own).
  const auto squatted = socket_dir_ + "/squatted";
  make_dir(squatted, 0755, nobody_uid);
  auto e = start_in(squatted);
  EXPECT_EQ(e.code, errc::failed_precondition) << e.message;
  EXPECT_TRUE(contains(e.message, squatted)) << e.message;
  EXPECT_FALSE(std::filesystem::exists(squatted + "/d.sock"));

  // Anyone may write the directory.
  const auto open = socket_dir_ + "/open";
  make_dir(open, 0777, 0);
  e = start_in(open);
  EXPECT_EQ(e.code, errc::failed_precondition) << e.message;
  EXPECT_TRUE(contains(e.message, open)) << e.message;
  EXPECT_FALSE(std::filesystem::exists(open + "/d.sock"));

  // The directory is root's, but its parent is nobody's (nobody could rename it away).
  const auto parent = socket_dir_ + "/nobody-parent";
  make_dir(parent, 0755, nobody_uid);
  make_dir(parent + "/sock", 0755, 0);
  e = start_in(parent + "/sock");
  EXPECT_EQ(e.code, errc::failed_precondition) << e.message;
  EXPECT_TRUE(contains(e.message, parent)) << e.message;

  // Control: a directory of the daemon's own, not writable by others.
  const auto own = socket_dir_ + "/own";
  make_dir(own, 0755, 0);
  e = start_in(own);
  EXPECT_TRUE(e.ok()) << e.message;
}

// ---------------------------------------------------------------- 5. stream caps

TEST_F(trust_test, StreamsPerPrincipalAreCapped) {
  daemon::daemon_config config;
  config.trust.max_streams_per_principal = 2;
  start_broker(config);
  pb::ConnectResponse connected;
  auto s = client_->connect(imaps_request("streams-a"), &connected);
  ASSERT_TRUE(s.ok()) << s.error_message();

  struct watch_stream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<pb::SessionEvent>> reader;
    pb::SessionEvent first;
    bool opened = false;  // the first event (the session's current status) arrived
  };
  auto open = [&] {
    auto w = std::make_unique<watch_stream>();
    w->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    w->reader = client_->watch("streams-a", w->context);
    w->opened = w->reader->Read(&w->first);
    return w;
  };
  auto close = [](watch_stream& w) {
    w.context.TryCancel();
    pb::SessionEvent ev;
    while (w.reader->Read(&ev)) {
    }
    return w.reader->Finish();
  };

  auto one = open();
  auto two = open();
  ASSERT_TRUE(one->opened);
  ASSERT_TRUE(two->opened);
  auto three = open();
  EXPECT_FALSE(three->opened);
  s = three->reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  // One closes: its slot comes back (when the server's side is done; poll briefly).
  (void)close(*one);
  std::unique_ptr<watch_stream> four;
  EXPECT_TRUE(eventually(
      [&] {
        if (four) (void)close(*four);
        four = open();
        return four->opened;
      },
      std::chrono::seconds(5)));
  (void)close(*two);
  if (four) (void)close(*four);
}

// ---------------------------------------------------------------- 6. the real binary

TEST_F(trust_test, CheckConfigNamesTheBadLine) {
  struct bad_config {
    std::string text;  // the bad setting is on line 2
    std::string needle;
  };
  const std::vector<bad_config> cases = {
      {"# a policy\nsocket-mode = 999\n", "socket-mode"},  // control: a non-trust setting
      {"# a policy\nallow = uid:65534 frobnicate *\n", "frobnicate"},
      {"# a policy\ntoken = ci sha256:not-hex\n", "token"},
      {"# a policy\nsecret-hosts = env:MB_PW\n", "secret-hosts"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto bad = socket_dir_ + "/bad" + std::to_string(i) + ".conf";
    std::ofstream(bad) << cases[i].text;
    auto r = run_shell(shell_quote(MB_DAEMON_PATH) + " --check-config --config " + shell_quote(bad));
    EXPECT_EQ(r.exit_code, 2) << cases[i].text << r.out << r.err;
    EXPECT_TRUE(contains(r.err, bad + ":2")) << "no file:line for " << cases[i].text << r.err;
    EXPECT_TRUE(contains(r.err, cases[i].needle)) << r.err;
  }
  const auto good = socket_dir_ + "/good.conf";
  std::ofstream(good) << "# a policy\nallow = uid:65534 watch *\nsecret-hosts = env:MB_PW 127.0.0.1:993\n"
                         "token = ci sha256:" << sha256_hex("t") << "\n";
  auto r = run_shell(shell_quote(MB_DAEMON_PATH) + " --check-config --config " + shell_quote(good));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(trust_test, SighupAppliesANewPolicyAtOnce) {
  ASSERT_EQ(::chmod(socket_dir_.c_str(), 0755), 0);
  const std::string socket = socket_dir_ + "/d.sock";
  const std::string conf = socket_dir_ + "/mailbrokerd.conf";
  const std::string log = socket_dir_ + "/mailbrokerd.log";
  const std::string base = "socket = " + socket + "\nstate-dir = " + state_dir() + "\nsocket-mode = 0666\n";
  std::ofstream(conf) << base;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stderr);
    ::execl(MB_DAEMON_PATH, MB_DAEMON_PATH, "--config", conf.c_str(), nullptr);
    std::_Exit(127);
  }
  struct reaper {
    pid_t pid;
    ~reaper() {
      if (::waitpid(pid, nullptr, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reap{pid};
  ASSERT_TRUE(eventually([&] { return ::access(socket.c_str(), F_OK) == 0; }, std::chrono::seconds(10)))
      << read_text_file(log);
  client_ = std::make_unique<client::broker_client>(client::make_channel("unix:" + socket));
  pb::ConnectResponse connected;
  auto s = client_->connect(imaps_request("hup-a"), &connected);
  ASSERT_TRUE(s.ok()) << s.error_message() << read_text_file(log);

  expect_cli_denied(cli(nobody_uid, {"status", "hup-a"}), {"uid:65534", "'watch'"}, "before the reload");

  std::ofstream(conf) << base << "allow = uid:65534 watch hup-*\n";
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  command_result allowed;
  EXPECT_TRUE(eventually(
      [&] {
        allowed = cli(nobody_uid, {"status", "hup-a"});
        return allowed.exit_code == 0;
      },
      std::chrono::seconds(10)))
      << allowed.err << read_text_file(log);
  EXPECT_TRUE(contains(allowed.out, "hup-a")) << allowed.out;

  // And taken away again.
  std::ofstream(conf) << base;
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  command_result denied;
  EXPECT_TRUE(eventually(
      [&] {
        denied = cli(nobody_uid, {"status", "hup-a"});
        return denied.exit_code == 3;
      },
      std::chrono::seconds(10)))
      << denied.err << read_text_file(log);
  EXPECT_TRUE(contains(denied.err, "PERMISSION_DENIED")) << denied.err;

  client_.reset();
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  EXPECT_TRUE(eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(15)));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_text_file(log);
}

}  // namespace
}  // namespace mailbroker::testing
