// discover_ews_url(): POX Autodiscover over HTTPS (autodiscover_client.hpp).
#include "protocol/ews/autodiscover_client.hpp"

#include <algorithm>
#include <deque>
#include <set>

#include "common/text.hpp"
#include "net/http_connection.hpp"
#include "protocol/ews/requests.hpp"
#include "protocol/ews/responses.hpp"

namespace mailbroker::ews {
namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

enum class step_kind { found, redirect_url, redirect_addr, failed };

// One POST and what it led to.
struct step {
  step_kind kind = step_kind::failed;
  std::string value;  // the EWS URL, the redirect's URL or the new address
  errc code = errc::unavailable;  // when failed
  std::string note;               // the outcome, for discovery::tried
};

step failed(errc code, std::string note) { return {step_kind::failed, {}, code, std::move(note)}; }

std::string lowered(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// MS-OXDSCLI 2.2.4.1.1.3.2; the server's own Message text is never shown (peer bytes).
std::string autodiscover_error_text(const std::string& code) {
  std::string safe;
  for (char c : code) {
    if (safe.size() < 16 && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) safe += c;
  }
  std::string meaning = "unknown code";
  if (safe == "500") meaning = "the server does not know this address";
  if (safe == "501") meaning = "the address has no configuration";
  if (safe == "600") meaning = "invalid request";
  if (safe == "601") meaning = "the server cannot answer the requested schema";
  if (safe == "602") meaning = "the address's configuration is broken on the server";
  if (safe == "603") meaning = "internal server error";
  return "Autodiscover error " + (safe.empty() ? std::string("(no code)") : safe) + " (" + meaning + ")";
}

bool is_redirect_status(int status) { return status == 301 || status == 302 || status == 307 || status == 308; }

// POSTs the Autodiscover request for `address` to `url` (an https URL that parsed) on a
// new connection and reads the answer. References stay valid: the caller's frame awaits.
awaitable<step> ask(std::string url, std::string address, const discovery_options& options,
                    steady::time_point deadline) {
  auto parsed = net::parse_http_url(url);
  if (!parsed) co_return failed(errc::internal, parsed.err().message);
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
  if (left.count() <= 0) co_return failed(errc::deadline_exceeded, "total_timeout expired before this request");

  net::http_connection_options http;
  http.tls = options.tls;
  http.verify_host = options.verify_host;
  http.connect_timeout = std::min(options.connect_timeout, left);
  http.request_timeout = std::min(options.request_timeout, left);
  http.max_body_bytes = max_autodiscover_body_bytes;
  http.dead_peer_timeout = std::chrono::seconds(0);  // one request, bounded by request_timeout
  http.user_agent = options.user_agent;
  if (options.connect_to) {
    if (auto to = options.connect_to(parsed->endpoint.host, parsed->endpoint.port)) {
      http.connect_host = to->host;
      http.connect_port = to->port;
    }
  }
  auto auth = options.authenticator(parsed->endpoint);
  if (!auth) co_return failed(auth.err().code, std::string(errc_name(auth.err().code)) + ": " + auth.err().message);
  auto body = autodiscover_request(address);
  if (!body) co_return failed(body.err().code, body.err().message);

  net::http_connection conn(co_await asio::this_coro::executor, parsed->endpoint, std::move(http), *auth);
  net::http_request request;
  request.method = "POST";
  request.target = parsed->target;
  request.content_type = "text/xml; charset=utf-8";
  request.body = std::move(body.value());
  auto response = co_await conn.send(std::move(request));
  conn.close();

  if (!response) {
    const error& e = response.err();
    if (e.code == errc::unauthenticated) co_return failed(e.code, "HTTP 401, credentials refused (" + e.message + ")");
    co_return failed(e.code, std::string(errc_name(e.code)) + ": " + e.message);
  }
  const int status = response->status;
  if (status == 401) co_return failed(errc::unauthenticated, "HTTP 401, credentials refused");
  if (is_redirect_status(status)) {
    auto to = resolve_redirect(response->header("Location"), url);
    if (!to) co_return failed(to.err().code, "HTTP " + std::to_string(status) + ": " + to.err().message);
    co_return step{step_kind::redirect_url, *to, errc::ok, "HTTP " + std::to_string(status) + " to " + *to};
  }
  if (status != 200) co_return failed(errc::unavailable, "HTTP " + std::to_string(status) + " (not an Autodiscover answer)");

  auto answer = parse_autodiscover(response->body);
  if (!answer) co_return failed(errc::unavailable, "HTTP 200 but " + answer.err().message);
  if (!answer->error_code.empty()) co_return failed(errc::unavailable, autodiscover_error_text(answer->error_code));
  if (!answer->redirect_addr.empty()) {
    // Checked here so that an unusable address is never echoed.
    auto domain = mail_domain_of(answer->redirect_addr, "redirectAddr");
    if (!domain) co_return failed(errc::unavailable, domain.err().message);
    if (auto ok = autodiscover_request(answer->redirect_addr); !ok) {
      co_return failed(errc::unavailable, "redirectAddr: " + ok.err().message);
    }
    co_return step{step_kind::redirect_addr, answer->redirect_addr, errc::ok, "redirectAddr to " + answer->redirect_addr};
  }
  if (!answer->redirect_url.empty()) {
    auto to = resolve_redirect(answer->redirect_url, url);
    if (!to) co_return failed(to.err().code, "redirectUrl: " + to.err().message);
    co_return step{step_kind::redirect_url, *to, errc::ok, "redirectUrl to " + *to};
  }
  co_return step{step_kind::found, answer->ews_url, errc::ok, {}};
}

// How the attempts went, for the final error's code and summary.
struct tally {
  std::optional<error> refused_url;  // the first EWS URL vet_ews_url() refused
  int attempts = 0, unauthenticated = 0, denied = 0, loops = 0, timeouts = 0;
};

// "1) ...; 2) ...".
std::string numbered(const std::vector<std::string>& tried) {
  std::string list;
  for (std::size_t i = 0; i < tried.size(); ++i) {
    list += (i == 0 ? "" : "; ") + std::to_string(i + 1) + ") " + tried[i];
  }
  return list;
}

error final_error(const std::string& email, const tally& t, const std::vector<std::string>& tried) {
  errc code = errc::unavailable;
  std::string why = "no candidate answered with an EWS URL";
  if (t.refused_url) {
    code = errc::failed_precondition;
    why = t.refused_url->message;
  } else if (t.unauthenticated > 0) {
    code = errc::unauthenticated;
    why = "the credentials were refused (HTTP 401); check the user name and password";
  } else if (t.denied > 0 && t.denied == t.attempts) {
    code = errc::permission_denied;
    why = "the credentials may not be sent to the Autodiscover hosts";
  } else if (t.loops > 0) {
    code = errc::failed_precondition;
    why = "the Autodiscover redirects loop";
  } else if (t.timeouts > 0 && t.timeouts == t.attempts) {
    code = errc::deadline_exceeded;
    why = "every request timed out";
  }
  std::string message = "Autodiscover for " + email + " failed: " + why + "; tried " + numbered(tried);
  if (!t.refused_url) message += "; set spec.ews.url to the EWS URL (https://<host>/EWS/Exchange.asmx) to skip Autodiscover";
  return error{code, std::move(message)};
}

}  // namespace

awaitable<result<discovery>> discover_ews_url(std::string email, discovery_options options) {
  if (!options.tls) co_return error{errc::invalid_argument, "discovery_options.tls is required"};
  if (!options.authenticator) co_return error{errc::invalid_argument, "discovery_options.authenticator is required"};
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0 ||
      options.total_timeout.count() <= 0) {
    co_return error{errc::invalid_argument, "discovery_options: connect_timeout, request_timeout and total_timeout "
                                            "must be positive"};
  }
  auto domain = mail_domain_of(email);
  if (!domain) co_return domain.err();
  if (auto request = autodiscover_request(email); !request) co_return request.err();

  const auto deadline = steady::now() + options.total_timeout;
  discovery out;
  tally t;
  ews_url_trust trust;
  trust.mail_domains.push_back(*domain);
  std::string address = email;
  auto first = autodiscover_candidates(*domain);
  std::deque<std::string> queue(first.begin(), first.end());
  std::set<std::string> asked;  // lower-cased "url address"
  int redirects = 0;

  auto record = [&](const std::string& url, const std::string& outcome) {
    std::string line = url;
    if (address != email) line += " (for " + address + ")";
    out.tried.push_back(clean_text(line + ": " + outcome, max_autodiscover_note_bytes));
  };
  auto too_many = [&]() {
    return error{errc::failed_precondition, "Autodiscover for " + email + " failed: more than " +
                                                std::to_string(max_autodiscover_redirects) +
                                                " redirects (a redirect loop); tried " + numbered(out.tried)};
  };

  while (!queue.empty()) {
    std::string url = queue.front();
    queue.pop_front();
    for (;;) {
      if (!asked.insert(lowered(url) + " " + lowered(address)).second) {
        ++t.loops;
        record(url, "redirect loop: this URL was already asked for this address");
        break;
      }
      if (steady::now() >= deadline) {
        out.tried.push_back("total_timeout (" + std::to_string(options.total_timeout.count()) + " ms) expired");
        error e = final_error(email, t, out.tried);
        e.code = errc::deadline_exceeded;
        co_return e;
      }
      ++t.attempts;
      step s = co_await ask(url, address, options, deadline);
      if (s.kind == step_kind::failed) {
        if (s.code == errc::unauthenticated) ++t.unauthenticated;
        if (s.code == errc::permission_denied) ++t.denied;
        if (s.code == errc::deadline_exceeded) ++t.timeouts;
        record(url, s.note);
        break;
      }
      if (s.kind == step_kind::found) {
        auto host = net::parse_http_url(url);
        trust.autodiscover_host = host ? host->endpoint.host : std::string();
        auto vetted = vet_ews_url(s.value, trust);
        if (vetted) {
          record(url, "EwsUrl " + *vetted);
          out.ews_url = std::move(vetted.value());
          co_return out;
        }
        if (!t.refused_url) t.refused_url = vetted.err();
        record(url, "EwsUrl refused: " + vetted.err().message);
        break;
      }
      record(url, s.note);
      if (++redirects > max_autodiscover_redirects) co_return too_many();
      if (s.kind == step_kind::redirect_url) {
        url = std::move(s.value);
        continue;
      }
      // redirectAddr: start over with the new address's candidates.
      address = std::move(s.value);
      auto next = mail_domain_of(address);  // checked in ask()
      if (next && std::find(trust.mail_domains.begin(), trust.mail_domains.end(), *next) == trust.mail_domains.end()) {
        trust.mail_domains.push_back(*next);
      }
      auto candidates = autodiscover_candidates(next ? *next : std::string());
      queue.assign(candidates.begin(), candidates.end());
      break;
    }
  }
  co_return final_error(email, t, out.tried);
}

}  // namespace mailbroker::ews
