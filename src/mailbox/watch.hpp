#pragma once
// Mailbox.WatchMessages: one stream's view of a folder. The session calls poll()
// whenever its connection is idle (session::watcher); poll() reports what arrived since
// the last call through `emit`, in uid order, each message once.
//
// IMAP: SELECT, NOOP, then UID SEARCH UID last+1:* (the session waits in IDLE between polls
// when it can). POP3: the maildrop listing, re-opened when older than the poll interval
// (POP3 shows the maildrop as it was at login). EWS: a pull subscription's events,
// resumed from the last watermark after a reconnect.
#include <cstdint>
#include <functional>
#include <string>

#include "common/error.hpp"
#include "mailbox/backend.hpp"
#include "net/asio.hpp"
#include "session/operation.hpp"

namespace mailbroker::mailbox {

class folder_watch {
 public:
  // `emit` runs on the session's strand and must not block.
  folder_watch(std::string folder, std::function<void(watch_event)> emit)
      : folder_(folder.empty() ? "INBOX" : std::move(folder)), emit_(std::move(emit)) {}

  const std::string& folder() const { return folder_; }
  // Asks the session's backend (backend::poll_watch) what arrived since the last poll.
  awaitable<error> poll(session::connection_context& ctx);

 private:
  std::string folder_;
  std::function<void(watch_event)> emit_;
  watch_cursor cursor_;
};

}  // namespace mailbroker::mailbox
