#include "session/login_gate.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace mailbroker::session {

using time_point = std::chrono::steady_clock::time_point;

struct login_gate::state : std::enable_shared_from_this<login_gate::state> {
  struct host {
    std::map<std::uint64_t, ticket*> waiting;  // by seq: FIFO. Tickets erase themselves.
    std::size_t in_flight = 0;
    double tokens = 0;
    time_point refilled_at{};
    std::uint64_t next_seq = 0;
  };

  state(asio::any_io_executor executor, login_gate_settings s, clock_fn c)
      : settings(s), clock(std::move(c)), timer(std::move(executor)) {
    if (settings.burst == 0) settings.burst = std::max<std::size_t>(1, settings.concurrency_per_host);
  }

  login_gate_settings settings;
  clock_fn clock;
  std::mutex mutex;
  asio::steady_timer timer;            // guarded by mutex
  std::optional<time_point> timer_at;  // guarded by mutex
  std::unordered_map<std::string, host> hosts;
  bool closed = false;

  void refill(host& h, time_point now) const {
    if (settings.rate_per_host <= 0) return;
    const double elapsed = std::chrono::duration<double>(now - h.refilled_at).count();
    if (elapsed > 0) {
      h.tokens = std::min(static_cast<double>(settings.burst), h.tokens + elapsed * settings.rate_per_host);
      h.refilled_at = now;
    }
  }

  bool may_start(const host& h) const {
    if (settings.concurrency_per_host > 0 && h.in_flight >= settings.concurrency_per_host) return false;
    return settings.rate_per_host <= 0 || h.tokens >= 1.0;
  }

  void take(host& h) {
    ++h.in_flight;
    if (settings.rate_per_host > 0) h.tokens -= 1.0;
  }

  // Admits the queue heads the limits allow; their callbacks go to `admitted_r`. When
  // the rate alone holds the head back, arms the timer for the next token.
  void admit_locked(host& h, time_point now, std::vector<std::function<void()>>& admitted_r) {
    refill(h, now);
    while (!h.waiting.empty() && may_start(h)) {
      auto head = h.waiting.begin();
      ticket* t = head->second;
      h.waiting.erase(head);
      take(h);
      t->phase_ = 1;
      if (t->on_admitted_) admitted_r.push_back(std::move(t->on_admitted_));
    }
    const bool rate_bound = !h.waiting.empty() && settings.rate_per_host > 0 && h.tokens < 1.0 &&
                            (settings.concurrency_per_host == 0 || h.in_flight < settings.concurrency_per_host);
    if (rate_bound) {
      const auto wait = std::chrono::duration<double>((1.0 - h.tokens) / settings.rate_per_host);
      arm_timer_locked(now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait) +
                       std::chrono::microseconds(1));
    }
  }

  void arm_timer_locked(time_point at) {
    if (closed || (timer_at && *timer_at <= at)) return;
    timer_at = at;
    // The timer runs on the real clock; with a fake clock the distance is what counts.
    timer.expires_after(at - clock());
    timer.async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->pump_all();
    });
  }

  void pump_all() {
    std::vector<std::function<void()>> admitted;
    {
      std::lock_guard lock(mutex);
      timer_at.reset();
      const auto now = clock();
      for (auto& [key, h] : hosts) admit_locked(h, now, admitted);
    }
    for (auto& fn : admitted) fn();
  }

  // Drops the key's state when nothing would be lost: no queue, nothing in flight, full bucket.
  void forget_if_idle_locked(const std::string& key, host& h, time_point now) {
    if (!h.waiting.empty() || h.in_flight > 0) return;
    refill(h, now);
    if (settings.rate_per_host > 0 && h.tokens < static_cast<double>(settings.burst)) return;
    hosts.erase(key);
  }
};

// ------------------------------------------------------------------ ticket

login_gate::ticket::~ticket() { release(); }

bool login_gate::ticket::admitted() const {
  const int phase = phase_.load();
  return phase == 1 || phase == 2;
}

std::size_t login_gate::ticket::ahead() const {
  if (phase_.load() != 0) return 0;
  auto gate = gate_.lock();
  if (!gate) return 0;
  std::lock_guard lock(gate->mutex);
  auto it = gate->hosts.find(key_);
  if (it == gate->hosts.end() || it->second.waiting.empty()) return 0;
  return static_cast<std::size_t>(seq_ - it->second.waiting.begin()->first);
}

void login_gate::ticket::release() {
  auto gate = gate_.lock();
  if (!gate) return;
  std::vector<std::function<void()>> admitted;
  {
    std::lock_guard lock(gate->mutex);
    const int phase = phase_.load();
    if (phase >= 2) return;
    auto it = gate->hosts.find(key_);
    phase_ = phase == 0 ? 3 : 2;
    on_admitted_ = nullptr;
    if (it == gate->hosts.end()) return;
    auto& h = it->second;
    const auto now = gate->clock();
    if (phase == 0) {
      h.waiting.erase(seq_);
    } else {
      --h.in_flight;
      gate->admit_locked(h, now, admitted);
    }
    gate->forget_if_idle_locked(key_, h, now);
  }
  for (auto& fn : admitted) fn();
}

// ------------------------------------------------------------------ gate

login_gate::login_gate(asio::any_io_executor executor, login_gate_settings settings, clock_fn clock)
    : state_(std::make_shared<state>(std::move(executor), settings,
                                     clock ? std::move(clock) : [] { return std::chrono::steady_clock::now(); })) {}

login_gate::~login_gate() {
  std::lock_guard lock(state_->mutex);
  state_->closed = true;
  state_->timer.cancel();
}

std::shared_ptr<login_gate::ticket> login_gate::enqueue(const std::string& key, std::function<void()> on_admitted) {
  std::shared_ptr<ticket> t(new ticket());
  t->gate_ = state_;
  t->key_ = key;
  std::vector<std::function<void()>> admitted;
  {
    std::lock_guard lock(state_->mutex);
    const auto now = state_->clock();
    auto [it, fresh] = state_->hosts.try_emplace(key);
    auto& h = it->second;
    if (fresh) {
      h.tokens = static_cast<double>(state_->settings.burst);
      h.refilled_at = now;
    }
    t->seq_ = h.next_seq++;
    state_->refill(h, now);
    if (h.waiting.empty() && state_->may_start(h)) {
      state_->take(h);
      t->phase_ = 1;
      return t;
    }
    t->on_admitted_ = std::move(on_admitted);
    h.waiting.emplace(t->seq_, t.get());
    // Tokens may have come back since the timer was armed; it also arms the timer when
    // only the rate holds the queue back.
    state_->admit_locked(h, now, admitted);
  }
  for (auto& fn : admitted) fn();
  return t;
}

void login_gate::pump() { state_->pump_all(); }

login_gate::counts login_gate::totals() const {
  std::lock_guard lock(state_->mutex);
  counts c;
  c.keys = state_->hosts.size();
  for (const auto& [key, h] : state_->hosts) {
    c.waiting += h.waiting.size();
    c.in_flight += h.in_flight;
  }
  return c;
}

const login_gate_settings& login_gate::settings() const { return state_->settings; }

}  // namespace mailbroker::session
