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

// The sources, as suffixes of an option prefix ("--password" + "-env").
constexpr std::array source_suffixes = {
    std::string_view("-stdin"),       std::string_view("-env"),         std::string_view("-file"),
    std::string_view("-daemon-env"), std::string_view("-daemon-file"), std::string_view("-vault"),
};

std::string opt(std::string_view prefix, std::string_view suffix) { return std::string(prefix) + std::string(suffix); }

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

result<std::string> read_stdin_line(const std::string& option, std::string_view user) {
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
  if (!got && line.empty()) return usage(option + ": no password on stdin");
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.empty()) return usage(option + ": the password read from stdin is empty");
  return line;
}

result<std::string> read_env(const std::string& option, const std::string& var) {
  if (var.empty()) return usage(option + " needs a variable name");
  const char* value = std::getenv(var.c_str());
  if (value == nullptr) return usage(option + ": environment variable " + var + " is not set");
  if (*value == '\0') return usage(option + ": environment variable " + var + " is empty");
  return std::string(value);
}

result<std::string> read_file(const std::string& option, const std::string& path) {
  if (path.empty()) return usage(option + " needs a path");
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage(option + ": cannot read " + path + ": " + std::strerror(errno));
  std::string content(static_cast<std::size_t>(max_password_file) + 1, '\0');
  in.read(content.data(), max_password_file + 1);
  if (in.bad()) return usage(option + ": cannot read " + path + ": " + std::strerror(errno));
  const auto n = in.gcount();
  if (n > max_password_file) return usage(option + ": " + path + " is larger than 64 KiB");
  content.resize(static_cast<std::size_t>(n));
  // Exactly one line ending goes: the one editors and `echo` add. Anything else is
  // part of the password.
  if (content.ends_with("\r\n")) {
    content.resize(content.size() - 2);
  } else if (content.ends_with('\n')) {
    content.pop_back();
  }
  if (content.empty()) return usage(option + ": " + path + " is empty");
  return content;
}

}  // namespace

result<pb::SecretRef> password_from_args(const parsed_args& args, std::string_view user) {
  return secret_from_args(args, "--password", user, "connect", true);
}

result<pb::SecretRef> secret_from_args(const parsed_args& args, std::string_view prefix, std::string_view user,
                                       std::string_view needed_by, bool stdin_offered) {
  std::size_t given = 0;
  for (auto suffix : source_suffixes) given += args.count(opt(prefix, suffix));
  if (given == 0) {
    const std::string p(prefix);
    return usage(std::string(needed_by) + " needs a password source: " + (stdin_offered ? p + "-stdin, " : "") +
                 p + "-env VAR, " + p + "-file PATH, " + p + "-daemon-env VAR, " + p + "-daemon-file PATH or " + p +
                 "-vault NAME");
  }
  if (given > 1) {
    return usage("give exactly one " + std::string(prefix) + "-* source (got " + std::to_string(given) + ")");
  }

  if (const auto option = opt(prefix, "-stdin"); args.has(option)) {
    auto line = read_stdin_line(option, user);
    if (!line) return line.err();
    return inline_ref(std::move(line.value()));
  }
  if (const auto option = opt(prefix, "-env"); auto var = args.value(option)) {
    auto value = read_env(option, *var);
    if (!value) return value.err();
    return inline_ref(std::move(value.value()));
  }
  if (const auto option = opt(prefix, "-file"); auto path = args.value(option)) {
    auto value = read_file(option, *path);
    if (!value) return value.err();
    return inline_ref(std::move(value.value()));
  }
  pb::SecretRef ref;
  if (const auto option = opt(prefix, "-daemon-env"); auto var = args.value(option)) {
    if (var->empty()) return usage(option + " needs a variable name");
    ref.set_env(*var);
  } else if (const auto option2 = opt(prefix, "-daemon-file"); auto path = args.value(option2)) {
    if (path->empty()) return usage(option2 + " needs a path");
    ref.set_file(*path);
  } else if (const auto option3 = opt(prefix, "-vault"); auto name = args.value(option3)) {
    if (name->empty()) return usage(option3 + " needs a vault entry name");
    ref.set_vault(*name);
  }
  return ref;
}

bool password_given(const parsed_args& args) { return secret_given(args, "--password"); }

bool secret_given(const parsed_args& args, std::string_view prefix) {
  for (auto suffix : source_suffixes) {
    if (args.has(opt(prefix, suffix))) return true;
  }
  return false;
}

}  // namespace mailbroker::cli
