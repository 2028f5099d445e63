#include "support/trust_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mailbroker::testing {

counting_listener::counting_listener() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("counting_listener: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 64) != 0) {
    ::close(fd_);
    throw std::runtime_error("counting_listener: bind/listen failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      accepted_.fetch_add(1);
      ::close(c);
    }
  });
}

counting_listener::~counting_listener() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

command_result run_shell(const std::string& command, int timeout_seconds) {
  std::string templ = (std::filesystem::temp_directory_path() / "mb-cmd-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) return {};
  const std::string out = templ + "/out";
  const std::string err = templ + "/err";
  const std::string full = "timeout -k 2 " + std::to_string(timeout_seconds) + " sh -c " + shell_quote(command) +
                           " </dev/null >" + shell_quote(out) + " 2>" + shell_quote(err);
  const int status = std::system(full.c_str());
  command_result r;
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (status != -1 && WIFSIGNALED(status)) r.exit_code = 128 + WTERMSIG(status);
  r.out = read_text_file(out);
  r.err = read_text_file(err);
  std::error_code ec;
  std::filesystem::remove_all(templ, ec);
  return r;
}

command_result run_as(uid_t uid, const std::string& program, const std::vector<std::string>& args,
                      int timeout_seconds) {
  const auto id = std::to_string(uid);
  std::string command = "exec env -u MAILBROKER_TARGET setpriv --reuid=" + id + " --regid=" + id +
                        " --clear-groups " + shell_quote(program);
  for (const auto& a : args) command += " " + shell_quote(a);
  return run_shell(command, timeout_seconds);
}

std::string sha256_hex(const std::string& data) {
  auto r = run_shell("printf %s " + shell_quote(data) + " | sha256sum");
  return r.out.substr(0, 64);
}

namespace {

constexpr std::string_view ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

std::string run_openssl(const std::string& dir, const std::string& script) {
  auto r = run_shell("set -e; cd " + shell_quote(dir) + "; " + script);
  return r.exit_code == 0 ? std::string() : "openssl failed (" + std::to_string(r.exit_code) + "): " + r.err;
}

std::string make_ca(const std::string& dir, const std::string& name) {
  return run_openssl(dir, "openssl req -x509 " + std::string(ec_key) + " -keyout " + name + ".key -out " + name +
                              ".pem -days 2 -subj /CN=" + name +
                              " -addext basicConstraints=critical,CA:TRUE"
                              " -addext keyUsage=critical,keyCertSign,cRLSign 2>&1");
}

// A leaf signed by CA `ca` with extensions `ext` (an openssl config section body).
std::string make_leaf(const std::string& dir, const std::string& ca, const std::string& name, const std::string& cn,
                      const std::string& ext) {
  std::ofstream(dir + "/" + name + ".ext") << "[ext]\n" << ext << "\n";
  return run_openssl(dir, "openssl req " + std::string(ec_key) + " -keyout " + name + ".key -out " + name +
                              ".csr -subj /CN=" + cn + " 2>&1 && openssl x509 -req -in " + name + ".csr -CA " + ca +
                              ".pem -CAkey " + ca + ".key -CAcreateserial -days 2 -out " + name + ".pem -extfile " +
                              name + ".ext -extensions ext 2>&1");
}

}  // namespace

std::string test_pki::create(const std::string& directory) {
  dir = directory;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "cannot create " + dir;
  ca_file = dir + "/ca.pem";
  other_ca_file = dir + "/other-ca.pem";
  server_cert = dir + "/server.pem";
  server_key = dir + "/server.key";
  if (auto e = make_ca(dir, "ca"); !e.empty()) return e;
  if (auto e = make_ca(dir, "other-ca"); !e.empty()) return e;
  return make_leaf(dir, "ca", "server", "127.0.0.1",
                   "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                   "basicConstraints=CA:FALSE");
}

std::string test_pki::client_cert(const std::string& name, const std::string& uri, bool by_other_ca) {
  return make_leaf(dir, by_other_ca ? "other-ca" : "ca", name, name,
                   "subjectAltName=URI:" + uri + "\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE");
}

}  // namespace mailbroker::testing
