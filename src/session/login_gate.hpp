#pragma once
// Login admission: connects + TLS handshakes + logins to one upstream host:port are
// started at a bounded rate and with a bounded number in flight, first come first
// served. Without it a daemon restart reconnects every session at once and the mail
// server sees a login storm (measured: 10,000 IMAPS sessions, 3,259 handshakes timed out).
//
// Usage (from a session's connection loop):
//
//   auto slot = gate.enqueue("imap.example.com:993", [] { /* wake the waiting session */ });
//   while (!slot->admitted()) { ... sleep until woken; show slot->ahead() in Status ... }
//   ... connect, TLS, log in ...
//   slot.reset();  // or let it go out of scope: frees the concurrency slot
//
// Per key (host:port), two limits apply together:
//   - concurrency: at most `concurrency_per_host` tickets admitted and not yet released;
//   - rate: a token bucket refilled at `rate_per_host` per second holding at most
//     `burst` tokens (the concurrency limit when 0); each admission takes one token.
// A limit of 0 disables it. Admission is strictly FIFO per key: a ticket is never
// admitted before one queued earlier for the same key.
//
// Bounds: each session holds at most one ticket, so the queues hold at most as many
// tickets as there are sessions (max-sessions); per-key state is dropped when a key has
// nothing queued, nothing admitted and a full bucket.
//
// Cancel-safety: dropping the last reference to a waiting ticket removes it from its
// queue (the tickets behind it move up); dropping an admitted one frees its slot.
//
// Threading: every method is thread-safe. `on_admitted` runs once, without the gate's
// lock held, on whichever thread admits (a thread releasing a slot, or the refill timer
// on the gate's executor); it must not block (post to a strand and return). A ticket
// may outlive the gate (then it is simply never admitted, and releasing it is a no-op).
//
// Time: `clock` (steady_clock::now by default) is read on every decision; tests pass a
// fake clock and call pump() after moving it (the refill timer then does nothing useful).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "net/asio.hpp"

namespace mailbroker::session {

struct login_gate_settings {
  // Connects + logins in flight per host:port. 0 = unlimited.
  std::size_t concurrency_per_host = 32;
  // Connects + logins started per second per host:port. 0 = unlimited.
  double rate_per_host = 100;
  // Admissions that may start back to back after an idle period; 0 = concurrency_per_host
  // (1 when that is unlimited too).
  std::size_t burst = 0;
};

class login_gate {
  struct state;

 public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

  class ticket {
   public:
    ~ticket();
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;

    // True once admitted (stays true; release() does not reset it).
    bool admitted() const;
    // While waiting: about how many tickets of the same key are queued before this one
    // (an upper bound: tickets ahead that were dropped count until the queue head passes
    // them). 0 once admitted.
    std::size_t ahead() const;
    // Frees the slot early (idempotent); a waiting ticket leaves its queue.
    void release();

   private:
    friend class login_gate;
    ticket() = default;
    std::weak_ptr<state> gate_;
    std::string key_;
    std::uint64_t seq_ = 0;
    std::function<void()> on_admitted_;  // guarded by the gate's mutex until admitted
    // Written under the gate's mutex; read without it.
    std::atomic<int> phase_{0};  // 0 waiting, 1 admitted, 2 released after admission, 3 left the queue
  };

  login_gate(asio::any_io_executor executor, login_gate_settings settings, clock_fn clock = {});
  ~login_gate();
  login_gate(const login_gate&) = delete;
  login_gate& operator=(const login_gate&) = delete;

  // Queues a login for `key` (e.g. "imap.example.com:993"). When it can start at once,
  // the returned ticket is already admitted and `on_admitted` is not called; otherwise
  // `on_admitted` runs once when its turn comes (see Threading above).
  std::shared_ptr<ticket> enqueue(const std::string& key, std::function<void()> on_admitted);

  // Admits whatever the limits allow now. Called internally on every release and by
  // the refill timer; tests with a fake clock call it after advancing the clock.
  void pump();

  // Totals for Status and tests.
  struct counts {
    std::size_t waiting = 0;   // tickets queued, all keys
    std::size_t in_flight = 0; // tickets admitted and not released, all keys
    std::size_t keys = 0;      // keys with state
  };
  counts totals() const;
  const login_gate_settings& settings() const;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace mailbroker::session
