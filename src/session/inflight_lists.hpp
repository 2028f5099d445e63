#pragma once
// Listings running on a session's connection, by query: a list call that arrives while an
// identical listing that started *after* the call was made is still running waits for
// it and takes its answer (through the message cache) instead of asking the server again.
// With pipelining, identical calls of many bots would otherwise each run their own
// SELECT + SEARCH + FETCH, one after another.
//
// EWS keeps its fetches here too, under keys that start with '\x01' (no IMAP wire name
// does): its listings (FindItem) and its body fetches (GetItem, one key per item id), so a
// GetMessage of an item whose body is already being fetched waits for that fetch and
// takes the body from the cache (mailbox/ews_bodies.hpp).
//
// Threading: on the session's strand only.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net/asio.hpp"

namespace mailbroker::session {

struct inflight_list {
  inflight_list(asio::any_io_executor executor, std::chrono::steady_clock::time_point started_at)
      : started(started_at), done(std::move(executor), std::chrono::steady_clock::time_point::max()) {}
  std::chrono::steady_clock::time_point started;
  asio::steady_timer done;  // cancelled when the listing ends, however it ends
};

using inflight_lists = std::map<std::string, std::shared_ptr<inflight_list>>;

// Holds `mine` under `keys` of `table` while it lives; its destructor removes the keys that
// still name `mine` and wakes every waiter, however the fetch ended (an answer, an error,
// or the coroutine destroyed mid-flight). The table must outlive it (the session's does).
class inflight_registration {
 public:
  inflight_registration(inflight_lists& table, std::vector<std::string> keys, std::shared_ptr<inflight_list> mine)
      : table_(table), keys_(std::move(keys)), mine_(std::move(mine)) {
    for (const auto& k : keys_) table_[k] = mine_;  // calls arriving from now on join this fetch
  }
  ~inflight_registration() {
    for (const auto& k : keys_) {
      if (auto it = table_.find(k); it != table_.end() && it->second == mine_) table_.erase(it);
    }
    mine_->done.cancel();
  }
  inflight_registration(const inflight_registration&) = delete;
  inflight_registration& operator=(const inflight_registration&) = delete;

 private:
  inflight_lists& table_;
  const std::vector<std::string> keys_;
  const std::shared_ptr<inflight_list> mine_;
};

}  // namespace mailbroker::session
