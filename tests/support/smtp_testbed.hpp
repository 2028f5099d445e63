#pragma once
// A real SMTP submission server for integration tests (smtp-server from npm, started
// by scripts/testbed/smtp.sh) in a fresh temporary state dir or a given one, stopped
// by the destructor. It records every accepted message; messages() and parse_eml()
// let a test check what arrived with tools other than ours.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mailbroker::testing {

// One message the server accepted (its NNNNNN.json beside NNNNNN.eml).
struct recorded_message {
  std::string id;                    // "000001"
  std::string eml_path;              // absolute path of the exact bytes received
  std::string mail_from;             // "" for the null sender
  std::vector<std::string> rcpt_to;  // accepted recipients only
  std::string body_param;            // BODY= of MAIL FROM ("8BITMIME"), "" if absent
  bool smtputf8 = false;             // SMTPUTF8 on MAIL FROM
  std::int64_t size_param = -1;      // SIZE= of MAIL FROM, -1 if absent
  std::string user;                  // authenticated user
  bool tls = false;                  // the session was TLS (implicit or STARTTLS)
};

class smtp_testbed {
 public:
  // Starts the server in a new temporary state dir (removed by the destructor unless
  // MB_KEEP_TESTBED is set), or in `state_dir` (e.g. a Dovecot testbed's: same CA and
  // users). `script_env` is prepended to the start command. Throws
  // std::runtime_error with the script's output on failure.
  explicit smtp_testbed(std::string state_dir = {}, std::string script_env = {});
  ~smtp_testbed();
  smtp_testbed(const smtp_testbed&) = delete;
  smtp_testbed& operator=(const smtp_testbed&) = delete;

  std::string host() const { return "127.0.0.1"; }
  std::uint16_t smtp_port() const { return port("SMTP_PORT"); }    // plain + STARTTLS
  std::uint16_t smtps_port() const { return port("SMTPS_PORT"); }  // implicit TLS
  std::string ca_file() const { return env_.at("SMTP_CA_FILE"); }
  std::string messages_dir() const { return env_.at("SMTP_MESSAGES_DIR"); }
  // Password of a testbed user (alice, bob, carol, dave).
  std::string password(const std::string& user) const;
  const std::string& env(const std::string& key) const { return env_.at(key); }

  // Every recorded message, oldest first.
  std::vector<recorded_message> messages() const;
  // The bytes of a file (e.g. recorded_message::eml_path).
  static std::string read_file(const std::string& path);
  // Runs scripts/testbed/parse_eml.py on `eml_path`: headers, and per leaf part its
  // content type, charset, filename, disposition, length, sha256, text.
  static nlohmann::json parse_eml(const std::string& eml_path);

  void stop();

 private:
  std::uint16_t port(const std::string& key) const;

  std::string state_dir_;
  bool own_dir_ = false;
  std::map<std::string, std::string> env_;
  bool running_ = false;
};

}  // namespace mailbroker::testing
