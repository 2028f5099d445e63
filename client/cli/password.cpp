#include "client/cli/password.hpp"

#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

namespace mailbroker::cli {

namespace {

constexpr std::array password_sources = {
    std::string_view("--password-stdin"),      std::string_view("--password-env"),
    std::string_view("--password-file"),       std::string_view("--password-daemon-env"),
    std::string_view("--password-daemon-file"), std::string_view("--password-vault"),
};

// A password file is a line, not a document: refuse to slurp something huge by mistake.
constexpr std::streamsize max_password_file = 64 * 1024;

error usage(std::string message) { return {errc::invalid_argument, std::move(message)}; }

pb::SecretRef inline_ref(std::string value) {
  pb::SecretRef ref;
  ref.set_inline_value(std::move(value));
  return ref;
}

// Echo is off while the password is typed; a Ctrl-C then must not leave the terminal
// silent, so SIGINT/SIGTERM restore it before the default action runs.
termios saved_termios{};
volatile std::sig_atomic_t echo_disabled = 0;

void restore_echo_and_reraise(int sig) {
  if (echo_disabled != 0) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

result<std::string> read_stdin_line(std::string_view user) {
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  if (tty && ::tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
    std::cerr << "Password for " << user << ": " << std::flush;
    std::signal(SIGINT, restore_echo_and_reraise);
    std::signal(SIGTERM, restore_echo_and_reraise);
    termios quiet = saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    echo_disabled = 1;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (echo_disabled != 0) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
    echo_disabled = 0;
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::cerr << '\n';
  }
  if (!got && line.empty()) return usage("--password-stdin: no password on stdin");
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.empty()) return usage("--password-stdin: the password read from stdin is empty");
  return line;
}

result<std::string> read_env(const std::string& var) {
  if (var.empty()) return usage("--password-env needs a variable name");
  const char* value = std::getenv(var.c_str());
  if (value == nullptr) return usage("--password-env: environment variable " + var + " is not set");
  if (*value == '\0') return usage("--password-env: environment variable " + var + " is empty");
  return std::string(value);
}

result<std::string> read_file(const std::string& path) {
  if (path.empty()) return usage("--password-file needs a path");
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage("--password-file: cannot read " + path + ": " + std::strerror(errno));
  std::string content(static_cast<std::size_t>(max_password_file) + 1, '\0');
  in.read(content.data(), max_password_file + 1);
  if (in.bad()) return usage("--password-file: cannot read " + path + ": " + std::strerror(errno));
  const auto n = in.gcount();
  if (n > max_password_file) return usage("--password-file: " + path + " is larger than 64 KiB");
  content.resize(static_cast<std::size_t>(n));
  // Exactly one line ending goes: the one editors and `echo` add. Anything else is
  // part of the password.
  if (content.ends_with("\r\n")) {
    content.resize(content.size() - 2);
  } else if (content.ends_with('\n')) {
    content.pop_back();
  }
  if (content.empty()) return usage("--password-file: " + path + " is empty");
  return content;
}

}  // namespace

result<pb::SecretRef> password_from_args(const parsed_args& args, std::string_view user) {
  std::size_t given = 0;
  for (auto name : password_sources) given += args.count(name);
  if (given == 0) {
    return usage(
        "connect needs a password source: --password-stdin, --password-env VAR, --password-file PATH, "
        "--password-daemon-env VAR, --password-daemon-file PATH or --password-vault NAME");
  }
  if (given > 1) return usage("give exactly one password source (got " + std::to_string(given) + ")");

  if (args.has("--password-stdin")) {
    auto line = read_stdin_line(user);
    if (!line) return line.err();
    return inline_ref(std::move(line.value()));
  }
  if (auto var = args.value("--password-env")) {
    auto value = read_env(*var);
    if (!value) return value.err();
    return inline_ref(std::move(value.value()));
  }
  if (auto path = args.value("--password-file")) {
    auto value = read_file(*path);
    if (!value) return value.err();
    return inline_ref(std::move(value.value()));
  }
  pb::SecretRef ref;
  if (auto var = args.value("--password-daemon-env")) {
    if (var->empty()) return usage("--password-daemon-env needs a variable name");
    ref.set_env(*var);
  } else if (auto path = args.value("--password-daemon-file")) {
    if (path->empty()) return usage("--password-daemon-file needs a path");
    ref.set_file(*path);
  } else if (auto name = args.value("--password-vault")) {
    if (name->empty()) return usage("--password-vault needs a vault entry name");
    ref.set_vault(*name);
  }
  return ref;
}

bool password_given(const parsed_args& args) {
  for (auto name : password_sources) {
    if (args.has(name)) return true;
  }
  return false;
}

}  // namespace mailbroker::cli
