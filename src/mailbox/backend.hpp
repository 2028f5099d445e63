#pragma once
// One interface for every mailbox protocol (IMAP, POP3, EWS, Graph): what the
// Mailbox service needs from a session's connection, so its handlers, claims and
// watches are written once and never ask which protocol they talk to.
//
// A backend is chosen once per session from its spec (backend_for) and holds no state of
// its own: what lives per connection (the selected folder, the protocol client) is in
// the session::connection_context each call gets, and runs on the session's strand
// inside one turn of its operation queue.
//
// Messages are named by message_ref: IMAP / POP3 by uid, EWS and Graph by item id. A backend
// refuses a ref of the other kind with invalid_argument naming the field. A capability
// a backend lacks answers unimplemented naming the call (backend's defaults).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "mailbox/imap_mailbox.hpp"
#include "mailbox/message_types.hpp"
#include "net/asio.hpp"
#include "session/operation.hpp"
#include "session/session_spec.hpp"

namespace mailbroker::mailbox {

// What a backend holds on the server for one watch, given back when the watch ends
// (the cursor is destroyed with its folder_watch; EWS unsubscribes).
struct watch_resources {
  virtual ~watch_resources() = default;
};

// Where a watch is (folder_watch keeps it between polls).
struct watch_cursor {
  bool armed = false;
  std::uint32_t uid_validity = 0;  // IMAP / POP3
  std::uint32_t last_uid = 0;      // IMAP / POP3: the highest uid reported
  std::string subscription_id;     // EWS: the pull subscription
  std::string watermark;           // EWS: the last event's watermark: a new subscription resumes here
  // EWS (Exchange2010_SP1 and later): the streaming subscription that wakes the session
  // when something happens in the folder; the pull subscription still says what.
  std::string streaming_id;
  // Graph: where the next delta round starts (the last @odata.deltaLink, or the
  // @odata.nextLink a round stopped at), relative to the service root.
  std::string delta_link;
  bool delta_news = false;  // Graph: the round that read what was there is over: pages are news
  std::unique_ptr<watch_resources> resources;
};

// A message submitted through the mailbox itself (EWS CreateItem), not the SMTP leg.
struct submitted_message {
  std::string server_reply;  // e.g. "EWS CreateItem: NoError"
};

// How a reply or forward is made when the backend makes it itself (EWS ReplyToItem /
// ForwardItem: the server keeps the conversation).
struct response_request {
  enum class kind { reply, reply_all, forward };
  kind type = kind::reply;
  std::string text_body;
  std::vector<address> to, cc;  // forward
};

class backend {
 public:
  virtual ~backend() = default;

  // "IMAP", "POP3", "EWS": for messages.
  virtual std::string_view protocol_name() const = 0;

  virtual awaitable<result<std::vector<folder>>> list_folders(session::connection_context& ctx, std::string pattern,
                                                              std::string regex) const;
  virtual awaitable<result<message_page>> list_messages(session::connection_context& ctx, list_query query) const;

  // Raw RFC 5322 bytes. A backend that can read any byte range (IMAP partial FETCH) says
  // partial_reads() and serves read_chunk, one chunk per queue turn; others read the
  // whole message once (read_whole; failed_precondition above max_bytes).
  virtual bool partial_reads() const { return false; }
  virtual awaitable<result<chunk>> read_chunk(session::connection_context& ctx, std::string folder, message_ref ref,
                                              std::uint64_t offset, std::uint64_t max_bytes) const;
  virtual awaitable<result<std::string>> read_whole(session::connection_context& ctx, std::string folder,
                                                    message_ref ref, std::uint64_t max_bytes) const;

  // What the protocol can do at all, asked before any work (AckMessage refuses an action
  // the backend lacks before it checks the claim).
  virtual bool has_flags() const { return true; }
  virtual bool has_folders() const { return true; }

  virtual awaitable<error> set_flags(session::connection_context& ctx, std::string folder,
                                     std::vector<message_ref> refs, std::optional<bool> seen,
                                     std::optional<bool> flagged) const;
  // Copies (or moves) to `target`; returns the new references in `refs` order when the
  // server reports them, else empty.
  virtual awaitable<result<std::vector<message_ref>>> copy_messages(session::connection_context& ctx,
                                                                    std::string folder, std::vector<message_ref> refs,
                                                                    std::string target, bool move) const;
  // permanent: false moves to Deleted Items where the protocol has one (EWS); IMAP and
  // POP3 deletes are always permanent.
  virtual awaitable<error> delete_messages(session::connection_context& ctx, std::string folder,
                                           std::vector<message_ref> refs, bool permanent) const;

  // For claims: opens `folder` and returns what identifies its uids (IMAP UIDVALIDITY,
  // POP3 the session's number; 0 for item-id protocols).
  virtual awaitable<result<std::uint32_t>> open_folder(session::connection_context& ctx, std::string folder) const;
  // The messages matching `criteria`, oldest first (criteria.after_uid ignored).
  virtual awaitable<result<std::vector<message_ref>>> search(session::connection_context& ctx, std::string folder,
                                                             imap::search_criteria criteria) const;
  // Summaries of `refs` in `folder`, in `refs` order; unknown ones left out.
  virtual awaitable<result<std::vector<message_summary>>> summaries(session::connection_context& ctx,
                                                                    std::string folder,
                                                                    std::vector<message_ref> refs) const;

  // Watches: reports through `emit` a watching event when the cursor is new (or the
  // folder changed identity), then every message that arrived since the last poll, once.
  virtual awaitable<error> poll_watch(session::connection_context& ctx, std::string folder, watch_cursor& cursor,
                                      const std::function<void(watch_event)>& emit) const;

  // Sending: true when this backend submits messages itself (EWS), so SendMessage,
  // ReplyToMessage and ForwardMessage need no SMTP leg.
  virtual bool submits_itself() const { return false; }
  virtual awaitable<result<submitted_message>> submit(session::connection_context& ctx, std::string mime) const;
  // Reply / forward made by the server (keeps the conversation); unimplemented for
  // backends that build them from the original (IMAP, POP3: the daemon does).
  virtual bool responds_itself() const { return false; }
  virtual awaitable<result<submitted_message>> respond(session::connection_context& ctx, std::string folder,
                                                       message_ref ref, response_request request) const;

  // unimplemented: "<call> is not available on <protocol> sessions" (POP3 says why).
  virtual error unsupported(std::string_view call) const;
};

// The backend for a session of protocol `proto` (IMAP, POP3, EWS, Graph); lives forever.
const backend& backend_for(session::protocol proto);
inline const backend& backend_of(const session::connection_context& ctx) { return backend_for(ctx.spec.proto); }

// uids of `refs` for uid-named protocols: invalid_argument naming `field`[i] for a ref
// that names an item id or no message at all.
result<std::vector<std::uint32_t>> uids_of(const std::vector<message_ref>& refs, std::string_view field,
                                           std::string_view protocol);
// uid-named refs for `uids` (new uids reported by a copy, search results).
std::vector<message_ref> refs_of(const std::vector<std::uint32_t>& uids, std::uint32_t uid_validity = 0);

}  // namespace mailbroker::mailbox
