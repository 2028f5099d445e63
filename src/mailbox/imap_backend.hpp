#pragma once
// The IMAP backend: the Mailbox operations of imap_mailbox.hpp behind mailbox::backend,
// messages named by uid. A ref's uid_validity, when set, must be the folder's current
// one (failed_precondition otherwise: the folder was recreated and the uid may name
// another message now).
#include "mailbox/backend.hpp"

namespace mailbroker::mailbox {

class imap_backend final : public backend {
 public:
  std::string_view protocol_name() const override { return "IMAP"; }

  awaitable<result<std::vector<folder>>> list_folders(session::connection_context& ctx, std::string pattern,
                                                      std::string regex) const override;
  awaitable<result<message_page>> list_messages(session::connection_context& ctx, list_query query) const override;
  bool partial_reads() const override { return true; }
  awaitable<result<chunk>> read_chunk(session::connection_context& ctx, std::string folder, message_ref ref,
                                      std::uint64_t offset, std::uint64_t max_bytes) const override;
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

 private:
  // SELECTs `folder` and checks every ref's uid_validity against it; returns the uids.
  awaitable<result<std::vector<std::uint32_t>>> select_uids(session::connection_context& ctx,
                                                            const std::string& folder,
                                                            const std::vector<message_ref>& refs,
                                                            std::string_view field) const;
};

}  // namespace mailbroker::mailbox
