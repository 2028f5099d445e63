#pragma once
// Mailbox.WatchMessages: one stream's view of a folder. The session calls poll()
// whenever its connection is idle (session::watcher); poll() reports what arrived since
// the last call through `emit`, in uid order, each message once.
//
// IMAP: SELECT, NOOP, then UID SEARCH UID last+1:* (the session waits in IDLE between polls
// when it can). POP3: the maildrop listing, re-opened when older than the poll interval
// (POP3 shows the maildrop as it was at login).
#include <cstdint>
#include <functional>
#include <string>

#include "common/error.hpp"
#include "mailbox/imap_mailbox.hpp"
#include "net/asio.hpp"
#include "session/operation.hpp"

namespace mailbroker::mailbox {

struct watch_event {
  enum class kind { watching, new_message };
  kind type = kind::watching;
  std::uint32_t uid_validity = 0;
  std::uint32_t last_uid = 0;  // watching: uids above it will be reported
  std::string mode;            // watching: "IDLE", "POLL" or "POP3_POLL"
  message_summary message;     // new_message
};

class folder_watch {
 public:
  // `emit` runs on the session's strand and must not block.
  folder_watch(std::string folder, std::function<void(watch_event)> emit)
      : folder_(folder.empty() ? "INBOX" : std::move(folder)), emit_(std::move(emit)) {}

  const std::string& folder() const { return folder_; }
  awaitable<error> poll(session::connection_context& ctx);

 private:
  awaitable<error> poll_imap(session::connection_context& ctx);
  awaitable<error> poll_pop3(session::connection_context& ctx);
  void arm(std::uint32_t uid_validity, std::uint32_t last_uid, std::string mode);

  std::string folder_;
  std::function<void(watch_event)> emit_;
  bool armed_ = false;
  std::uint32_t uid_validity_ = 0;
  std::uint32_t last_uid_ = 0;
};

}  // namespace mailbroker::mailbox
