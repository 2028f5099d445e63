#include "client/cli/commands.hpp"

#include <algorithm>
#include <iostream>
#include <limits>

#include "client/cli/auth_options.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/format.hpp"
#include "client/cli/password.hpp"
#include "client/cli/rpc_errors.hpp"

namespace mailbroker::cli {
namespace {

constexpr auto default_timeout = std::chrono::seconds(10);
// gRPC's default 4 MiB receive limit is below what the daemon may answer (a
// GetMessageParts of a message up to 32 MiB); the daemon accepts requests up to 48 MiB.
constexpr int max_reply_bytes = 64 * 1024 * 1024;

std::shared_ptr<grpc::Channel> make_cli_channel(const global_options& globals) {
  std::string error;
  auto channel = client::make_channel(globals.target, globals.security, error, static_cast<int>(max_reply_bytes));
  if (channel) return channel;
  // A broken channel reports the reason on the first call (UNAVAILABLE with this text).
  std::cerr << "mailbroker: " << error << '\n';
  std::exit(exit_usage);
}

constexpr option_def connect_options[] = {
    {"--host", "HOST"},
    {"--port", "N"},
    {"--tls", "MODE"},
    {"--allow-plaintext", ""},
    {"--ca-file", "PATH"},
    {"--insecure-skip-verify", ""},
    {"--server-name", "NAME"},
    {"--user", "USER"},
    {"--password-stdin", ""},
    {"--password-env", "VAR"},
    {"--password-file", "PATH"},
    {"--password-daemon-env", "VAR"},
    {"--password-daemon-file", "PATH"},
    {"--password-vault", "NAME"},
    {"--password", "VALUE", password_on_argv_refusal},
    {"--oauth2-client-id", "ID"},
    {"--oauth2-grant", "GRANT"},
    {"--oauth2-authorize-url", "URL"},
    {"--oauth2-redirect-uri", "URI"},
    {"--oauth2-refresh-token-vault", "NAME"},
    {"--oauth2-connection", "NAME"},
    {"--oauth2-provider", "NAME"},
    {"--oauth2-tenant", "TENANT"},
    {"--oauth2-cloud", "CLOUD"},
    {"--oauth2-token-url", "URL"},
    {"--oauth2-scope", "SCOPES"},
    {"--oauth2-token-ca-file", "PATH"},
    {"--oauth2-client-secret-env", "VAR"},
    {"--oauth2-client-secret-file", "PATH"},
    {"--oauth2-client-secret-daemon-env", "VAR"},
    {"--oauth2-client-secret-daemon-file", "PATH"},
    {"--oauth2-client-secret-vault", "NAME"},
    {"--oauth2-client-secret", "VALUE", client_secret_on_argv_refusal},
    {"--keepalive", "SECONDS"},
    {"--connect-timeout-ms", "N"},
    {"--linger", "SECONDS"},
    {"--lease-ttl", "SECONDS"},
    {"--replace", ""},
    {"--client-name", "NAME"},
    {"--protocol", "PROTOCOL"},
    {"--poll-interval", "SECONDS"},
    {"--max-connections", "N"},
    {"--read-ahead", "BYTES"},
    {"--ews-url", "URL"},
    {"--ews-autodiscover", "ADDRESS"},
    {"--ews-version", "VERSION"},
    {"--ews-auth", "SCHEME"},
    {"--ews-domain", "DOMAIN"},
    {"--ews-mailbox", "ADDRESS"},
    {"--ews-impersonate", "ADDRESS"},
    {"--ews-timeout", "SECONDS"},
    {"--graph-mailbox", "ADDRESS"},
    {"--graph-cloud", "CLOUD"},
    {"--graph-base-url", "URL"},
    {"--graph-timeout", "SECONDS"},
    {"--graph-max-requests", "N"},
    {"--smtp-host", "HOST"},
    {"--smtp-port", "N"},
    {"--smtp-tls", "MODE"},
    {"--smtp-ca-file", "PATH"},
    {"--smtp-insecure-skip-verify", ""},
    {"--smtp-server-name", "NAME"},
    {"--smtp-allow-plaintext", ""},
    {"--smtp-user", "USER"},
    {"--smtp-password-env", "VAR"},
    {"--smtp-password-file", "PATH"},
    {"--smtp-password-daemon-env", "VAR"},
    {"--smtp-password-daemon-file", "PATH"},
    {"--smtp-password-vault", "NAME"},
    {"--smtp-password", "VALUE", smtp_password_on_argv_refusal},
};
constexpr option_def authorize_options[] = {
    {"--user", "USER"},
    {"--password-stdin", ""},
    {"--password-env", "VAR"},
    {"--password-file", "PATH"},
    {"--password-daemon-env", "VAR"},
    {"--password-daemon-file", "PATH"},
    {"--password-vault", "NAME"},
    {"--password", "VALUE", password_on_argv_refusal},
    {"--oauth2-client-id", "ID"},
    {"--oauth2-grant", "GRANT"},
    {"--oauth2-provider", "NAME"},
    {"--oauth2-tenant", "TENANT"},
    {"--oauth2-cloud", "CLOUD"},
    {"--oauth2-token-url", "URL"},
    {"--oauth2-authorize-url", "URL"},
    {"--oauth2-redirect-uri", "URI"},
    {"--oauth2-scope", "SCOPES"},
    {"--oauth2-token-ca-file", "PATH"},
    {"--oauth2-connection", "NAME"},
    {"--login-hint", "ACCOUNT"},
};
constexpr option_def vault_options[] = {{"--from-file", "PATH"}, {"--allow-host", "HOST[:PORT]"}};
constexpr option_def folders_options[] = {{"--pattern", "PATTERN"}, {"--regex", "REGEX"}};
constexpr option_def messages_options[] = {
    {"--folder", "FOLDER"}, {"--unread", ""}, {"--from", "TEXT"}, {"--subject", "TEXT"}, {"--limit", "N"}};
constexpr option_def show_options[] = {{"--folder", "FOLDER"}};
constexpr option_def save_attachments_options[] = {{"--folder", "FOLDER"}, {"--dir", "DIR"}, {"--part", "PART_ID"}};
constexpr option_def watch_mail_options[] = {{"--folder", "FOLDER"}};
constexpr option_def send_options[] = {
    {"--to", "ADDR"},         {"--cc", "ADDR"},        {"--bcc", "ADDR"},  {"--reply-to", "ADDR"},
    {"--from", "ADDR"},       {"--subject", "TEXT"},   {"--text", "TEXT"}, {"--text-file", "PATH"},
    {"--html-file", "PATH"}, {"--attach", "PATH"},
};
constexpr option_def reply_options[] = {
    {"--folder", "FOLDER"}, {"--all", ""},           {"--from", "ADDR"},   {"--text", "TEXT"},
    {"--text-file", "PATH"}, {"--html-file", "PATH"}, {"--attach", "PATH"},
};
constexpr option_def forward_options[] = {
    {"--folder", "FOLDER"}, {"--to", "ADDR"},   {"--cc", "ADDR"},
    {"--from", "ADDR"},     {"--text", "TEXT"}, {"--text-file", "PATH"},
};
constexpr option_def disconnect_options[] = {{"--force", ""}};
constexpr option_def watch_options[] = {{"--until-state", "STATE"}};
constexpr option_def status_options[] = {
    {"--state", "STATE"}, {"--protocol", "PROTOCOL"}, {"--prefix", "TEXT"}, {"--page-size", "N"}, {"--brief", ""}};

constexpr command commands[] = {
    {"connect", "create or attach to a session and take a lease", connect_options, run_connect},
    {"test", "test a connection step by step (connect's flags); creates nothing", connect_options, run_test},
    {"disconnect", "release a lease (--force: log the session out)", disconnect_options, run_disconnect},
    {"renew", "extend a lease by its TTL", {}, run_renew},
    {"status", "show one session, or all (filters: --state, --protocol, --prefix)", status_options, run_status},
    {"watch", "stream state changes of one session or all", watch_options, run_watch},
    {"authorize", "sign in with OAuth2 in a browser; the daemon keeps the refresh token", authorize_options,
     run_authorize},
    {"vault", "put, list or delete the daemon's encrypted secrets", vault_options, run_vault},
    {"folders", "list the folders of a session's mailbox (by lease)", folders_options, run_folders},
    {"messages", "list message summaries of a folder (by lease)", messages_options, run_messages},
    {"show", "show one message: headers, body, attachment list", show_options, run_show},
    {"save-attachments", "save a message's attachments into a directory", save_attachments_options,
     run_save_attachments},
    {"watch-mail", "stream new messages of a folder until Ctrl-C", watch_mail_options, run_watch_mail},
    {"send", "send a message over the session's SMTP leg", send_options, run_send},
    {"reply", "reply to a message (--all: to every recipient)", reply_options, run_reply},
    {"forward", "forward a message as an attachment", forward_options, run_forward},
};

std::chrono::milliseconds call_timeout(const invocation& inv) { return inv.globals.timeout.value_or(default_timeout); }

}  // namespace

std::span<const command> all_commands() { return commands; }

const command* find_command(std::string_view name) {
  auto it = std::find_if(std::begin(commands), std::end(commands), [&](const command& c) { return c.name == name; });
  return it == std::end(commands) ? nullptr : &*it;
}

daemon_link::daemon_link(const global_options& globals)
    : target(globals.target), channel(make_cli_channel(globals)), client(channel) {}

int daemon_link::fail(const grpc::Status& status) const { return report_rpc_failure(status, *channel, target); }

int usage_error(std::string_view command, std::string_view message) {
  std::cerr << "mailbroker: " << message << "\nTry 'mailbroker " << command << (command.empty() ? "" : " ")
            << "--help'.\n";
  return exit_usage;
}

std::optional<std::vector<std::string>> positionals(const invocation& inv, std::size_t min, std::size_t max,
                                                    std::string_view names) {
  const auto& p = inv.args.positionals;
  if (p.size() < min || p.size() > max) {
    // The arguments themselves are not repeated: a stray one may be a pasted password.
    usage_error(inv.args.command, "'" + inv.args.command + "' takes " + std::string(names) + " (got " +
                                      std::to_string(p.size()) + " argument" + (p.size() == 1 ? "" : "s") + ")");
    return std::nullopt;
  }
  return p;
}

bool print_json(const google::protobuf::Message& message) {
  auto json = to_json(message);
  if (!json) {
    std::cerr << "mailbroker: cannot convert the reply to JSON\n";
    return false;
  }
  std::cout << *json << '\n' << std::flush;
  return true;
}

void set_call_deadline(grpc::ClientContext& context, const invocation& inv, std::chrono::milliseconds fallback) {
  context.set_deadline(std::chrono::system_clock::now() + inv.globals.timeout.value_or(fallback));
}

std::optional<pb::MessageRef> message_argument(const invocation& inv, const std::string& text) {
  pb::MessageRef ref;
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    auto uid = parse_uint(text, std::numeric_limits<std::uint32_t>::max());
    if (!uid || *uid == 0) {
      usage_error(inv.args.command, "MESSAGE: '" + text + "' is not a message uid (a whole number from 1)");
      return std::nullopt;
    }
    ref.set_uid(*uid);
    return ref;
  }
  // EWS: an item id as `messages` prints it (base64 text).
  if (text.empty() || text.size() > 1024 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return c > ' ' && c < 0x7f; })) {
    usage_error(inv.args.command, "MESSAGE: a uid (IMAP, POP3) or an item id (EWS), as `messages` prints them");
    return std::nullopt;
  }
  ref.set_item_id(text);
  return ref;
}

int run_disconnect(const invocation& inv) {
  auto args = positionals(inv, 1, 1, "exactly one LEASE_ID");
  if (!args) return exit_usage;
  const std::string& lease_id = (*args)[0];
  const bool force = inv.args.has("--force");

  daemon_link link(inv.globals);
  pb::DisconnectResponse response;
  if (auto st = link.client.disconnect(lease_id, force, &response, call_timeout(inv)); !st.ok()) return link.fail(st);
  if (inv.globals.json) return print_json(response) ? exit_ok : exit_internal;
  std::cout << "released lease " << lease_id << (force ? " (forced: session logged out)" : "") << '\n';
  print_status_block(std::cout, response.session());
  return exit_ok;
}

int run_renew(const invocation& inv) {
  auto args = positionals(inv, 1, 1, "exactly one LEASE_ID");
  if (!args) return exit_usage;
  const std::string& lease_id = (*args)[0];

  daemon_link link(inv.globals);
  pb::RenewLeaseResponse response;
  if (auto st = link.client.renew(lease_id, &response, call_timeout(inv)); !st.ok()) return link.fail(st);
  if (inv.globals.json) return print_json(response) ? exit_ok : exit_internal;
  std::cout << "lease: " << lease_id << "  expires: " << format_time(response.lease_expires_at()) << '\n';
  return exit_ok;
}

int run_status(const invocation& inv) {
  auto args = positionals(inv, 0, 1, "at most one SESSION");
  if (!args) return exit_usage;
  pb::StatusRequest request;
  if (!args->empty()) request.set_session((*args)[0]);
  for (const auto& text : inv.args.values("--state")) {
    auto state = parse_state(text);
    if (!state) {
      return usage_error("status", "--state: '" + text +
                                       "' is not a state (CONNECTING, AUTHENTICATING, READY, BACKOFF, FAILED, CLOSED)");
    }
    request.add_states(*state);
  }
  if (auto text = inv.args.value("--protocol")) {
    if (*text == "imap" || *text == "IMAP") {
      request.set_protocol(pb::PROTOCOL_IMAP);
    } else if (*text == "pop3" || *text == "POP3") {
      request.set_protocol(pb::PROTOCOL_POP3);
    } else {
      return usage_error("status", "--protocol: '" + *text + "' is not one of imap, pop3");
    }
  }
  if (auto text = inv.args.value("--prefix")) request.set_name_prefix(*text);
  if (auto text = inv.args.value("--page-size")) {
    auto n = parse_uint(*text, 1000);
    if (!n || *n == 0) return usage_error("status", "--page-size: give a number from 1 to 1000");
    request.set_page_size(*n);
  }
  // Without the greeting and capability list: what a dashboard polling thousands needs.
  if (inv.args.has("--brief")) request.set_view(pb::STATUS_VIEW_BRIEF);
  if (!request.session().empty() && (request.states_size() > 0 || request.protocol() != pb::PROTOCOL_UNSPECIFIED ||
                                     !request.name_prefix().empty())) {
    return usage_error("status", "--state, --protocol and --prefix list sessions: give them without SESSION");
  }

  // Page through everything: the daemon answers at most 1000 sessions per call.
  daemon_link link(inv.globals);
  pb::StatusResponse all;
  for (;;) {
    pb::StatusResponse page;
    if (auto st = link.client.status(request, &page, call_timeout(inv)); !st.ok()) return link.fail(st);
    for (auto& s : *page.mutable_sessions()) all.add_sessions()->Swap(&s);
    all.set_total_sessions(page.total_sessions());
    *all.mutable_sessions_by_state() = page.sessions_by_state();
    all.set_live_sessions(page.live_sessions());
    all.set_max_sessions(page.max_sessions());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  if (inv.globals.json) return print_json(all) ? exit_ok : exit_internal;
  if (all.sessions().empty()) {
    std::cout << (request.session().empty() && all.total_sessions() > 0 ? "no matching sessions\n" : "no sessions\n");
    return exit_ok;
  }
  bool first = true;
  for (const auto& s : all.sessions()) {
    if (!first) std::cout << '\n';
    first = false;
    print_status_block(std::cout, s);
  }
  if (request.session().empty()) {
    std::cout << '\n' << all.sessions_size() << " shown of " << all.total_sessions() << " sessions; " << all.live_sessions()
              << " live of max " << all.max_sessions() << '\n';
  }
  return exit_ok;
}

}  // namespace mailbroker::cli
