// `mailbroker connect`: builds a ConnectRequest from flags, then reports the lease.
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <iostream>
#include <limits>

#include "client/cli/auth_options.hpp"
#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/format.hpp"

namespace mailbroker::cli {
namespace {

// Connect waits for the login itself (TCP + TLS + greeting + LOGIN), so it gets a
// longer default than the bookkeeping calls.
constexpr auto default_connect_timeout = std::chrono::seconds(30);

std::string default_client_name() {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "mailbroker-cli";
  return std::string("mailbroker-cli@") + host;
}

std::optional<pb::TlsMode> parse_tls(std::string_view text) {
  if (text == "implicit") return pb::TLS_MODE_IMPLICIT;
  if (text == "starttls") return pb::TLS_MODE_STARTTLS;
  if (text == "plain") return pb::TLS_MODE_PLAIN;
  return std::nullopt;
}

// Reads an optional unsigned option into `out`; false after reporting a usage error.
bool read_uint(const invocation& inv, std::string_view name, std::uint32_t max, std::optional<std::uint32_t>& out) {
  auto text = inv.args.value(name);
  if (!text) return true;
  out = parse_uint(*text, max);
  if (!out) {
    usage_error("connect", std::string(name) + ": '" + *text + "' is not a whole number in 0.." + std::to_string(max));
    return false;
  }
  return true;
}

}  // namespace

int run_connect(const invocation& inv) {
  auto args = positionals(inv, 1, 1, "exactly one SESSION");
  if (!args) return exit_usage;
  const auto host = inv.args.value("--host");
  if (!host) return usage_error("connect", "connect needs --host HOST");
  const auto user = inv.args.value("--user");
  if (!user && !inv.args.has("--oauth2-connection")) return usage_error("connect", "connect needs --user USER");

  std::optional<pb::TlsMode> tls = pb::TLS_MODE_IMPLICIT;
  if (auto text = inv.args.value("--tls")) {
    tls = parse_tls(*text);
    if (!tls) return usage_error("connect", "--tls: '" + *text + "' is not one of implicit, starttls, plain");
  }
  constexpr auto u32_max = std::numeric_limits<std::uint32_t>::max();
  std::optional<std::uint32_t> port, keepalive, connect_timeout_ms, linger, lease_ttl;
  if (!read_uint(inv, "--port", 65535, port) || !read_uint(inv, "--keepalive", u32_max, keepalive) ||
      !read_uint(inv, "--connect-timeout-ms", u32_max, connect_timeout_ms) ||
      !read_uint(inv, "--linger", u32_max, linger) || !read_uint(inv, "--lease-ttl", u32_max, lease_ttl)) {
    return exit_usage;
  }

  pb::ConnectRequest request;
  request.set_session((*args)[0]);
  request.set_replace(inv.args.has("--replace"));
  request.set_lease_ttl_seconds(lease_ttl.value_or(0));
  request.set_client_name(inv.args.value("--client-name").value_or(default_client_name()));

  auto* spec = request.mutable_spec();
  spec->set_protocol(pb::PROTOCOL_IMAP);
  auto* server = spec->mutable_server();
  server->set_host(*host);
  server->set_port(port.value_or(0));
  server->set_tls_mode(*tls);
  server->set_allow_plaintext(inv.args.has("--allow-plaintext"));
  auto* tls_options = server->mutable_tls();
  tls_options->set_ca_file(inv.args.value("--ca-file").value_or(""));
  tls_options->set_insecure_skip_verify(inv.args.has("--insecure-skip-verify"));
  tls_options->set_server_name(inv.args.value("--server-name").value_or(""));
  spec->set_keepalive_seconds(keepalive.value_or(0));
  spec->set_connect_timeout_ms(connect_timeout_ms.value_or(0));
  if (linger) spec->set_linger_seconds(*linger);

  // Last, so that a typo elsewhere never costs the user a typed password.
  if (auto rc = fill_auth(inv, "connect", user.value_or(""), spec->mutable_auth())) return *rc;

  daemon_link link(inv.globals);
  pb::ConnectResponse response;
  const auto st = link.client.connect(request, &response, inv.globals.timeout.value_or(default_connect_timeout));
  request.Clear();  // the request may hold the password inline; drop it as soon as it has been sent
  if (!st.ok()) return link.fail(st);

  if (inv.globals.json) return print_json(response) ? exit_ok : exit_internal;
  const auto& session = response.session();
  std::cout << "session " << session.name() << ": " << state_name(session.state())
            << (response.created() ? " (created)" : " (attached)") << '\n';
  std::cout << "lease: " << response.lease_id() << "  expires: " << format_time(response.lease_expires_at()) << '\n';
  print_status_block(std::cout, session);
  return exit_ok;
}

}  // namespace mailbroker::cli
