#pragma once
// Folder paths of item-id protocols (EWS, Graph), the way the Mailbox API names folders:
// "INBOX" (any case) is the Inbox, "INBOX/Reports" below it, others by display name,
// "/" between levels; ListFolders filters them with IMAP LIST patterns. Pure.
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "mailbox/message_types.hpp"

namespace mailbroker::mailbox::folder_paths {

// "" or INBOX in any case.
bool is_inbox(std::string_view path);

// `path` with a leading inbox component in any case spelled "INBOX" ("inbox/Sub" ->
// "INBOX/Sub"); "" -> "INBOX".
std::string canonical(std::string path);

// IMAP LIST pattern semantics on "/"-separated paths: '*' matches anything, '%' anything but '/'.
bool matches(std::string_view pattern, std::string_view name);

struct named_folder {
  std::string path;
  bool has_children = false;
};

// The folders whose path matches `pattern` ("" = "*") and then ECMAScript `regex` ("" =
// any), as ListFolders answers them. Errors (invalid_argument): a regex that does not
// compile, a pattern over 1024 bytes or with more than 8 wildcards.
result<std::vector<folder>> filter(const std::vector<named_folder>& folders, std::string pattern,
                                   const std::string& regex);

}  // namespace mailbroker::mailbox::folder_paths
