#pragma once
// mailbox::watch_positions over the daemon's store (store::state_store's watch-cursor
// table, which seals every value): Graph watches resume from their saved delta link
// after a daemon restart (issue 12). A daemon without a store (state-dir none) has no
// such object: it passes nullptr and every watch starts from now on.
//
// Keys: "graph-delta:" + session + "\n" + folder. A session name holds no newline (and
// if one did, the prefix of another session could not be confused with it: the folder
// follows the newline), so forget(session) removes exactly that session's positions.
//
// "Handed out once, only from a previous process" is kept by remembering, in memory,
// every key this process has taken or saved (lazily: nothing is read at start); a key
// in that set gets nullopt from take_saved. The set holds one entry per (session,
// folder) watched since the daemon started, and forget() drops a session's entries.
//
// Writes are synchronous SQLite transactions (synchronous=FULL: about one fsync, ~1 ms)
// made on the calling session's strand. That is accepted: a save happens only after a
// poll that moved the delta link (at most once per poll interval per watch, and only
// when something changed), far rarer than the network round trips the strand waits for.
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "mailbox/watch_positions.hpp"
#include "store/state_store.hpp"

namespace mailbroker::daemon {

class watch_position_store final : public mailbox::watch_positions {
 public:
  explicit watch_position_store(std::shared_ptr<store::state_store> store) : store_(std::move(store)) {}

  // The store key of (session, folder) and the prefix common to all of a session's keys.
  static std::string key_of(const std::string& session, const std::string& folder);
  static std::string prefix_of(const std::string& session);

  // See mailbox::watch_positions. A store error (unreadable, value that does not open,
  // key over store::max_record_key_length) is logged with the session and folder names,
  // never the position, and the watch starts fresh / keeps an older resume point.
  std::optional<std::string> take_saved(const std::string& session, const std::string& folder) override;
  void save(const std::string& session, const std::string& folder, const std::string& position) override;

  // Deletes every position of `session` (closed for good: Disconnect with force, CLOSED
  // after its linger, FAILED) and forgets which of its keys this process used. Errors
  // from the store are returned (invalid_argument for an empty or over-long name).
  error forget(const std::string& session);

 private:
  std::shared_ptr<store::state_store> store_;
  std::mutex mutex_;
  std::set<std::string> used_;  // keys taken or saved by this process; guarded by mutex_
};

}  // namespace mailbroker::daemon
