#pragma once
// The fair queue of work on a session's one connection: a bounded FIFO per lease, served
// round-robin between leases, so a bot with many queued calls (or a long download split
// into chunks, each queued in turn) cannot starve another bot's single small call.
//
// Threading: none; the session touches it on its strand only.
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mailbroker::session {

template <class Item>
class operation_queue {
 public:
  explicit operation_queue(std::size_t max_per_lease = 64) : max_per_lease_(max_per_lease) {}

  // False (and `item` untouched) when `lease` already has max_per_lease items waiting.
  bool push(const std::string& lease, Item&& item) {
    auto& q = queues_[lease];
    if (q.size() >= max_per_lease_) return false;
    q.push_back(std::move(item));
    ++size_;
    return true;
  }

  // The next item: the oldest of the lease after the one served last (round-robin).
  std::optional<Item> pop() {
    return pop_if([](const std::string&) { return true; });
  }

  // The same, skipping leases for which `eligible(lease)` is false (e.g. a lease whose
  // previous item is still running: its items stay in order).
  template <class Pred>
  std::optional<Item> pop_if(Pred eligible) {
    if (size_ == 0) return std::nullopt;
    auto it = queues_.upper_bound(last_served_);
    for (std::size_t tries = 0, n = queues_.size(); tries < n; ++tries) {
      if (it == queues_.end()) it = queues_.begin();
      if (it->second.empty()) {
        it = queues_.erase(it);
        continue;
      }
      if (!eligible(it->first)) {
        ++it;
        continue;
      }
      Item item = std::move(it->second.front());
      it->second.pop_front();
      --size_;
      last_served_ = it->first;
      if (it->second.empty()) queues_.erase(it);
      return item;
    }
    return std::nullopt;
  }

  // Everything still queued, in no particular order (to fail it).
  std::vector<Item> drain() {
    std::vector<Item> out;
    for (auto& [lease, q] : queues_) {
      for (auto& item : q) out.push_back(std::move(item));
    }
    queues_.clear();
    size_ = 0;
    return out;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  std::size_t max_per_lease_;
  std::map<std::string, std::deque<Item>> queues_;
  std::string last_served_;
  std::size_t size_ = 0;
};

}  // namespace mailbroker::session
