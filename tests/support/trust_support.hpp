#pragma once
// Helpers for the trust-layer tests (issue #10): a TCP trap that counts who connects to
// it, commands run as another unix user, and a throwaway PKI made with the openssl CLI.
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace mailbroker::testing {

// A listener on 127.0.0.1:<ephemeral> that accepts and at once closes every connection,
// counting them: "the daemon sent nothing there" is accepted() == 0. Stops on destruction.
class counting_listener {
 public:
  counting_listener();
  ~counting_listener();
  counting_listener(const counting_listener&) = delete;
  counting_listener& operator=(const counting_listener&) = delete;

  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

struct command_result {
  int exit_code = -1;  // the command's exit status; 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Single-quotes `s` for /bin/sh.
std::string shell_quote(const std::string& s);

// Runs `command` with /bin/sh (bounded by `timeout_seconds` through timeout(1)),
// capturing stdout and stderr.
command_result run_shell(const std::string& command, int timeout_seconds = 30);

// Runs `program args...` as uid = gid = `uid` without supplementary groups (setpriv).
command_result run_as(uid_t uid, const std::string& program, const std::vector<std::string>& args,
                      int timeout_seconds = 30);

// The whole file (empty when unreadable).
std::string read_text_file(const std::string& path);

// Lower-case hex SHA-256 of `data` (sha256sum).
std::string sha256_hex(const std::string& data);

// A CA with a server certificate for IP:127.0.0.1, client certificates by SAN URI, and a
// second, unrelated CA, all made with the openssl CLI in `dir` (EC P-256 keys).
struct test_pki {
  std::string dir;
  std::string ca_file, server_cert, server_key;
  std::string other_ca_file;

  // Creates `dir` and the two CAs and the server certificate. Returns "" or the
  // openssl output on failure.
  std::string create(const std::string& directory);
  // A client certificate with SAN `uri` (and CN `name`), signed by the main CA or by
  // the other one; files DIR/NAME.pem and DIR/NAME.key. Returns "" or the error.
  std::string client_cert(const std::string& name, const std::string& uri, bool by_other_ca = false);
  std::string cert_of(const std::string& name) const { return dir + "/" + name + ".pem"; }
  std::string key_of(const std::string& name) const { return dir + "/" + name + ".key"; }
};

}  // namespace mailbroker::testing
