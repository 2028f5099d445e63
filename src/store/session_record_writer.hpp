#pragma once
// Group commit for session records: callers queue puts and deletes from any thread
// (gRPC threads, mail I/O strands) and never wait on the disk themselves; one writer
// thread takes everything queued (up to max_batch), applies it in one transaction
// (state_store::write_sessions: one fsync for the batch), then completes each write.
// Durability is unchanged: a write's `done` runs only after its batch has committed.
//
//   session_record_writer writer(store);
//   writer.put(name, bytes, [reactor](error e) { ... answer the Connect ... });
//
// Ordering: writes are applied in the order they were queued (a put then a delete of
// the same name leaves no record).
// Bounds: at most max_queued writes wait; beyond that put/remove complete at once with
// resource_exhausted (the caller logs; the session lives on, unrecorded).
// Errors given to `done`: those of write_sessions for the whole batch (unavailable,
// internal...), invalid_argument for a bad name (checked when queued), resource_exhausted
// (queue full), unavailable ("stopped") after stop().
// Threading: all methods are thread-safe. `done` runs on the writer thread (or on the
// calling thread for an immediate refusal); it must not block (queuing more writes is fine).
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/error.hpp"
#include "store/state_store.hpp"

namespace mailbroker::store {

struct record_writer_settings {
  std::size_t max_queued = 20000;  // writes waiting (a restart may re-record every session)
  std::size_t max_batch = 1000;    // writes per transaction
};

class session_record_writer {
 public:
  using done_fn = std::function<void(error)>;

  // `start_thread` false: nothing is written until start() (tests queue a known batch).
  explicit session_record_writer(std::shared_ptr<state_store> store, record_writer_settings settings = {},
                                 bool start_thread = true);
  // stop(): writes already queued are applied first.
  ~session_record_writer();
  session_record_writer(const session_record_writer&) = delete;
  session_record_writer& operator=(const session_record_writer&) = delete;

  void start();
  // Applies what is queued, then ends the thread; later writes get unavailable. Idempotent.
  void stop();

  void put(std::string name, std::string bytes, done_fn done);
  void remove(std::string name, done_fn done = {});

  struct stats {
    std::uint64_t writes = 0;   // applied (or failed) writes
    std::uint64_t commits = 0;  // transactions attempted
    std::size_t queued = 0;
    std::size_t largest_batch = 0;
  };
  stats counters() const;

 private:
  struct item {
    state_store::session_write write;
    done_fn done;
  };
  void enqueue(item it);
  void run();

  std::shared_ptr<state_store> store_;
  const record_writer_settings settings_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<item> queue_;
  bool stopping_ = false;
  stats stats_;
  std::thread thread_;
};

}  // namespace mailbroker::store
