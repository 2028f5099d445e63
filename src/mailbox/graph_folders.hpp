#pragma once
// Graph folders by path, named as EWS sessions name them (ews_folders.hpp): "INBOX" is the
// Inbox, subfolders are "INBOX/Reports", others by display name ("Archive", "Sent Items",
// "Archive/2026"), "/" between levels. The tree (mailFolders from the top of the mailbox,
// then childFolders of every folder that has children, breadth first) is cached on the
// client and read again when a name is not found, so folders made meanwhile appear.
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "protocol/graph/client.hpp"
#include "session/operation.hpp"

namespace mailbroker::mailbox::graph_folders {

// At most this many folders are read, at most this deep; others are not listed or found.
inline constexpr std::size_t max_folders = 10000;
inline constexpr std::size_t max_depth = 32;

awaitable<result<std::vector<graph::folder_entry>>> tree(session::connection_context& ctx, bool refresh);

// What names the folder `path` in Graph URLs: "inbox" for "" and INBOX in any case (no
// request), else the folder's id. Errors: not_found naming `field` and the path.
awaitable<result<std::string>> resolve(session::connection_context& ctx, std::string path, std::string field);

}  // namespace mailbroker::mailbox::graph_folders
