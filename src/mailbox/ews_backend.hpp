#pragma once
// The EWS backend (Exchange Web Services over the session's ews::client): messages named
// by item id + change key (message_ref::item_id); folders by path (ews_folders.hpp).
//
//   ListFolders    FindFolder (deep) from the message folder root
//   ListMessages   FindItem: IsRead / From / Subject / received-date restriction, sorted
//                  by DateTimeReceived, paged by an offset token (next_page_token).
//                  FindItem returns no To / Cc: summaries of listings have none
//                  (GetMessageParts has them). Identical calls share one FindItem by
//                  IMAP's rule: a call takes the answer of an identical listing that
//                  started after it was made, never an older one (message_cache::list_since,
//                  session/inflight_lists.hpp)
//   GetMessage     GetItem with MimeContent (the whole message once; up to
//                  max_whole_message_bytes), the original bytes; through the session's
//                  cache by (item id, change key), with concurrent reads of one item
//                  sharing one GetItem and waiting ones batched (ews_bodies.hpp)
//   SetFlags       UpdateItem IsRead / the follow-up flag (Exchange2013 and later)
//   Move / Copy    MoveItem / CopyItem: the new item ids (Exchange2010_SP1 and later)
//   Delete         DeleteItem: MoveToDeletedItems, or HardDelete when permanent
//   Send           CreateItem SendAndSaveCopy with the MIME message (a copy in Sent Items)
//   Reply/Forward  CreateItem ReplyToItem / ReplyAllToItem / ForwardItem: the server
//                  builds the answer and keeps the conversation
//   Watch          a pull subscription on the folder (GetEvents) says what arrived, resumed
//                  from its last watermark after a reconnect or expiry. Exchange2010_SP1 and
//                  later: a streaming subscription too, registered in the client's
//                  streaming_subscriptions() so the session's upstream waits on it
//                  (GetStreamingEvents) instead of sleeping its poll interval; made again
//                  when the upstream found it gone. Before: GetEvents every poll interval.
//                  A watch that ends unsubscribes both, best effort, while the session's
//                  client lives (client::send_detached)
// Characters XML 1.0 forbids in the server's text become U+FFFD in summaries. SetFlags,
// Move and Delete forget the items' cached bodies (every version); every change made
// through the session forgets the remembered listings.
#include "mailbox/backend.hpp"

namespace mailbroker::mailbox {

class ews_backend final : public backend {
 public:
  std::string_view protocol_name() const override { return "EWS"; }

  awaitable<result<std::vector<folder>>> list_folders(session::connection_context& ctx, std::string pattern,
                                                      std::string regex) const override;
  awaitable<result<message_page>> list_messages(session::connection_context& ctx, list_query query) const override;
  awaitable<result<std::string>> read_whole(session::connection_context& ctx, std::string folder, message_ref ref,
                                            std::uint64_t max_bytes) const override;
  awaitable<error> set_flags(session::connection_context& ctx, std::string folder, std::vector<message_ref> refs,
                             std::optional<bool> seen, std::optional<bool> flagged) const override;
  awaitable<result<std::vector<message_ref>>> copy_messages(session::connection_context& ctx, std::string folder,
                                                            std::vector<message_ref> refs, std::string target,
                                                            bool move) const override;
  awaitable<error> delete_messages(session::connection_context& ctx, std::string folder, std::vector<message_ref> refs,
                                   bool permanent) const override;
  awaitable<result<std::uint32_t>> open_folder(session::connection_context& ctx, std::string folder) const override;
  awaitable<result<std::vector<message_ref>>> search(session::connection_context& ctx, std::string folder,
                                                     imap::search_criteria criteria) const override;
  awaitable<result<std::vector<message_summary>>> summaries(session::connection_context& ctx, std::string folder,
                                                            std::vector<message_ref> refs) const override;
  awaitable<error> poll_watch(session::connection_context& ctx, std::string folder, watch_cursor& cursor,
                              const std::function<void(watch_event)>& emit) const override;
  bool submits_itself() const override { return true; }
  awaitable<result<submitted_message>> submit(session::connection_context& ctx, std::string mime) const override;
  bool responds_itself() const override { return true; }
  awaitable<result<submitted_message>> respond(session::connection_context& ctx, std::string folder, message_ref ref,
                                               response_request request) const override;
};

}  // namespace mailbroker::mailbox
