#include "net/http_pool.hpp"

#include <algorithm>

namespace mailbroker::net {

http_pool::http_pool(std::string name, asio::any_io_executor executor, http_endpoint endpoint,
                     http_connection_options options, authenticator_factory make_authenticator,
                     std::size_t max_connections)
    : name_(std::move(name)), executor_(std::move(executor)), endpoint_(std::move(endpoint)),
      options_(std::move(options)), make_authenticator_(std::move(make_authenticator)),
      max_connections_(std::max<std::size_t>(1, max_connections)) {}

http_pool::~http_pool() { close(); }

awaitable<result<open_report>> http_pool::open() {
  auto* first = co_await acquire();
  if (first == nullptr) co_return error{errc::cancelled, name_ + ": the connection was closed"};
  auto report = co_await first->http->open();
  release(first);
  co_return report;
}

void http_pool::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& p : pool_) p->http->close();
  wake_all_waiting();
}

void http_pool::wake_all_waiting() {
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting) w->timer.cancel();
}

std::unique_ptr<http_connection> http_pool::new_connection(std::chrono::milliseconds request_timeout) const {
  auto options = options_;
  options.trace = nullptr;  // a connection test traces the first connection only
  if (request_timeout.count() > 0) options.request_timeout = request_timeout;
  return std::make_unique<http_connection>(executor_, endpoint_, std::move(options), make_authenticator_());
}

awaitable<http_pool::pooled*> http_pool::acquire() {
  if (closed_ || lost_) co_return nullptr;
  for (auto& p : pool_) {
    if (!p->busy) {
      p->busy = true;
      co_return p.get();
    }
  }
  if (pool_.size() < max_connections_) {
    auto p = std::make_unique<pooled>();
    // The first connection carries the trace (TestConnection); send() opens the others.
    p->http = pool_.empty() ? std::make_unique<http_connection>(executor_, endpoint_, options_, make_authenticator_())
                            : new_connection();
    p->busy = true;
    pool_.push_back(std::move(p));
    co_return pool_.back().get();
  }
  auto w = std::make_shared<waiter>(executor_);
  w->timer.expires_at(asio::steady_timer::time_point::max());
  waiting_.push_back(w);
  error_code ec;
  co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return w->given;  // handed over by release(), still marked busy; null when closed
}

void http_pool::release(pooled* p) {
  if (!closed_ && !lost_ && !waiting_.empty()) {
    auto next = std::move(waiting_.front());
    waiting_.pop_front();
    next->given = p;  // stays busy: the next caller's now
    next->timer.cancel();
    return;
  }
  p->busy = false;
  if (closed_ || lost_) wake_all_waiting();
}

void http_pool::report_lost(const error& why) {
  if (lost_ || closed_) return;
  lost_ = true;
  wake_all_waiting();
  auto callback = on_lost_;
  if (callback) callback(why);
}

namespace {

// Failures that say the server (or the way to it) is gone, not that this request was
// wrong: the session reconnects and logs in again.
bool transport_failure(errc code) {
  return code == errc::unavailable || code == errc::deadline_exceeded || code == errc::aborted;
}

}  // namespace

http_pool::lease& http_pool::lease::operator=(lease&& other) noexcept {
  if (this != &other) {
    reset();
    pool_ = other.pool_;
    slot_ = other.slot_;
    other.slot_ = nullptr;
  }
  return *this;
}

void http_pool::lease::reset() {
  if (slot_ != nullptr) pool_->release(slot_);
  slot_ = nullptr;
}

awaitable<http_pool::lease> http_pool::acquire_slot() {
  pooled* slot = co_await acquire();
  co_return lease(this, slot);
}

awaitable<result<http_response>> http_pool::send(lease& on, const http_request& request) {
  if (!on || closed_ || lost_) {
    co_return error{errc::unavailable, closed_ ? name_ + ": the connection was closed"
                                               : name_ + ": the connection was lost; the session reconnects"};
  }
  ++in_flight_;
  auto response = co_await on.slot_->http->send(request);
  --in_flight_;
  on.reset();
  if (!response && transport_failure(response.err().code)) report_lost(response.err());
  co_return response;
}

awaitable<result<http_response>> http_pool::send(const http_request& request) {
  auto on = co_await acquire_slot();
  co_return co_await send(on, request);
}

std::uint64_t http_pool::requests() const {
  std::uint64_t n = 0;
  for (const auto& p : pool_) n += p->http->requests_sent();
  return n;
}

std::uint64_t http_pool::bytes_in() const {
  std::uint64_t n = 0;
  for (const auto& p : pool_) n += p->http->bytes_in();
  return n;
}

std::uint64_t http_pool::bytes_out() const {
  std::uint64_t n = 0;
  for (const auto& p : pool_) n += p->http->bytes_out();
  return n;
}

}  // namespace mailbroker::net
