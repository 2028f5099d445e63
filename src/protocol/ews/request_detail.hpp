#pragma once
// Pieces shared by the request builders (requests.cpp, notification_requests.cpp).
// Internal to mb_ews_codec.
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "protocol/ews/requests.hpp"

namespace mailbroker::ews::detail {

// Appends <t:FolderId .../> or <t:DistinguishedFolderId ...>...</...> for `folder`.
// Errors (invalid_argument, naming `field`): neither id nor name, an unknown
// distinguished name, or one newer than `version`.
error append_folder_id(std::string& out, server_version version, const folder_ref& folder, std::string_view field);

// Appends <m:wrapper> + every folder id + </m:wrapper>. Errors: none or more than
// max_ids_per_request folders, or a bad folder.
error append_folder_ids(std::string& out, server_version version, const std::vector<folder_ref>& folders,
                        std::string_view wrapper, std::string_view field);

// Appends <t:ItemId Id="..." [ChangeKey="..."]/>.
void append_item_id(std::string& out, std::string_view element, const item_ref& item);

// Appends <m:ItemIds> + ids + </m:ItemIds>. Errors: none, more than
// max_ids_per_request, or an empty id.
error append_item_ids(std::string& out, const std::vector<item_ref>& items);

// A mail address as builders accept it: 1..max_address_bytes, one '@' not at either end,
// no spaces, control characters or '<' '>' (they belong to display forms, not addresses).
error check_address(std::string_view address, std::string_view field);

}  // namespace mailbroker::ews::detail
