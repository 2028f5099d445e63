#include "mailbox/backend.hpp"

#include "mailbox/ews_backend.hpp"
#include "mailbox/graph_backend.hpp"
#include "mailbox/imap_backend.hpp"
#include "mailbox/pop3_backend.hpp"

namespace mailbroker::mailbox {

using session::connection_context;

error backend::unsupported(std::string_view call) const {
  return {errc::unimplemented,
          std::string(call) + " is not available on " + std::string(protocol_name()) + " sessions"};
}

awaitable<result<std::vector<folder>>> backend::list_folders(connection_context&, std::string, std::string) const {
  co_return unsupported("ListFolders");
}
awaitable<result<message_page>> backend::list_messages(connection_context&, list_query) const {
  co_return unsupported("ListMessages");
}
awaitable<result<chunk>> backend::read_chunk(connection_context&, std::string, message_ref, std::uint64_t,
                                             std::uint64_t) const {
  co_return unsupported("reading part of a message");
}
awaitable<result<std::string>> backend::read_whole(connection_context&, std::string, message_ref,
                                                   std::uint64_t) const {
  co_return unsupported("GetMessage");
}
awaitable<error> backend::set_flags(connection_context&, std::string, std::vector<message_ref>, std::optional<bool>,
                                    std::optional<bool>) const {
  co_return unsupported("SetFlags");
}
awaitable<result<std::vector<message_ref>>> backend::copy_messages(connection_context&, std::string,
                                                                   std::vector<message_ref>, std::string,
                                                                   bool move) const {
  co_return unsupported(move ? "MoveMessages" : "CopyMessages");
}
awaitable<error> backend::delete_messages(connection_context&, std::string, std::vector<message_ref>, bool) const {
  co_return unsupported("DeleteMessages");
}
awaitable<result<std::uint32_t>> backend::open_folder(connection_context&, std::string) const {
  co_return unsupported("ClaimMessages");
}
awaitable<result<std::vector<message_ref>>> backend::search(connection_context&, std::string,
                                                            imap::search_criteria) const {
  co_return unsupported("ClaimMessages");
}
awaitable<result<std::vector<message_summary>>> backend::summaries(connection_context&, std::string,
                                                                   std::vector<message_ref>) const {
  co_return unsupported("ClaimMessages");
}
awaitable<error> backend::poll_watch(connection_context&, std::string, watch_cursor&,
                                     const std::function<void(watch_event)>&) const {
  co_return unsupported("WatchMessages");
}
awaitable<result<submitted_message>> backend::submit(connection_context&, std::string) const {
  co_return unsupported("SendMessage without an SMTP leg");
}
awaitable<result<submitted_message>> backend::respond(connection_context&, std::string, message_ref,
                                                      response_request) const {
  co_return unsupported("a server-made reply");
}

const backend& backend_for(session::protocol proto) {
  static const imap_backend imap;
  static const pop3_backend pop3;
  static const ews_backend ews;
  static const graph_backend graph;
  switch (proto) {
    case session::protocol::pop3: return pop3;
    case session::protocol::ews: return ews;
    case session::protocol::graph: return graph;
    default: return imap;
  }
}

result<std::vector<std::uint32_t>> uids_of(const std::vector<message_ref>& refs, std::string_view field,
                                           std::string_view protocol) {
  std::vector<std::uint32_t> uids;
  uids.reserve(refs.size());
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& r = refs[i];
    const std::string name = std::string(field) + "[" + std::to_string(i) + "]";
    if (r.is_item()) {
      return error{errc::invalid_argument, name + ".item_id: " + std::string(protocol) +
                                               " sessions name messages by uid; item ids belong to EWS sessions"};
    }
    if (r.uid == 0) return error{errc::invalid_argument, name + ": uid is required"};
    uids.push_back(r.uid);
  }
  return uids;
}

std::vector<message_ref> refs_of(const std::vector<std::uint32_t>& uids, std::uint32_t uid_validity) {
  std::vector<message_ref> refs;
  refs.reserve(uids.size());
  for (auto uid : uids) refs.push_back({uid, uid_validity, {}, {}});
  return refs;
}

}  // namespace mailbroker::mailbox
