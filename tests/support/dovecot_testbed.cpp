#include "support/dovecot_testbed.hpp"

#include <sys/wait.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace mailbroker::testing {

std::string source_dir() { return MB_SOURCE_DIR; }

std::string run_command(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("command failed: " + command + "\n" + out);
  }
  return out;
}

std::string dovecot_testbed::script(const std::string& args) const {
  return run_command(source_dir() + "/scripts/testbed/dovecot.sh " + args);
}

dovecot_testbed::dovecot_testbed(std::string script_env) : script_env_(std::move(script_env)) {
  std::string templ = (std::filesystem::temp_directory_path() / "mb-dovecot-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  state_dir_ = templ;
  start();
  std::ifstream in(state_dir_ + "/testbed.env");
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  if (!env_.count("IMAPS_PORT")) throw std::runtime_error("testbed.env has no IMAPS_PORT");
}

dovecot_testbed::~dovecot_testbed() {
  try {
    stop();
  } catch (...) {
  }
  if (std::getenv("MB_KEEP_TESTBED") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }
}

void dovecot_testbed::start() {
  if (env_.empty()) {
    run_command(script_env_ + " " + source_dir() + "/scripts/testbed/dovecot.sh start " + state_dir_);
  } else {
    // A restart keeps the ports, users and CA: the daemon's sessions must find the
    // same server again. The script's start would pick new ports.
    // Redirected: the daemonised master would otherwise hold popen's pipe open forever.
    run_command("/usr/sbin/dovecot -c " + state_dir_ + "/dovecot.conf </dev/null >/dev/null 2>&1");
    run_command("bash -c 'for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/" + env_.at("IMAPS_PORT") +
                ") 2>/dev/null && exit 0; sleep 0.1; done; exit 1'");
  }
  running_ = true;
}

void dovecot_testbed::stop() {
  if (!running_) return;
  script("stop " + state_dir_);
  running_ = false;
}

std::string dovecot_testbed::password(const std::string& user) const {
  std::string key;
  for (char c : user) key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return env_.at(key + "_PASSWORD");
}

std::uint16_t dovecot_testbed::port(const std::string& key) const {
  return static_cast<std::uint16_t>(std::stoi(env_.at(key)));
}

int dovecot_testbed::who(const std::string& user) const {
  // The count is the last line; progress messages on stderr come before it.
  std::string out = script("who " + state_dir_ + " " + user);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return std::stoi(out.substr(out.find_last_of('\n') == std::string::npos ? 0 : out.find_last_of('\n') + 1));
}

void dovecot_testbed::kick(const std::string& user) const { script("kick " + state_dir_ + " " + user); }

void dovecot_testbed::deliver_many(const std::string& user, const std::string& folder, int count) const {
  script("deliver-many " + state_dir_ + " " + user + " '" + folder + "' " + std::to_string(count));
}

void dovecot_testbed::expunge(const std::string& user, const std::string& folder) const {
  script("expunge " + state_dir_ + " " + user + " '" + folder + "'");
}

std::string dovecot_testbed::doveadm(const std::string& args) const {
  return script("doveadm " + state_dir_ + " " + args);
}

void dovecot_testbed::deliver(const std::string& user, const std::string& file, const std::string& folder) const {
  script("deliver " + state_dir_ + " " + user + " '" + file + "' '" + folder + "'");
}

}  // namespace mailbroker::testing
