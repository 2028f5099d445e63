#pragma once
// Mailbox.WatchMessages: one stream's view of a folder. The session calls poll()
// whenever its connection is idle (session::watcher); poll() reports what arrived since
// the last call through `emit`, in uid order, each message once.
//
// IMAP: SELECT, NOOP, then UID SEARCH UID last+1:* (the session waits in IDLE between polls
// when it can). POP3: the maildrop listing, re-opened when older than the poll interval
// (POP3 shows the maildrop as it was at login). EWS: a pull subscription's events,
// resumed from the last watermark after a reconnect. Graph: delta queries; with a
// watch_positions object the delta link outlives the daemon (see watch_position_keeper).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "mailbox/backend.hpp"
#include "mailbox/watch_positions.hpp"
#include "net/asio.hpp"
#include "session/operation.hpp"

namespace mailbroker::mailbox {

// Keeps a Graph watch's cursor in a watch_positions object: seeds it once from what a
// previous daemon process saved, and saves the delta link after each poll that moved it.
// Bookkeeping only (the positions object stores); with positions == nullptr it does
// nothing. Used on the session's strand by one folder_watch: not thread-safe itself.
class watch_position_keeper {
 public:
  watch_position_keeper(std::shared_ptr<watch_positions> positions, std::string session, std::string folder)
      : positions_(std::move(positions)), session_(std::move(session)), folder_(std::move(folder)) {}

  // Before the first poll only (later calls do nothing): when a position was saved,
  // `cursor` resumes there (delta_link = position, delta_news = true, not armed), so the
  // backend announces WATCHING and then reports what arrived since, as news.
  void seed(watch_cursor& cursor);
  // After every poll: saves cursor.delta_link when its round is news (the baseline round's
  // links are not resume points: what they would report was there before the watch) and
  // it differs from what this keeper last saved or seeded. An empty link (an expired
  // delta link being replaced by a new round) is not saved.
  void save_if_moved(const watch_cursor& cursor);

 private:
  std::shared_ptr<watch_positions> positions_;
  std::string session_;
  std::string folder_;
  bool seeded_ = false;
  std::string last_saved_;
};

class folder_watch {
 public:
  // `emit` runs on the session's strand and must not block. `positions` (nullptr: none,
  // e.g. a daemon without a state dir) keeps a Graph watch's delta link for `session`
  // (the session's name) across daemon restarts; other protocols ignore it.
  folder_watch(std::string folder, std::function<void(watch_event)> emit,
               std::shared_ptr<watch_positions> positions = nullptr, std::string session = {});

  const std::string& folder() const { return folder_; }
  // Asks the session's backend (backend::poll_watch) what arrived since the last poll.
  awaitable<error> poll(session::connection_context& ctx);

 private:
  std::string folder_;
  std::function<void(watch_event)> emit_;
  watch_cursor cursor_;
  watch_position_keeper keeper_;
};

}  // namespace mailbroker::mailbox
