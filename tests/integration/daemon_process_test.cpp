// The real mailbrokerd binary: SIGTERM logs every session out, then exits 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "support/broker_fixture.hpp"

namespace mailbroker::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

class daemon_process : public broker_fixture {};

TEST_F(daemon_process, SigtermLogsEverySessionOutAndExitsZero) {
  const std::string socket = socket_dir_ + "/d.sock";
  const std::string log = socket_dir_ + "/mailbrokerd.log";
  const std::string state = socket_dir_ + "/state";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stderr);
    ::execl(MB_DAEMON_PATH, MB_DAEMON_PATH, "--socket", socket.c_str(), "--state-dir", state.c_str(), "--log-level",
            "debug", nullptr);
    std::_Exit(127);
  }
  // Whatever happens below, the daemon does not outlive the test.
  struct reaper {
    pid_t pid;
    ~reaper() {
      if (::waitpid(pid, nullptr, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reap{pid};
  // Wait for the socket before making the channel: a channel that fails its first
  // connect backs off for seconds, which made this test flaky on a loaded machine.
  bool up = false;
  for (int i = 0; i < 400 && !up; ++i) {
    up = ::access(socket.c_str(), F_OK) == 0;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(up) << "no socket after 10 s\n" << read_file(log);
  client_ = std::make_unique<client::broker_client>(client::make_channel("unix:" + socket));
  pb::StatusResponse first;
  ASSERT_TRUE(client_->status("", &first, std::chrono::seconds(10)).ok()) << read_file(log);

  const std::string dovecot_log = dovecot().log_file();
  const auto logged_out_before = count_of(read_file(dovecot_log), "Logged out");
  for (const auto& [name, user] : {std::pair{"term-a", "alice"}, std::pair{"term-b", "carol"}}) {
    pb::ConnectResponse response;
    auto s = client_->connect(imaps_request(name, user), &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_TRUE(wait_for_who("alice", 1));
  ASSERT_TRUE(wait_for_who("carol", 1));

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 200 && done == 0; ++i) {
    done = ::waitpid(pid, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (done == 0) ::kill(pid, SIGKILL);
  ASSERT_EQ(done, pid) << "mailbrokerd did not exit within 10 s of SIGTERM\n" << read_file(log);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_file(log);

  EXPECT_TRUE(wait_for_who("alice", 0));
  EXPECT_TRUE(wait_for_who("carol", 0));
  // LOGOUT (not a dropped socket) is what Dovecot logs as "Logged out".
  bool both_logged_out = false;
  for (int i = 0; i < 50 && !both_logged_out; ++i) {
    both_logged_out = count_of(read_file(dovecot_log), "Logged out") >= logged_out_before + 2;
    if (!both_logged_out) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(both_logged_out) << read_file(dovecot_log);
  const std::string daemon_log = read_file(log);
  EXPECT_NE(daemon_log.find("every session logged out"), std::string::npos) << daemon_log;
  for (const char* user : {"alice", "carol"}) {
    EXPECT_EQ(daemon_log.find(dovecot().password(user)), std::string::npos);
  }
}

}  // namespace
}  // namespace mailbroker::testing
