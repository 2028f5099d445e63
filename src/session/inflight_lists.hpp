#pragma once
// Listings running on a session's connection, by query: a list call that arrives while an
// identical listing that started *after* the call was made is still running waits for
// it and takes its answer (through the message cache) instead of asking the server again.
// With pipelining, identical calls of many bots would otherwise each run their own
// SELECT + SEARCH + FETCH, one after another.
//
// Threading: on the session's strand only.
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "net/asio.hpp"

namespace mailbroker::session {

struct inflight_list {
  inflight_list(asio::any_io_executor executor, std::chrono::steady_clock::time_point started_at)
      : started(started_at), done(std::move(executor), std::chrono::steady_clock::time_point::max()) {}
  std::chrono::steady_clock::time_point started;
  asio::steady_timer done;  // cancelled when the listing ends, however it ends
};

using inflight_lists = std::map<std::string, std::shared_ptr<inflight_list>>;

}  // namespace mailbroker::session
