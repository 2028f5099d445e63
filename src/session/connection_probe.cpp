#include "session/connection_probe.hpp"

#include <algorithm>
#include <memory>
#include <optional>

#include "common/text.hpp"
#include "net/deadline_guard.hpp"
#include "net/tls_context.hpp"
#include "protocol/ews/client.hpp"
#include "protocol/graph/client.hpp"
#include "protocol/graph/responses.hpp"
#include "protocol/imap/client.hpp"
#include "protocol/pop3/client.hpp"
#include "protocol/smtp/client.hpp"
#include "session/smtp_sender.hpp"
#include "session/upstream.hpp"

namespace mailbroker::session {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds remaining(clock::time_point deadline) {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - clock::now()));
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : " ") + s;
  return out;
}

bool has(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// One step, timed from construction.
class step_timer {
 public:
  step_timer(probe_report& report, std::string name, bool smtp) : report_(report), name_(std::move(name)), smtp_(smtp) {}

  void ok(std::string detail) {
    probe_step s = make();
    s.detail = clean_text(detail, 2 * max_step_detail);
    report_.steps.push_back(std::move(s));
  }
  // `cause` picks the fix (probe_steps.hpp fix_for); the step's own name by default.
  void failed(const error& e, std::string_view cause = {}, std::string detail = {}) {
    probe_step s = make();
    s.ok = false;
    s.failure = e;
    s.detail = clean_text(detail, 2 * max_step_detail);
    const std::string base = name_.rfind("smtp.", 0) == 0 ? name_.substr(5) : name_;
    s.fix = fix_for(cause.empty() ? std::string_view(base) : cause, e, smtp_);
    report_.steps.push_back(std::move(s));
  }

 private:
  probe_step make() const {
    probe_step s;
    s.name = name_;
    s.duration = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start_);
    return s;
  }

  probe_report& report_;
  std::string name_;
  bool smtp_;
  clock::time_point start_ = clock::now();
};

// When the test's deadline closed the connection, the failed step says so (its own
// error would only say "connection closed").
void blame_deadline(probe_report& report, const net::deadline_guard& guard) {
  if (!guard.expired() || report.ok() || report.steps.empty()) return;
  auto& s = report.steps.back();
  s.failure = error{errc::deadline_exceeded, "the connection test's deadline passed during '" + s.name + "'"};
  s.fix = fix_for("deadline", s.failure, false);
}

// Fails step `name` at once when no time is left for it.
bool out_of_time(probe_report& report, const std::string& name, clock::time_point deadline) {
  if (remaining(deadline).count() > 0) return false;
  step_timer(report, name, false)
      .failed(error{errc::deadline_exceeded, "the connection test's deadline passed before '" + name + "'"},
              "deadline");
  return true;
}

// How a password login will go, from the capabilities (the rules of each client's
// login(), see protocol/*/client.hpp).
std::string password_mechanism(upstream& conn) {
  if (conn.imap() != nullptr) {
    const auto caps = conn.capabilities();
    if (has(caps, "AUTH=PLAIN")) return has(caps, "SASL-IR") ? "AUTHENTICATE PLAIN (SASL-IR)" : "AUTHENTICATE PLAIN";
    return "LOGIN";
  }
  if (conn.pop3() != nullptr) return has(conn.pop3()->caps().sasl_mechanisms, "PLAIN") ? "AUTH PLAIN" : "USER/PASS";
  return "password";
}

std::string capability_summary(upstream& conn) {
  std::string out = joined(conn.capabilities());
  if (auto* pop3 = conn.pop3(); pop3 != nullptr && !pop3->caps().sasl_mechanisms.empty()) {
    out += " (SASL " + joined(pop3->caps().sasl_mechanisms) + ")";
  }
  return out;
}

// IMAP EXAMINE INBOX (read-only: nothing in the mailbox changes), POP3 STAT, EWS
// GetFolder or Graph GET mailFolders/inbox on the inbox of the spec's mailbox.
awaitable<void> first_call(upstream& conn, const session_spec& spec, milliseconds timeout, probe_report& report) {
  step_timer step(report, "first_call", false);
  if (auto* imap = conn.imap()) {
    auto r = co_await imap->execute("EXAMINE INBOX", timeout);
    if (!r) {
      step.failed(r.err());
      co_return;
    }
    if (r->status != "OK") {
      step.failed(error{errc::failed_precondition,
                        "EXAMINE INBOX refused: " + r->status + " " + clean_text(r->text, max_step_detail)});
      co_return;
    }
    std::string count = "?";
    for (const auto& u : r->untagged) {
      if (u.name == "EXISTS" && u.number) count = std::to_string(*u.number);
    }
    step.ok("EXAMINE INBOX: " + count + (count == "1" ? " message" : " messages"));
    co_return;
  }
  if (auto* ews = conn.ews()) {
    ews::folder_ref inbox;
    inbox.distinguished = "inbox";
    inbox.mailbox_smtp = spec.ews ? spec.ews->mailbox : std::string();
    std::vector<ews::folder_ref> one{inbox};
    auto reply = co_await ews->call(ews::get_folder(ews->version(), one));
    auto folders = reply ? ews::parse_folders(reply.value()) : result<ews::folder_page>(reply.err());
    if (!folders) {
      step.failed(folders.err());
      co_return;
    }
    if (folders->folders.empty() || !folders->folders.front().status.ok()) {
      step.failed(folders->folders.empty() ? error{errc::internal, "GetFolder returned no folder"}
                                           : folders->folders.front().status);
      co_return;
    }
    const auto n = folders->folders.front().total_count;
    step.ok("GetFolder inbox: " + std::to_string(n) + (n == 1 ? " item" : " items") + " (server " +
            ews::describe(ews->server()) + ")");
    co_return;
  }
  if (auto* graph = conn.graph()) {
    auto reply = co_await graph->send(graph::get_folder(graph->mailbox_root(), "inbox"), "folder inbox");
    auto inbox = reply ? graph::parse_folder(reply->body, reply->status) : result<graph::mail_folder>(reply.err());
    if (!inbox) {
      step.failed(inbox.err());
      co_return;
    }
    const auto n = inbox->total_item_count;
    step.ok("GET " + graph->mailbox_root() + "/mailFolders/inbox: " + std::to_string(n) + (n == 1 ? " message" : " messages"));
    co_return;
  }
  auto* pop3 = conn.pop3();
  if (pop3 == nullptr) {
    step.failed(error{errc::internal, "no first call for this protocol"});
    co_return;
  }
  auto stat = co_await pop3->stat(timeout);
  if (!stat) {
    step.failed(stat.err());
    co_return;
  }
  step.ok("STAT: " + std::to_string(stat->count) + (stat->count == 1 ? " message, " : " messages, ") +
          std::to_string(stat->size) + " bytes");
}

awaitable<void> probe_main(const session_spec& spec, const probe_settings& settings, probe_report& report) {
  auto executor = co_await asio::this_coro::executor;
  auto tls = net::make_client_tls_context({spec.ca_file, !spec.insecure_skip_verify});
  if (!tls) {
    step_timer(report, "tls", false).failed(tls.err(), "ca_file");
    co_return;
  }
  if (out_of_time(report, "dns", settings.deadline)) co_return;

  auto trace = std::make_shared<net::connection_trace>();
  upstream_options options;
  options.imap = settings.imap_limits;
  options.trace = trace;
  auto conn = make_upstream(spec.proto, executor, tls.value(), options);
  net::deadline_guard guard(executor, remaining(settings.deadline), [conn] {
    conn->close(error{errc::deadline_exceeded, "the connection test's deadline passed"});
  });
  auto finish_failed = [&] {
    blame_deadline(report, guard);
    conn->close(error{errc::cancelled, "connection test failed"});
  };

  session_spec bounded = spec;
  const auto connect_timeout = spec.connect_timeout.count() > 0 ? spec.connect_timeout : default_connect_timeout;
  bounded.connect_timeout = std::min(connect_timeout, remaining(settings.deadline));
  const error opened = co_await conn->open(bounded);
  open_observation o;
  o.tls = spec.tls;
  o.verify = !spec.insecure_skip_verify;
  o.finished = clock::now();
  o.result = opened;
  o.greeting = conn->greeting();
  o.greeted = opened.ok() || !o.greeting.empty();
  // IMAP servers often announce their capabilities in the greeting; POP3 always asks CAPA.
  o.capability_exchange = conn->pop3() != nullptr || conn->commands_sent() > 0;
  o.capabilities = capability_summary(*conn);
  if (!add_open_steps(*trace, o, report.steps)) {
    finish_failed();
    co_return;
  }

  const bool oauth = spec.auth != auth_method::basic;
  const std::string mechanism = !spec.ews                          ? password_mechanism(*conn)
                                : spec.ews->auth == ews_auth::basic ? std::string("HTTP Basic")
                                                                    : std::string("NTLMv2");
  // Resolving the password is part of "auth"; fetching a token is a step of its own.
  std::optional<step_timer> auth, token;
  if (oauth) {
    token.emplace(report, "token", false);
  } else {
    auth.emplace(report, "auth", false);
  }
  auto credentials = co_await resolve_login_credentials(spec, settings.session_name, settings.credentials);
  if (!credentials) {
    if (oauth) {
      token->failed(credentials.err());
    } else {
      auth->failed(credentials.err(), "credentials");
    }
    finish_failed();
    co_return;
  }
  if (oauth) {
    token->ok("access token for " + spec.oauth2.token_url);
    auth.emplace(report, "auth", false);
  }
  auto logged_in = co_await log_in(*conn, std::move(credentials.value()));
  if (!logged_in) {
    auth->failed(logged_in.err(), {}, oauth ? "as " + spec.username : mechanism + " as " + spec.username);
    finish_failed();
    co_return;
  }
  auth->ok((oauth ? logged_in.value() : mechanism) + " as " + spec.username);

  if (out_of_time(report, "first_call", settings.deadline)) {
    finish_failed();
    co_return;
  }
  co_await first_call(*conn, spec, std::min(settings.command_timeout, remaining(settings.deadline)), report);
  if (!report.ok()) {
    finish_failed();
    co_return;
  }

  step_timer logout(report, "logout", false);
  const auto logout_timeout = std::min(settings.command_timeout, remaining(settings.deadline));
  if (auto* pop3 = conn->pop3()) {
    // QUIT's answer is reported (the upstream's logout() swallows it).
    if (auto e = co_await pop3->quit(logout_timeout); !e.ok()) {
      logout.failed(e);
      finish_failed();
      co_return;
    }
    logout.ok("QUIT");
  } else {
    co_await conn->logout(logout_timeout);
    logout.ok(conn->ews() != nullptr || conn->graph() != nullptr ? "connection closed" : "LOGOUT");
  }
}

awaitable<void> probe_smtp(const session_spec& spec, const probe_settings& settings, probe_report& report) {
  const auto& leg = *spec.smtp;
  auto executor = co_await asio::this_coro::executor;
  auto tls = net::make_client_tls_context({leg.ca_file, !leg.insecure_skip_verify});
  if (!tls) {
    step_timer(report, "smtp.tls", true).failed(tls.err(), "ca_file");
    co_return;
  }
  if (out_of_time(report, "smtp.dns", settings.deadline)) co_return;

  auto trace = std::make_shared<net::connection_trace>();
  auto client = std::make_shared<smtp::client>(executor, tls.value());
  net::deadline_guard guard(executor, remaining(settings.deadline), [client] {
    client->close(error{errc::deadline_exceeded, "the connection test's deadline passed"});
  });
  auto finish_failed = [&] {
    blame_deadline(report, guard);
    client->close(error{errc::cancelled, "connection test failed"});
  };

  auto options = smtp_connect_options(leg, std::min(settings.command_timeout, remaining(settings.deadline)));
  options.trace = trace;
  const error opened = co_await client->open(std::move(options));
  open_observation o;
  o.prefix = "smtp.";
  o.tls = leg.tls;
  o.verify = !leg.insecure_skip_verify;
  o.finished = clock::now();
  o.result = opened;
  o.greeting = client->greeting();
  o.greeted = opened.ok() || !o.greeting.empty();
  o.capability_step = "ehlo";
  const auto& caps = client->capabilities();
  o.capabilities = joined(caps.keywords) + (caps.auth.empty() ? "" : " (AUTH " + joined(caps.auth) + ")");
  if (!add_open_steps(*trace, o, report.steps)) {
    finish_failed();
    co_return;
  }

  step_timer auth(report, "smtp.auth", true);
  const std::string mechanism = has(caps.auth, "PLAIN") ? "AUTH PLAIN" : "AUTH LOGIN";
  auto credentials = co_await resolve_smtp_credentials(spec, settings.session_name, settings.credentials);
  if (!credentials) {
    auth.failed(credentials.err(), spec.auth != auth_method::basic && !leg.own_credentials ? "token" : "credentials");
    finish_failed();
    co_return;
  }
  auto& c = credentials.value();
  result<std::string> used = error{};
  if (c.oauth) {
    used = co_await client->authenticate_oauth(c.user, c.secret);
  } else {
    error e = co_await client->login(c.user, c.secret);
    used = e.ok() ? result<std::string>(mechanism) : result<std::string>(e);
  }
  std::fill(c.secret.begin(), c.secret.end(), '\0');
  if (!used) {
    auth.failed(used.err(), {}, (c.oauth ? std::string("OAuth2") : mechanism) + " as " + c.user);
    finish_failed();
    co_return;
  }
  auth.ok(used.value() + " as " + c.user);

  step_timer quit(report, "smtp.logout", true);
  co_await client->quit(std::min(settings.command_timeout, remaining(settings.deadline)));
  quit.ok("QUIT");
}

}  // namespace

awaitable<probe_report> probe_connection(session_spec spec, probe_settings settings) {
  probe_report report;
  co_await probe_main(spec, settings, report);
  if (report.ok() && spec.smtp) co_await probe_smtp(spec, settings, report);
  co_return report;
}

}  // namespace mailbroker::session
