// mailbroker: command-line client of mailbrokerd. Parses the command line, resolves
// the global options and hands over to one subcommand. See --help.
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "client/broker_client.hpp"
#include "client/cli/args.hpp"
#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/usage.hpp"

namespace {

using namespace mailbroker::cli;

constexpr option_def global_option_defs[] = {
    {"--target", "TARGET"}, {"--json", ""}, {"--timeout", "SECONDS"}, {"--help", ""}, {"--version", ""},
    {"--daemon-ca-file", "PATH"}, {"--cert", "PATH"}, {"--key", "PATH"}, {"--token-file", "PATH"},
    {"--plaintext", ""},
};

std::optional<option_table> options_of(std::string_view command) {
  if (command == "help") return option_table{};
  if (const auto* c = find_command(command)) return c->options;
  return std::nullopt;
}

// The explicit flag wins over the environment, which wins over the built-in default,
// so one shell can point every call at a test daemon.
std::string resolve_target(const parsed_args& args) {
  if (auto flag = args.value("--target")) return *flag;
  if (const char* env = std::getenv("MAILBROKER_TARGET"); env != nullptr && *env != '\0') return env;
  return mailbroker::client::default_target();
}

int print_help(const parsed_args& args) {
  std::string_view topic = args.command == "help" ? std::string_view() : std::string_view(args.command);
  if (args.command == "help" && !args.positionals.empty()) topic = args.positionals.front();
  if (topic.empty()) {
    std::cout << global_help();
    return exit_ok;
  }
  const std::string text = command_help(topic);
  if (text.empty()) return usage_error("", "unknown command '" + std::string(topic) + "'");
  std::cout << text;
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string_view> raw(argv + 1, argv + argc);
  parsed_args args = parse_args(raw, global_option_defs, options_of);

  const command* cmd = find_command(args.command);
  const std::string_view hint_command = cmd != nullptr ? args.command : std::string_view();
  // Help and version answer even when the rest of the line is wrong: that is when
  // people ask for them.
  if (args.help || args.command == "help") {
    if (!args.command.empty() && cmd == nullptr && args.command != "help") {
      return usage_error("", "unknown command '" + args.command + "'");
    }
    return print_help(args);
  }
  if (args.has("--version")) {
    std::cout << "mailbroker " << MB_VERSION << '\n';
    return exit_ok;
  }
  if (!args.error.empty()) return usage_error(hint_command, args.error);
  if (cmd == nullptr) return usage_error("", "missing command (connect, status, messages, show, send, ...; see --help)");

  invocation inv;
  inv.globals.target = resolve_target(args);
  if (inv.globals.target.empty()) return usage_error(hint_command, "--target must not be empty");
  inv.globals.json = args.has("--json");
  inv.globals.security.ca_file = args.value("--daemon-ca-file").value_or("");
  inv.globals.security.cert_file = args.value("--cert").value_or("");
  inv.globals.security.key_file = args.value("--key").value_or("");
  inv.globals.security.token_file = args.value("--token-file").value_or("");
  inv.globals.security.plaintext = args.has("--plaintext");
  if (auto text = args.value("--timeout")) {
    inv.globals.timeout = parse_seconds(*text);
    if (!inv.globals.timeout) {
      return usage_error(hint_command, "--timeout: '" + *text + "' is not a positive number of seconds");
    }
  }
  inv.args = std::move(args);
  return cmd->run(inv);
}
