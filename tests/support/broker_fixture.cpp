#include "support/broker_fixture.hpp"
#include "support/eventually.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <thread>

namespace mailbroker::testing {
namespace {

std::mutex log_mutex;
std::string log_text;

// Keeps every formatted log line so tests can grep the daemon's logs for secrets.
class capture_sink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::lock_guard lock(log_mutex);
    log_text.append(formatted.data(), formatted.size());
  }
  void flush_() override {}
};

}  // namespace

dovecot_testbed& shared_dovecot() {
  static dovecot_testbed instance;
  return instance;
}

void install_log_capture() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto capture = std::make_shared<capture_sink>();
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>("test", spdlog::sinks_init_list{capture, console});
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  });
}

std::string captured_logs() {
  std::lock_guard lock(log_mutex);
  return log_text;
}

void broker_fixture::SetUp() {
  install_log_capture();
  (void)shared_dovecot();
  std::string templ = (std::filesystem::temp_directory_path() / "mb-broker-XXXXXX").string();
  ASSERT_NE(::mkdtemp(templ.data()), nullptr);
  socket_dir_ = templ;
}

void broker_fixture::TearDown() {
  client_.reset();
  if (server_) server_->shutdown(std::chrono::seconds(5));
  server_.reset();
  std::error_code ec;
  std::filesystem::remove_all(socket_dir_, ec);
}

void broker_fixture::start_broker(daemon::daemon_config config) {
  if (server_) server_->shutdown(std::chrono::seconds(5));
  client_.reset();
  config.socket_path = socket_dir_ + "/d.sock";
  // Hermetic: never the user's default state directory. A restart within one test
  // keeps its store (and so its sessions), as a real daemon restart would.
  if (config.state_dir.empty()) config.state_dir = socket_dir_ + "/state";
  server_ = std::make_unique<daemon::broker_server>(config);
  auto e = server_->start();
  ASSERT_TRUE(e.ok()) << e.message;
  client_ = std::make_unique<client::broker_client>(client::make_channel(server_->unix_target()));
}

pb::ConnectRequest broker_fixture::imaps_request(const std::string& session, const std::string& user) const {
  pb::ConnectRequest r;
  r.set_session(session);
  r.set_client_name("test");
  auto* spec = r.mutable_spec();
  spec->set_protocol(pb::PROTOCOL_IMAP);
  auto* server = spec->mutable_server();
  server->set_host(shared_dovecot().host());
  server->set_port(shared_dovecot().imaps_port());
  server->set_tls_mode(pb::TLS_MODE_IMPLICIT);
  server->mutable_tls()->set_ca_file(shared_dovecot().ca_file());
  auto* basic = spec->mutable_auth()->mutable_basic();
  basic->set_username(user);
  basic->mutable_password()->set_inline_value(shared_dovecot().password(user));
  return r;
}

pb::SessionStatus broker_fixture::status_of(const std::string& session) {
  pb::StatusResponse response;
  auto s = client_->status(session, &response);
  if (!s.ok() || response.sessions_size() != 1) return {};
  return response.sessions(0);
}

bool broker_fixture::wait_for_state(const std::string& session, pb::SessionState state,
                                    std::chrono::milliseconds timeout) {
  return eventually([&] { return status_of(session).state() == state; }, timeout);
}

bool broker_fixture::wait_for_status(const std::string& session,
                                     const std::function<bool(const pb::SessionStatus&)>& pred,
                                     std::chrono::milliseconds timeout) {
  return eventually([&] { return pred(status_of(session)); }, timeout);
}

bool broker_fixture::wait_for_who(const std::string& user, int count, std::chrono::milliseconds timeout) {
  return eventually([&] { return dovecot().who(user) == count; }, timeout);
}

}  // namespace mailbroker::testing
