#include "session/probe_steps.hpp"

#include <optional>

#include "common/text.hpp"

namespace mailbroker::session {
namespace {

using time_point = std::chrono::steady_clock::time_point;

std::chrono::microseconds span(time_point from, time_point to) {
  if (to < from) return std::chrono::microseconds(0);
  return std::chrono::duration_cast<std::chrono::microseconds>(to - from);
}

std::string join_addresses(const net::connection_trace& t) {
  std::string out;
  for (const auto& a : t.addresses) out += (out.empty() ? "" : ", ") + a;
  if (t.address_count > t.addresses.size()) {
    out += " (+" + std::to_string(t.address_count - t.addresses.size()) + " more)";
  }
  return out;
}

// Appends one step named prefix + `name` covering [from, to]; failed steps get the
// error and the fix for `name`.
void add(std::vector<probe_step>& steps, const open_observation& o, const std::string& name, time_point from,
         time_point to, std::string detail, const error* failure = nullptr) {
  probe_step s;
  s.name = o.prefix + name;
  s.duration = span(from, to);
  s.detail = std::move(detail);
  if (failure != nullptr) {
    s.ok = false;
    s.failure = *failure;
    s.fix = fix_for(name, *failure, o.prefix == "smtp.");
  }
  steps.push_back(std::move(s));
}

std::string server_field(bool smtp) { return smtp ? "smtp.server" : "server"; }
std::string flag(bool smtp, std::string_view name) { return std::string(smtp ? "--smtp-" : "--") + std::string(name); }

}  // namespace

std::string describe_tls(const net::tls_peer_info& tls, bool verify) {
  std::string out = tls.version.empty() ? std::string("handshake incomplete") : tls.version;
  if (!tls.subject.empty()) out += ", " + tls.subject;
  if (!tls.issuer.empty() && tls.issuer != tls.subject) out += ", issuer " + tls.issuer;
  if (!tls.not_after.empty()) out += ", expires " + tls.not_after;
  if (!verify) out += ", NOT verified (insecure_skip_verify)";
  return out;
}

bool add_open_steps(const net::connection_trace& t, const open_observation& o, std::vector<probe_step>& steps) {
  const error* failed = o.result.ok() ? nullptr : &o.result;
  const time_point end = o.finished;

  if (!t.resolved) {
    add(steps, o, "dns", t.started, end, {}, failed);
    return false;
  }
  add(steps, o, "dns", t.started, *t.resolved, join_addresses(t));
  if (!t.connected) {
    add(steps, o, "tcp", *t.resolved, end, {}, failed);
    return false;
  }
  add(steps, o, "tcp", *t.resolved, *t.connected, t.endpoint);
  time_point cursor = *t.connected;

  if (o.tls == tls_mode::implicit) {
    if (!t.tls_done) {
      add(steps, o, "tls", cursor, end, describe_tls(t.tls, o.verify), failed);
      return false;
    }
    add(steps, o, "tls", cursor, *t.tls_done, describe_tls(t.tls, o.verify));
    cursor = *t.tls_done;
  }

  const std::string greeting = clean_text(o.greeting, max_step_detail);
  const std::string capabilities = clean_text(o.capabilities, max_step_detail);
  if (!o.greeted) {  // no greeting, or one that refused us
    add(steps, o, "greeting", cursor, end, greeting, failed);
    return false;
  }
  const time_point greeted_at = t.first_byte.value_or(end);

  if (o.tls == tls_mode::starttls) {
    add(steps, o, "greeting", cursor, greeted_at, greeting);
    // From the greeting to the end of the handshake: the capability query, the
    // STARTTLS command and the TLS handshake itself.
    if (!t.tls_done) {
      const std::string detail = t.tls_started ? describe_tls(t.tls, o.verify) : std::string("not begun");
      add(steps, o, "starttls", greeted_at, end, detail, failed);
      return false;
    }
    add(steps, o, "starttls", greeted_at, *t.tls_done, describe_tls(t.tls, o.verify));
    add(steps, o, o.capability_step, *t.tls_done, end, capabilities, failed);
    return failed == nullptr;
  }

  if (!o.capability_exchange) {
    // The greeting carried the capabilities (IMAP "* OK [CAPABILITY ...]"): one step.
    std::string detail = greeting;
    if (!capabilities.empty()) detail += (detail.empty() ? "" : "; ") + std::string("capabilities: ") + capabilities;
    add(steps, o, "greeting", cursor, end, clean_text(detail, 2 * max_step_detail), failed);
    return failed == nullptr;
  }
  add(steps, o, "greeting", cursor, greeted_at, greeting);
  add(steps, o, o.capability_step, greeted_at, end, capabilities, failed);
  return failed == nullptr;
}

std::string fix_for(std::string_view cause, const error& e, bool smtp) {
  const std::string server = server_field(smtp);
  if (e.code == errc::resource_exhausted) {
    return "the daemon is out of file descriptors: raise its LimitNOFILE or lower max-sessions, then retry";
  }
  if (cause == "dns") {
    if (e.code == errc::deadline_exceeded) {
      return "the daemon's DNS resolver did not answer in time: check the resolver of the daemon's machine, or "
             "give an IP address";
    }
    return "check the host name (" + server + ".host, " + flag(smtp, "host") +
           "): it does not resolve on the daemon's machine";
  }
  if (cause == "tcp") {
    return "nothing accepted the connection: check the port (" + server + ".port, " + flag(smtp, "port") +
           "), that the server is running, and that no firewall blocks the daemon's machine";
  }
  if (cause == "tls" || cause == "starttls") {
    if (e.code == errc::failed_precondition && e.message.find("did not verify") != std::string::npos) {
      return "the server's certificate is not trusted: pass " + flag(smtp, "ca-file") + " (" + server +
             ".tls.ca_file) with its CA, set " + flag(smtp, "server-name") +
             " to the name in the certificate, or fix the server's certificate";
    }
    if (cause == "starttls" && e.code == errc::failed_precondition) {
      return "the server offers no STARTTLS here: use implicit TLS (" + flag(smtp, "tls") +
             " implicit) on its TLS port (IMAP 993, POP3 995, SMTP 465)";
    }
    return "the TLS handshake failed: check the TLS mode for this port (" + flag(smtp, "tls") +
           "): implicit on 993/995/465, starttls on 143/110/587";
  }
  if (cause == "ca_file") {
    return "the daemon cannot load the CA file: check the path of " + flag(smtp, "ca-file") + " (" + server +
           ".tls.ca_file) on the daemon's machine and that the daemon may read it";
  }
  if (cause == "greeting") {
    return "the server did not greet as expected: check that the port (" + flag(smtp, "port") + ") is the " +
           (smtp ? std::string("SMTP submission") : std::string("mail protocol's")) +
           " port, the protocol (--protocol) and the TLS mode (" + flag(smtp, "tls") +
           "); a refusal in the greeting (see the error) comes from the server itself";
  }
  if (cause == "capabilities" || cause == "ehlo") {
    return "the server failed right after its greeting (see the error): it may be overloaded or not speak the "
           "protocol; check the port and retry";
  }
  if (cause == "credentials") {
    return "the daemon could not read the password's secret reference: fix it as the error says (the daemon "
           "reads env:, file: and vault: references itself)";
  }
  if (cause == "token") {
    return "no OAuth2 access token could be obtained (see the error): check the client id, secret, scopes and "
           "token URL, or re-authorize with `mailbroker authorize` if the refresh token was revoked";
  }
  if (cause == "auth") {
    if (e.code == errc::unauthenticated) {
      return std::string("the server refused the credentials: check the user name (") +
             (smtp ? "--smtp-user" : "--user") + ") and the password (or the token's scopes and user)";
    }
    if (e.code == errc::failed_precondition) {
      return "the server offers no login method the daemon can use (see the error): use TLS (implicit or "
             "starttls) or enable AUTH PLAIN on the server";
    }
    if (e.code == errc::unavailable) {
      return "the server refused the login for now (temporary: in use, overloaded or a login delay): retry later";
    }
    return "the login failed (see the error): retry, and check the server's log if it persists";
  }
  if (cause == "first_call") {
    return "logged in, but the first call failed (see the error): the mailbox may be locked by another client "
           "or damaged; check it with the server's tools";
  }
  if (cause == "logout") {
    return "everything worked until the logout (see the error): the server closed the connection badly; "
           "sessions still work, but check the server's log";
  }
  if (cause == "deadline") {
    return "the test ran out of time (the call's deadline, at most 60 s): the server is too slow or does not "
           "answer; retry with a longer --timeout or look at the slowest step";
  }
  return "see the error";
}

}  // namespace mailbroker::session
