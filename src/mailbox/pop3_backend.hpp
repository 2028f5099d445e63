#pragma once
// The POP3 backend: pop3_mailbox.hpp behind mailbox::backend. One folder (INBOX), no
// flags, no moves: those calls answer unimplemented naming the call.
#include "mailbox/backend.hpp"

namespace mailbroker::mailbox {

class pop3_backend final : public backend {
 public:
  std::string_view protocol_name() const override { return "POP3"; }
  bool has_flags() const override { return false; }
  bool has_folders() const override { return false; }
  error unsupported(std::string_view call) const override;

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
};

}  // namespace mailbroker::mailbox
