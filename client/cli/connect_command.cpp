// `mailbroker connect`: builds a ConnectRequest from flags, then reports the lease.
// The flags are shared with `mailbroker test` (build_connect_request).
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <iostream>
#include <limits>

#include "client/cli/auth_options.hpp"
#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/format.hpp"
#include "client/cli/graph_options.hpp"
#include "client/cli/password.hpp"

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

std::optional<pb::Protocol> parse_protocol(std::string_view text) {
  if (text == "imap") return pb::PROTOCOL_IMAP;
  if (text == "pop3") return pb::PROTOCOL_POP3;
  if (text == "ews") return pb::PROTOCOL_EWS;
  if (text == "graph") return pb::PROTOCOL_GRAPH;
  return std::nullopt;
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
    usage_error(inv.args.command, std::string(name) + ": '" + *text + "' is not a whole number in 0.." + std::to_string(max));
    return false;
  }
  return true;
}

// EWS's options, refused with any other protocol.
constexpr const char* ews_options[] = {"--ews-url",    "--ews-autodiscover", "--ews-version",     "--ews-auth",
                                       "--ews-domain", "--ews-mailbox",      "--ews-impersonate", "--ews-timeout"};

void fill_graph(const graph_flags& flags, pb::SessionSpec* spec) {
  auto* leg = spec->mutable_graph();
  switch (flags.cloud) {
    case graph_cloud_flag::unspecified: break;  // the daemon takes the OAuth2 cloud
    case graph_cloud_flag::global: leg->set_cloud(pb::GRAPH_CLOUD_GLOBAL); break;
    case graph_cloud_flag::us_gcc_high: leg->set_cloud(pb::GRAPH_CLOUD_US_GCC_HIGH); break;
    case graph_cloud_flag::custom: leg->set_cloud(pb::GRAPH_CLOUD_CUSTOM); break;
  }
  leg->set_base_url(flags.base_url);
  leg->set_mailbox(flags.mailbox);
  leg->set_timeout_seconds(flags.timeout_seconds);
  leg->set_max_concurrent_requests(flags.max_requests);
}

// The --smtp-* options that only make sense with --smtp-host.
constexpr std::string_view smtp_detail_options[] = {
    "--smtp-port",       "--smtp-tls",    "--smtp-ca-file",        "--smtp-insecure-skip-verify",
    "--smtp-server-name", "--smtp-allow-plaintext", "--smtp-user",
};

// SessionSpec.smtp from the --smtp-* options; nothing when --smtp-host is absent.
// Returns an exit code after a usage error. Reads the SMTP password source, so it runs
// after every other check of the command line.
std::optional<int> fill_smtp(const invocation& inv, pb::SessionSpec* spec) {
  const auto host = inv.args.value("--smtp-host");
  if (!host) {
    for (auto name : smtp_detail_options) {
      if (inv.args.has(name)) return usage_error(inv.args.command, std::string(name) + " needs --smtp-host HOST");
    }
    if (secret_given(inv.args, "--smtp-password")) {
      return usage_error(inv.args.command, "an --smtp-password-* source needs --smtp-host HOST and --smtp-user USER");
    }
    return std::nullopt;
  }
  pb::TlsMode tls = pb::TLS_MODE_IMPLICIT;
  if (auto text = inv.args.value("--smtp-tls")) {
    auto parsed = parse_tls(*text);
    if (!parsed) return usage_error(inv.args.command, "--smtp-tls: '" + *text + "' is not one of implicit, starttls, plain");
    tls = *parsed;
  }
  std::optional<std::uint32_t> port;
  if (!read_uint(inv, "--smtp-port", 65535, port)) return exit_usage;

  auto* server = spec->mutable_smtp()->mutable_server();
  server->set_host(*host);
  server->set_port(port.value_or(0));
  server->set_tls_mode(tls);
  server->set_allow_plaintext(inv.args.has("--smtp-allow-plaintext"));
  auto* tls_options = server->mutable_tls();
  tls_options->set_ca_file(inv.args.value("--smtp-ca-file").value_or(""));
  tls_options->set_insecure_skip_verify(inv.args.has("--smtp-insecure-skip-verify"));
  tls_options->set_server_name(inv.args.value("--smtp-server-name").value_or(""));

  const auto user = inv.args.value("--smtp-user");
  if (!user) {
    if (secret_given(inv.args, "--smtp-password")) {
      return usage_error(inv.args.command, "an --smtp-password-* source needs --smtp-user USER");
    }
    return std::nullopt;  // SMTP logs in with the session's own credentials
  }
  if (user->empty()) return usage_error(inv.args.command, "--smtp-user must not be empty");
  auto password = secret_from_args(inv.args, "--smtp-password", *user, inv.args.command + " --smtp-user", false);
  if (!password) return usage_error(inv.args.command, password.err().message);
  auto* basic = spec->mutable_smtp()->mutable_basic();
  basic->set_username(*user);
  *basic->mutable_password() = std::move(password.value());
  return std::nullopt;
}

}  // namespace

std::optional<int> build_connect_request(const invocation& inv, pb::ConnectRequest& request) {
  const std::string& command = inv.args.command;
  auto args = positionals(inv, 1, 1, "exactly one SESSION");
  if (!args) return exit_usage;
  std::optional<pb::Protocol> protocol = pb::PROTOCOL_IMAP;
  if (auto text = inv.args.value("--protocol")) {
    protocol = parse_protocol(*text);
    if (!protocol) return usage_error(command, "--protocol: '" + *text + "' is not one of imap, pop3, ews, graph");
  }
  const bool ews = *protocol == pb::PROTOCOL_EWS;
  const bool graph = *protocol == pb::PROTOCOL_GRAPH;
  const auto host = inv.args.value("--host");
  if (!host && !ews && !graph) return usage_error(command, command + " needs --host HOST");
  if (host && ews) return usage_error(command, "--host: EWS sessions take the host from --ews-url");
  if (ews && inv.args.has("--ews-url") == inv.args.has("--ews-autodiscover")) {
    return usage_error(command, command + " --protocol ews needs --ews-url URL or --ews-autodiscover ADDRESS (one)");
  }
  if (!ews) {
    for (const char* name : ews_options) {
      if (inv.args.has(name)) return usage_error(command, std::string(name) + " needs --protocol ews");
    }
  }
  auto graph_leg = graph_flags_from_args(inv.args, graph);
  if (!graph_leg) return usage_error(command, graph_leg.err().message);
  const auto user = inv.args.value("--user");
  // Graph: the mailbox is --graph-mailbox ("" = the token's own user), --user optional.
  if (!user && !inv.args.has("--oauth2-connection") && !graph) return usage_error(command, command + " needs --user USER");
  std::optional<pb::TlsMode> tls = pb::TLS_MODE_IMPLICIT;
  if (auto text = inv.args.value("--tls")) {
    tls = parse_tls(*text);
    if (!tls) return usage_error(command, "--tls: '" + *text + "' is not one of implicit, starttls, plain");
  }
  constexpr auto u32_max = std::numeric_limits<std::uint32_t>::max();
  std::optional<std::uint32_t> port, keepalive, connect_timeout_ms, linger, lease_ttl, poll_interval, ews_timeout,
      max_connections, read_ahead;
  if (!read_uint(inv, "--ews-timeout", u32_max, ews_timeout) || !read_uint(inv, "--port", 65535, port) ||
      !read_uint(inv, "--keepalive", u32_max, keepalive) ||
      !read_uint(inv, "--poll-interval", u32_max, poll_interval) ||
      !read_uint(inv, "--max-connections", u32_max, max_connections) ||
      !read_uint(inv, "--read-ahead", u32_max, read_ahead) ||
      !read_uint(inv, "--connect-timeout-ms", u32_max, connect_timeout_ms) ||
      !read_uint(inv, "--linger", u32_max, linger) || !read_uint(inv, "--lease-ttl", u32_max, lease_ttl)) {
    return exit_usage;
  }

  request.set_session((*args)[0]);
  request.set_replace(inv.args.has("--replace"));
  request.set_lease_ttl_seconds(lease_ttl.value_or(0));
  request.set_client_name(inv.args.value("--client-name").value_or(default_client_name()));

  auto* spec = request.mutable_spec();
  spec->set_protocol(*protocol);
  auto* server = spec->mutable_server();
  if (graph_leg.value()) {
    fill_graph(*graph_leg.value(), spec);
  } else if (!ews) {
    server->set_host(*host);
    server->set_port(port.value_or(0));
    server->set_tls_mode(*tls);
  } else {
    auto* leg = spec->mutable_ews();
    leg->set_url(inv.args.value("--ews-url").value_or(""));
    leg->set_autodiscover_email(inv.args.value("--ews-autodiscover").value_or(""));
    leg->set_version(inv.args.value("--ews-version").value_or(""));
    if (auto scheme = inv.args.value("--ews-auth")) {
      if (*scheme == "ntlm") leg->set_auth_scheme(pb::EWS_AUTH_SCHEME_NTLM);
      else if (*scheme == "basic") leg->set_auth_scheme(pb::EWS_AUTH_SCHEME_BASIC);
      else return usage_error(command, "--ews-auth: '" + *scheme + "' is not one of ntlm, basic");
    }
    leg->set_domain(inv.args.value("--ews-domain").value_or(""));
    leg->set_mailbox(inv.args.value("--ews-mailbox").value_or(""));
    leg->set_impersonate(inv.args.value("--ews-impersonate").value_or(""));
    leg->set_timeout_seconds(ews_timeout.value_or(0));
  }
  server->set_allow_plaintext(inv.args.has("--allow-plaintext"));
  auto* tls_options = server->mutable_tls();
  tls_options->set_ca_file(inv.args.value("--ca-file").value_or(""));
  tls_options->set_insecure_skip_verify(inv.args.has("--insecure-skip-verify"));
  tls_options->set_server_name(inv.args.value("--server-name").value_or(""));
  spec->set_keepalive_seconds(keepalive.value_or(0));
  spec->set_connect_timeout_ms(connect_timeout_ms.value_or(0));
  if (linger) spec->set_linger_seconds(*linger);
  spec->set_poll_interval_seconds(poll_interval.value_or(0));
  spec->set_max_connections(max_connections.value_or(0));
  spec->set_read_ahead_bytes(read_ahead.value_or(0));

  // Last, so that a typo elsewhere never costs the user a typed password.
  if (auto rc = fill_smtp(inv, spec)) return *rc;
  if (auto rc = fill_auth(inv, command, user.value_or(""), spec->mutable_auth())) return *rc;
  return std::nullopt;
}

int run_connect(const invocation& inv) {
  pb::ConnectRequest request;
  if (auto rc = build_connect_request(inv, request)) return *rc;

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
