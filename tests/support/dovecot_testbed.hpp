#pragma once
// A real Dovecot for integration tests, started through scripts/testbed/dovecot.sh in
// a fresh temporary state dir (loopback, high ports, its own CA and users) and stopped
// by the destructor.
#include <cstdint>
#include <map>
#include <string>

namespace mailbroker::testing {

class dovecot_testbed {
 public:
  // Starts the instance; throws std::runtime_error with the script's output on failure.
  // `script_env` is prepended to the start command (e.g. "MB_TESTBED_OAUTH2_...=... ").
  explicit dovecot_testbed(std::string script_env = {});
  ~dovecot_testbed();
  dovecot_testbed(const dovecot_testbed&) = delete;
  dovecot_testbed& operator=(const dovecot_testbed&) = delete;

  std::string host() const { return "127.0.0.1"; }
  std::uint16_t imap_port() const { return port("IMAP_PORT"); }
  std::uint16_t imaps_port() const { return port("IMAPS_PORT"); }
  std::uint16_t pop3_port() const { return port("POP3_PORT"); }
  std::uint16_t pop3s_port() const { return port("POP3S_PORT"); }
  std::string ca_file() const { return env_.at("CA_FILE"); }
  std::string log_file() const { return env_.at("DOVECOT_LOG"); }
  // Password of a testbed user: alice, bob, carol, dave, erin, frank or grace.
  std::string password(const std::string& user) const;

  // Live IMAP connections of `user` (all users when empty), from `doveadm who`.
  int who(const std::string& user = {}) const;
  // Drops every connection of `user` (`doveadm kick`).
  void kick(const std::string& user) const;
  // Appends the message in `file` to `folder` of `user` (created if missing; UTF-8 name).
  void deliver(const std::string& user, const std::string& file, const std::string& folder = "INBOX") const;
  // Appends `count` small messages, subjects "Job 1".."Job count", to `folder`.
  void deliver_many(const std::string& user, const std::string& folder, int count) const;
  // Removes every message of `folder` of `user`.
  void expunge(const std::string& user, const std::string& folder) const;
  // Runs doveadm against this instance (`args` as for a shell); returns its output.
  std::string doveadm(const std::string& args) const;
  // Stops / restarts the same instance (same ports, users and CA): "server down" tests.
  void stop();
  void start();

  const std::string& state_dir() const { return state_dir_; }

 private:
  std::uint16_t port(const std::string& key) const;
  std::string script(const std::string& args) const;

  std::string script_env_;
  std::string state_dir_;
  std::map<std::string, std::string> env_;
  bool running_ = false;
};

// Runs a shell command; returns its stdout. Throws std::runtime_error on failure.
std::string run_command(const std::string& command);

// Absolute path of the source tree (set by CMake as MB_SOURCE_DIR).
std::string source_dir();

}  // namespace mailbroker::testing
