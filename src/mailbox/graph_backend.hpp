#pragma once
// The Microsoft Graph backend (the session's graph::client): messages named by item id +
// changeKey (message_ref::item_id / change_key); folders by path (graph_folders.hpp).
//
//   ListFolders    mailFolders + childFolders (the whole tree, cached on the client)
//   ListMessages   messages with $select (summary fields only), $filter (isRead, from,
//                  subject contains, received dates), $orderby receivedDateTime, $top; paged
//                  by an offset token ($skip: Graph's own nextLink for messages is a $skip,
//                  and a caller's token never becomes a URL). Identical calls share one
//                  request (shared_listing.hpp)
//   GetMessage     GET messages/{id}/$value (the whole message once; up to
//                  max_whole_message_bytes), through the session's cache by (id, changeKey),
//                  concurrent reads of one item sharing one request
//   SetFlags       PATCH isRead / flag.flagStatus         } one request for one message,
//   Move / Copy    POST move / copy: the new ids          } $batch of up to 20 for more
//   Delete         DELETE (to Deleted Items) or POST permanentDelete }
//   Send           POST sendMail with the MIME message (base64; a copy in Sent Items)
//   Reply/Forward  POST reply / replyAll / forward: Graph builds the answer from the
//                  original and keeps the conversation
//   Watch          a delta query on the folder (messages/delta, created only): the first
//                  round reads the folder to get a delta link (nothing reported), each poll
//                  then follows the delta link and reports new messages; a poll that fails
//                  half-way resumes from the last link it reached. A delta link Graph no
//                  longer knows (410 / SyncStateNotFound) starts a new round.
// SetFlags, Move and Delete forget the items' cached bodies; every change made through
// the session forgets the remembered listings.
#include "mailbox/backend.hpp"

namespace mailbroker::mailbox {

class graph_backend final : public backend {
 public:
  std::string_view protocol_name() const override { return "Graph"; }

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
