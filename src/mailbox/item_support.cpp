#include "mailbox/item_support.hpp"

#include <charconv>
#include <optional>

namespace mailbroker::mailbox::item_support {

error check_refs(const std::vector<message_ref>& refs, std::string_view field, std::string_view protocol) {
  for (std::size_t i = 0; i < refs.size(); ++i) {
    if (!refs[i].is_item()) {
      return {errc::invalid_argument, std::string(field) + "[" + std::to_string(i) + "]: " + std::string(protocol) +
                                          " sessions name messages by item_id (MessageRef.item_id from "
                                          "ListMessages), not by uid"};
    }
  }
  if (refs.empty() || refs.size() > max_uids_per_call) {
    return {errc::invalid_argument, std::string(field) + ": 1.." + std::to_string(max_uids_per_call) + " messages"};
  }
  return error::none();
}

result<std::uint32_t> page_offset(list_query& query) {
  if (query.limit == 0) query.limit = 100;
  if (query.limit > max_list_limit) return error{errc::invalid_argument, "limit: at most " + std::to_string(max_list_limit)};
  std::uint32_t offset = 0;
  if (!query.page_token.empty()) {
    const auto* end = query.page_token.data() + query.page_token.size();
    auto [p, ec] = std::from_chars(query.page_token.data(), end, offset);
    if (ec != std::errc() || p != end) {
      return error{errc::invalid_argument, "page_token: pass next_page_token of the previous reply unchanged"};
    }
  }
  return offset;
}

std::string listing_key(std::string_view protocol, const std::string& folder, const list_query& query) {
  const auto& c = query.criteria;
  auto day = [](const std::optional<std::chrono::sys_days>& d) {
    return d ? std::to_string(d->time_since_epoch().count()) : std::string("-");
  };
  std::string key = "\x01";
  key += protocol;
  for (const std::string& part :
       {folder, std::to_string(static_cast<int>(c.read)), c.from_contains, c.subject_contains, day(c.since),
        day(c.before), std::to_string(query.limit), std::to_string(static_cast<int>(query.order)), query.page_token}) {
    key += '\0';
    key += part;
  }
  return key;
}

error too_large(std::size_t size, std::uint64_t max_bytes) {
  return {errc::failed_precondition,
          "the message is " + std::to_string(size) + " bytes; at most " + std::to_string(max_bytes) + " are read here"};
}

result<std::string> checked_copy(const std::string& body, std::uint64_t max_bytes) {
  if (body.size() > max_bytes) return too_large(body.size(), max_bytes);
  return body;
}

}  // namespace mailbroker::mailbox::item_support
