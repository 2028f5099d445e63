#include "store/session_record_writer.hpp"

#include <vector>

namespace mailbroker::store {

session_record_writer::session_record_writer(std::shared_ptr<state_store> store, record_writer_settings settings,
                                             bool start_thread)
    : store_(std::move(store)), settings_(settings) {
  if (start_thread) start();
}

session_record_writer::~session_record_writer() { stop(); }

void session_record_writer::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void session_record_writer::stop() {
  bool started = false;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    started = thread_.joinable();
  }
  wake_.notify_all();
  if (started) {
    thread_.join();
    return;
  }
  // Never started: nothing will apply what is queued.
  std::deque<item> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (auto& it : left) {
    if (it.done) it.done(error{errc::unavailable, "the session record writer was stopped before it started"});
  }
}

void session_record_writer::put(std::string name, std::string bytes, done_fn done) {
  enqueue(item{state_store::session_write{std::move(name), std::move(bytes)}, std::move(done)});
}

void session_record_writer::remove(std::string name, done_fn done) {
  enqueue(item{state_store::session_write{std::move(name), std::nullopt}, std::move(done)});
}

void session_record_writer::enqueue(item it) {
  error refusal = error::none();
  {
    std::lock_guard lock(mutex_);
    if (it.write.name.empty() || it.write.name.size() > max_record_key_length) {
      refusal = {errc::invalid_argument, "session name must be 1 to " + std::to_string(max_record_key_length) +
                                             " bytes to be recorded"};
    } else if (stopping_) {
      refusal = {errc::unavailable, "the session record writer is stopped (daemon shutting down)"};
    } else if (queue_.size() >= settings_.max_queued) {
      refusal = {errc::resource_exhausted, std::to_string(settings_.max_queued) +
                                               " session record writes are already waiting for the disk"};
    } else {
      queue_.push_back(std::move(it));
      stats_.queued = queue_.size();
    }
  }
  if (!refusal.ok()) {
    if (it.done) it.done(std::move(refusal));
    return;
  }
  wake_.notify_one();
}

void session_record_writer::run() {
  std::vector<item> batch;
  std::vector<state_store::session_write> writes;
  for (;;) {
    batch.clear();
    writes.clear();
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, everything applied
      while (!queue_.empty() && batch.size() < settings_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stats_.queued = queue_.size();
    }
    writes.reserve(batch.size());
    for (auto& it : batch) writes.push_back(std::move(it.write));
    const error e = store_->write_sessions(writes);
    {
      std::lock_guard lock(mutex_);
      ++stats_.commits;
      stats_.writes += batch.size();
      stats_.largest_batch = std::max(stats_.largest_batch, batch.size());
    }
    for (auto& it : batch) {
      if (it.done) it.done(e);
    }
  }
}

session_record_writer::stats session_record_writer::counters() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace mailbroker::store
