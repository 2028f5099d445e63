#include "protocol/graph/client.hpp"

#include <algorithm>
#include <map>

#include "protocol/graph/batch.hpp"
#include "protocol/graph/endpoints.hpp"
#include "protocol/graph/errors.hpp"

namespace mailbroker::graph {
namespace {

// The path of a service root ("https://host:port/graph/v1.0" -> "/graph/v1.0").
std::string path_of(const std::string& root) {
  const auto scheme = root.find("://");
  const auto slash = root.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? std::string() : root.substr(slash);
}

bool throttling_status(int status) { return status == 429 || status == 503; }

std::string retried_note(int retries) {
  return " (sent " + std::to_string(retries + 1) + " times, each time after the server's Retry-After)";
}

}  // namespace

client::client(asio::any_io_executor executor, net::http_endpoint endpoint, net::http_connection_options http,
               client_options options, net::authenticator_factory make_authenticator)
    : pool_("Graph", std::move(executor), std::move(endpoint), std::move(http), std::move(make_authenticator),
            options.max_in_flight),
      options_(std::move(options)), path_prefix_(path_of(options_.service_root)), limit_(pool_.max_connections()) {}

client::~client() { close(); }

void client::close() {
  pool_.close();
  // Waiting calls wake, see the pool closed and end.
  auto waiting = std::move(limit_waiting_);
  limit_waiting_.clear();
  for (auto& t : waiting) t->cancel();
  auto gated = std::move(gate_timers_);
  gate_timers_.clear();
  for (auto& w : gated) {
    if (auto t = w.lock()) t->cancel();
  }
}

awaitable<result<net::open_report>> client::open() { co_return co_await pool_.open(); }

result<std::string> client::relative(std::string_view link, std::string_view what) const {
  return relative_link(options_.service_root, link, what);
}

std::optional<std::chrono::system_clock::time_point> client::throttled_until() const {
  const auto now = std::chrono::steady_clock::now();
  if (gate_opens_ <= now) return std::nullopt;
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(gate_opens_ - now);
}

net::http_request client::to_http(const request& r) const {
  net::http_request out;
  out.method = r.method;
  out.target = path_prefix_ + r.url;
  out.content_type = r.content_type;
  out.body = r.body;
  out.headers.push_back({"Accept", "application/json"});
  for (const auto& [name, value] : r.headers) out.headers.push_back({name, value});
  return out;
}

awaitable<void> client::pass_gate() {
  while (pool_.is_open() && gate_opens_ > std::chrono::steady_clock::now()) {
    auto timer = std::make_shared<asio::steady_timer>(pool_.executor(), gate_opens_);
    std::erase_if(gate_timers_, [](const auto& w) { return w.expired(); });
    gate_timers_.push_back(timer);
    ++gate_waiting_;
    error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    --gate_waiting_;
  }
}

awaitable<void> client::enter_limit() {
  while (pool_.is_open() && active_ >= limit_) {
    auto turn = std::make_shared<asio::steady_timer>(pool_.executor(), asio::steady_timer::time_point::max());
    limit_waiting_.push_back(turn);
    ++gate_waiting_;
    error_code ec;
    co_await turn->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    --gate_waiting_;
  }
  ++active_;
}

void client::leave_limit() {
  --active_;
  if (active_ < limit_ && !limit_waiting_.empty()) {
    auto next = std::move(limit_waiting_.front());
    limit_waiting_.pop_front();
    next->cancel();
  }
}

void client::throttle(std::chrono::milliseconds wait, std::size_t concurrent) {
  ++throttled_;
  wait = std::clamp(wait, std::chrono::milliseconds(0), options_.max_retry_wait);
  last_retry_after_ = wait;
  gate_opens_ = std::max(gate_opens_, std::chrono::steady_clock::now() + wait);
  // Halved (rounding up) from what was out: a server that refuses shows its budget is
  // smaller than that, by how much it does not say; widening again is one at a time.
  limit_ = std::max<std::size_t>(1, std::min(limit_, (concurrent + 1) / 2));
  calm_answers_ = 0;
}

void client::calm_answer() {
  if (limit_ >= pool_.max_connections() || ++calm_answers_ < widen_after_answers) return;
  ++limit_;
  calm_answers_ = 0;
  if (!limit_waiting_.empty()) {
    auto next = std::move(limit_waiting_.front());
    limit_waiting_.pop_front();
    next->cancel();
  }
}

awaitable<result<net::http_response>> client::exchange(const request& r, std::size_t& concurrent) {
  const auto http = to_http(r);
  for (bool renewed = false;;) {
    // The gate is checked once the connection is ours: a request that waited for a
    // connection while another was being throttled waits for the Retry-After too.
    auto slot = co_await pool_.acquire_slot();
    co_await enter_limit();
    co_await pass_gate();
    if (options_.refresh_token) {
      if (auto e = co_await options_.refresh_token(); !e.ok()) {
        leave_limit();
        co_return e;
      }
    }
    const auto sent_at = std::chrono::steady_clock::now();
    concurrent = active_;
    auto response = co_await pool_.send(slot, http);
    leave_limit();
    if (!response && response.err().code == errc::aborted && r.method == "GET") {
      // Nothing changes on the server for a read: the caller may simply ask again.
      co_return error{errc::unavailable, response.err().message + " (a read: safe to send again)"};
    }
    // 401: a response (no WWW-Authenticate) or the bearer authenticator's refusal.
    const bool refused = response ? response->status == 401 : response.err().code == errc::unauthenticated;
    if (!refused || renewed || !options_.renew_token) co_return response;
    // An access token can stop working before its announced expiry (revoked, or the
    // server's clock): one new token, one more try.
    if (auto e = co_await options_.renew_token(sent_at); !e.ok()) co_return e;
    renewed = true;
  }
}

awaitable<result<answer>> client::send(result<request> r, std::string item) {
  if (!r) co_return r.err();
  for (int attempt = 0;; ++attempt) {
    std::size_t concurrent = 1;
    auto response = co_await exchange(r.value(), concurrent);
    if (!response) co_return response.err();
    const int status = response->status;
    if (status >= 200 && status <= 299) {
      calm_answer();
      answer out;
      out.status = status;
      out.body = std::move(response->body);
      out.content_type = response->header("Content-Type");
      co_return out;
    }
    auto failed = response_error(status, response->body, response->header("Retry-After"),
                                 std::chrono::system_clock::now(), item);
    if (!throttling_status(status) && !failed.retry_after) co_return failed.err;
    throttle(failed.retry_after.value_or(default_retry_after), concurrent);
    if (attempt >= options_.max_throttle_retries) {
      co_return error{failed.err.code, failed.err.message + retried_note(attempt)};
    }
  }
}

awaitable<result<std::vector<result<answer>>>> client::send_batch(std::vector<request> requests,
                                                                   std::vector<std::string> items) {
  std::vector<result<answer>> outcomes(requests.size(), error{errc::internal, "Graph $batch: no answer for this request"});
  std::vector<std::size_t> pending(requests.size());
  for (std::size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  const auto item_of = [&items](std::size_t i) { return i < items.size() ? items[i] : std::string(); };

  for (int attempt = 0; !pending.empty(); ++attempt) {
    std::vector<request> members;
    members.reserve(pending.size());
    for (auto i : pending) members.push_back(requests[i]);
    auto packed = batch(members);
    if (!packed) co_return packed.err();
    std::size_t concurrent = 1;
    auto response = co_await exchange(packed.value(), concurrent);
    if (!response) co_return response.err();
    if (response->status < 200 || response->status > 299) {
      auto failed = response_error(response->status, response->body, response->header("Retry-After"),
                                   std::chrono::system_clock::now(), "$batch");
      if (!throttling_status(response->status) && !failed.retry_after) co_return failed.err;
      throttle(failed.retry_after.value_or(default_retry_after), concurrent);
      if (attempt >= options_.max_throttle_retries) {
        co_return error{failed.err.code, failed.err.message + retried_note(attempt)};
      }
      continue;
    }
    auto answers = parse_batch(response->body, response->status);
    if (!answers) co_return answers.err();
    // Members are answered in any order: "1".."n" name their place in `pending`.
    std::map<std::string, const batch_response*> by_id;
    for (const auto& a : answers.value()) by_id.emplace(a.id, &a);
    std::vector<std::size_t> again;
    std::chrono::milliseconds longest{0};
    const auto now = std::chrono::system_clock::now();
    for (std::size_t k = 0; k < pending.size(); ++k) {
      const std::size_t i = pending[k];
      const auto found = by_id.find(std::to_string(k + 1));
      if (found == by_id.end()) {
        outcomes[i] = error{errc::unavailable, "Graph $batch: the answer has no response for request " +
                                                   std::to_string(k + 1) + " of " + std::to_string(pending.size())};
        continue;
      }
      const auto& a = *found->second;
      if (a.status >= 200 && a.status <= 299) {
        answer out;
        out.status = a.status;
        out.body = a.body;
        out.content_type = std::string(a.header("Content-Type"));
        outcomes[i] = std::move(out);
        continue;
      }
      auto failed = batch_member_error(a, now, item_of(i));
      if ((throttling_status(a.status) || failed.retry_after) && attempt < options_.max_throttle_retries) {
        ++throttled_;
        longest = std::max<std::chrono::milliseconds>(longest, failed.retry_after.value_or(default_retry_after));
        again.push_back(i);
        continue;
      }
      if (throttling_status(a.status)) failed.err.message += retried_note(attempt);
      outcomes[i] = failed.err;
    }
    if (!again.empty()) {
      --throttled_;  // throttle() counts one of them again
      throttle(longest, concurrent);
    } else {
      calm_answer();
    }
    pending = std::move(again);
  }
  co_return outcomes;
}

}  // namespace mailbroker::graph
