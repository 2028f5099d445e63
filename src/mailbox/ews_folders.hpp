#pragma once
// EWS folders by path, the way the Mailbox API names folders: "INBOX" is the Inbox,
// subfolders are "INBOX/Reports", others by display name ("Archive", "Sent Items",
// "Archive/2026"), "/" between levels. The tree (FindFolder, deep traversal from the
// message folder root of the session's mailbox, mail folders only) is cached on the
// connection and read again when a name is not found, so folders made meanwhile appear.
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "protocol/ews/client.hpp"
#include "session/operation.hpp"

namespace mailbroker::mailbox::ews_folders {

// At most this many folders are read; folders past it are not listed or found by path.
inline constexpr std::size_t max_folders = 10000;

// The mailbox whose folders these are: "" = the user's own (spec.ews.mailbox).
std::string mailbox_of(const session::connection_context& ctx);

awaitable<result<std::vector<ews::folder_entry>>> tree(session::connection_context& ctx, bool refresh);

// The folder `path` names ("" and INBOX in any case: the Inbox, without a request).
// Errors: not_found naming `field` and the path.
awaitable<result<ews::folder_ref>> resolve(session::connection_context& ctx, std::string path, std::string field);

}  // namespace mailbroker::mailbox::ews_folders
