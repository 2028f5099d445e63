// `mailbroker vault put|list|delete`: the daemon's encrypted secrets. Values come from
// stdin or a file, never from the command line, and are never printed.
#include <fstream>
#include <iostream>
#include <iterator>

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/format.hpp"
#include "client/vault_client.hpp"

namespace mailbroker::cli {
namespace {

constexpr std::size_t max_value_bytes = 65536;

// The whole input, with one trailing newline dropped (the one `echo` adds).
std::optional<std::string> read_value(std::istream& in) {
  std::string value;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    value.append(buf, static_cast<std::size_t>(in.gcount()));
    if (value.size() > max_value_bytes) return std::nullopt;
  }
  if (value.ends_with("\r\n")) value.resize(value.size() - 2);
  else if (value.ends_with('\n')) value.pop_back();
  return value;
}

}  // namespace

int run_vault(const invocation& inv) {
  auto args = positionals(inv, 1, 2, "put NAME | list | delete NAME");
  if (!args) return exit_usage;
  const std::string& action = (*args)[0];
  daemon_link link(inv.globals);
  client::vault_client vault(link.channel);
  const auto timeout = inv.globals.timeout.value_or(std::chrono::seconds(10));

  if (action == "list") {
    if (args->size() != 1) return usage_error("vault", "vault list takes no NAME");
    pb::ListSecretsResponse response;
    if (auto st = vault.list(&response, timeout); !st.ok()) return link.fail(st);
    if (inv.globals.json) return print_json(response) ? exit_ok : exit_internal;
    for (const auto& e : response.entries()) {
      std::string hosts;
      for (const auto& h : e.allowed_hosts()) hosts += (hosts.empty() ? "" : ",") + h;
      std::cout << e.name() << "  updated " << format_time(e.updated_at()) << "  hosts "
                << (hosts.empty() ? std::string("(none: put it again with --allow-host)") : hosts) << '\n';
    }
    return exit_ok;
  }
  if (args->size() != 2) return usage_error("vault", "vault " + action + " needs NAME");
  const std::string& name = (*args)[1];
  if (action == "delete") {
    if (auto st = vault.remove(name, timeout); !st.ok()) return link.fail(st);
    std::cout << "deleted '" << name << "'\n";
    return exit_ok;
  }
  if (action != "put") return usage_error("vault", "unknown vault action '" + action + "' (put, list, delete)");
  const auto hosts = inv.args.values("--allow-host");
  if (hosts.empty()) {
    return usage_error("vault", "vault put needs --allow-host HOST[:PORT] (repeatable): the servers the daemon may "
                                "send this secret to");
  }

  std::optional<std::string> value;
  if (auto path = inv.args.value("--from-file")) {
    std::ifstream in(*path, std::ios::binary);
    if (!in) return usage_error("vault", "--from-file: cannot read " + *path);
    value = read_value(in);
  } else {
    value = read_value(std::cin);
  }
  if (!value) return usage_error("vault", "the value is larger than 64 KiB");
  if (value->empty()) return usage_error("vault", "the value is empty (give it on stdin or with --from-file PATH)");
  pb::PutSecretResponse response;
  const auto st = vault.put(name, *value, hosts, &response, timeout);
  std::fill(value->begin(), value->end(), '\0');
  if (!st.ok()) return link.fail(st);
  std::cout << (response.created() ? "created '" : "replaced '") << name << "'\n";
  return exit_ok;
}

}  // namespace mailbroker::cli
