#include "protocol/graph/requests.hpp"

#include "common/base64.hpp"
#include "protocol/graph/endpoints.hpp"

namespace mailbroker::graph {
namespace {

constexpr std::string_view folder_select = "id,displayName,parentFolderId,childFolderCount,unreadItemCount,totalItemCount";
constexpr std::string_view json_type = "application/json";

error invalid(std::string_view field, std::string_view why) {
  return error{errc::invalid_argument, std::string(field) + " " + std::string(why)};
}

error check_top(std::uint32_t top, std::string_view field) {
  if (top == 0 || top > max_page_size) return invalid(field, "must be 1.." + std::to_string(max_page_size));
  return error::none();
}

bool has_control(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

error check_filter_text(std::string_view text, std::string_view field) {
  if (text.size() > max_filter_text_bytes) {
    return invalid(field, "is longer than " + std::to_string(max_filter_text_bytes) + " bytes");
  }
  if (has_control(text)) return invalid(field, "must not contain control characters");
  // Not valid UTF-8 would make the JSON-free URL fine but Graph's OData parser fail.
  if (clean_text(text, text.size() * 3 + 3) != text) return invalid(field, "must be valid UTF-8 text");
  return error::none();
}

error check_address(std::string_view address, std::string_view field) {
  if (address.empty()) return invalid(field, "has an empty address");
  if (address.size() > max_address_bytes) {
    return invalid(field, "has an address longer than " + std::to_string(max_address_bytes) + " bytes");
  }
  const auto at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) {
    return invalid(field, "has an address without local@domain form");
  }
  for (char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return invalid(field, "has an address with a space or control character");
  }
  if (clean_text(address, address.size()) != address) return invalid(field, "has an address that is not valid UTF-8");
  return error::none();
}

// [{"emailAddress":{"address":..,"name":..}}, ...]; checked.
result<json> recipients_json(const std::vector<recipient>& list, std::string_view field) {
  if (list.size() > max_recipients) return invalid(field, "has more than " + std::to_string(max_recipients) + " recipients");
  json out = json::array();
  for (const recipient& r : list) {
    if (auto e = check_address(r.address, field); !e.ok()) return e;
    if (r.name.size() > max_address_bytes || clean_text(r.name, r.name.size()) != r.name) {
      return invalid(field, "has a display name that is too long or not clean UTF-8 text");
    }
    json address = {{"address", r.address}};
    if (!r.name.empty()) address["name"] = r.name;
    out.push_back(json{{"emailAddress", std::move(address)}});
  }
  return out;
}

// Text going into a JSON body must be valid UTF-8, or nlohmann's dump() would throw.
error check_body_text(std::string_view text, std::string_view field) {
  if (text.size() > max_comment_bytes) return invalid(field, "is longer than " + std::to_string(max_comment_bytes) + " bytes");
  if (clean_text(text, text.size() * 3 + 3) != text) {
    return invalid(field, "must be valid UTF-8 without control characters other than TAB, CR and LF");
  }
  return error::none();
}

request json_request(std::string method, std::string url, const json& body) {
  // Callers checked every string; `replace` only guarantees dump() cannot throw.
  return request{std::move(method), std::move(url), {}, std::string(json_type),
                 body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

result<request> action(std::string_view mailbox_root, std::string_view item_id, std::string_view verb,
                       std::string_view destination) {
  auto path = message_path(mailbox_root, item_id, "item id");
  if (!path) return path.err();
  if (destination.empty()) return invalid("destination", "is empty: give a folder id or a well-known name");
  if (destination.size() > max_id_bytes || has_control(destination)) {
    return invalid("destination", "must be a folder id or well-known name of at most " + std::to_string(max_id_bytes) +
                                      " bytes without control characters");
  }
  if (clean_text(destination, destination.size()) != destination) return invalid("destination", "must be valid UTF-8");
  const std::string_view known = well_known_folder(destination);
  const json body = {{"destinationId", known.empty() ? std::string(destination) : std::string(known)}};
  return json_request("POST", path.value() + "/" + std::string(verb), body);
}

std::string summary_query(bool with_size) {
  std::string q = "?$select=" + percent_encode(summary_select);
  if (with_size) q += "&$expand=" + percent_encode(size_expand);
  return q;
}

}  // namespace

std::string odata_string(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  out += '\'';
  return out;
}

result<request> list_folders(std::string_view mailbox_root, std::string_view parent, std::uint32_t top) {
  if (auto e = check_top(top, "top"); !e.ok()) return e;
  std::string url;
  if (parent.empty()) {
    url = std::string(mailbox_root) + "/mailFolders";
  } else {
    auto path = folder_path(mailbox_root, parent, "parent folder");
    if (!path) return path.err();
    url = path.value() + "/childFolders";
  }
  url += "?$select=" + percent_encode(folder_select) + "&$top=" + std::to_string(top);
  return request{"GET", std::move(url), {}, {}, {}};
}

result<request> get_folder(std::string_view mailbox_root, std::string_view folder) {
  auto path = folder_path(mailbox_root, folder, "folder");
  if (!path) return path.err();
  return request{"GET", path.value() + "?$select=" + percent_encode(folder_select), {}, {}, {}};
}

result<request> list_messages(std::string_view mailbox_root, std::string_view folder, const message_query& query) {
  if (auto e = check_top(query.top, "limit"); !e.ok()) return e;
  if (auto e = check_filter_text(query.from, "from"); !e.ok()) return e;
  if (auto e = check_filter_text(query.subject_contains, "subject"); !e.ok()) return e;
  if (query.since && query.before && *query.since >= *query.before) {
    return invalid("since", "must be before `before` (the range is empty)");
  }
  auto path = folder_path(mailbox_root, folder, "folder");
  if (!path) return path.err();

  std::vector<std::string> clauses;
  if (query.before) clauses.push_back("receivedDateTime lt " + format_iso8601(*query.before));
  if (query.is_read) clauses.push_back(std::string("isRead eq ") + (*query.is_read ? "true" : "false"));
  if (!query.from.empty()) {
    const std::string literal = odata_string(query.from);
    if (query.from.find('@') != std::string::npos) {
      clauses.push_back("from/emailAddress/address eq " + literal);
    } else {
      clauses.push_back("(contains(from/emailAddress/address," + literal + ") or contains(from/emailAddress/name," +
                        literal + "))");
    }
  }
  if (!query.subject_contains.empty()) clauses.push_back("contains(subject," + odata_string(query.subject_contains) + ")");
  std::string filter;
  if (query.since || !clauses.empty()) {
    // receivedDateTime, the $orderby property, goes first (see the header).
    filter = "receivedDateTime ge " + (query.since ? format_iso8601(*query.since) : std::string("1900-01-01T00:00:00Z"));
    for (const std::string& c : clauses) filter += " and " + c;
  }

  std::string url = path.value() + "/messages" + summary_query(query.with_size);
  if (!filter.empty()) url += "&$filter=" + percent_encode(filter);
  url += "&$orderby=" + percent_encode(query.newest_first ? "receivedDateTime desc" : "receivedDateTime asc");
  url += "&$top=" + std::to_string(query.top);
  if (query.skip > 0) url += "&$skip=" + std::to_string(query.skip);
  return request{"GET", std::move(url), {}, {}, {}};
}

result<request> get_message(std::string_view mailbox_root, std::string_view item_id, bool with_size) {
  auto path = message_path(mailbox_root, item_id, "item id");
  if (!path) return path.err();
  return request{"GET", path.value() + summary_query(with_size), {}, {}, {}};
}

result<request> get_mime(std::string_view mailbox_root, std::string_view item_id) {
  auto path = message_path(mailbox_root, item_id, "item id");
  if (!path) return path.err();
  return request{"GET", path.value() + "/$value", {}, {}, {}};
}

result<request> update_message(std::string_view mailbox_root, std::string_view item_id, std::optional<bool> is_read,
                               std::optional<bool> flagged) {
  if (!is_read && !flagged) return invalid("flags", "change nothing: set is_read and/or flagged");
  auto path = message_path(mailbox_root, item_id, "item id");
  if (!path) return path.err();
  json body = json::object();
  if (is_read) body["isRead"] = *is_read;
  if (flagged) body["flag"] = {{"flagStatus", *flagged ? "flagged" : "notFlagged"}};
  return json_request("PATCH", path.value(), body);
}

result<request> move_message(std::string_view mailbox_root, std::string_view item_id, std::string_view destination) {
  return action(mailbox_root, item_id, "move", destination);
}

result<request> copy_message(std::string_view mailbox_root, std::string_view item_id, std::string_view destination) {
  return action(mailbox_root, item_id, "copy", destination);
}

result<request> delete_message(std::string_view mailbox_root, std::string_view item_id, bool permanent) {
  auto path = message_path(mailbox_root, item_id, "item id");
  if (!path) return path.err();
  if (permanent) return request{"POST", path.value() + "/permanentDelete", {}, {}, {}};
  return request{"DELETE", path.value(), {}, {}, {}};
}

result<request> send_mail(std::string_view mailbox_root, const outgoing_message& message, bool save_to_sent_items) {
  if (message.to.empty() && message.cc.empty() && message.bcc.empty()) {
    return invalid("recipients", "are missing: give at least one to, cc or bcc address");
  }
  if (auto e = check_body_text(message.subject, "subject"); !e.ok()) return e;
  if (auto e = check_body_text(message.body, "body"); !e.ok()) return e;
  json m = json::object();
  m["subject"] = message.subject;
  m["body"] = {{"contentType", message.body_is_html ? "HTML" : "Text"}, {"content", message.body}};
  const std::pair<const std::vector<recipient>*, std::string_view> lists[] = {
      {&message.to, "toRecipients"}, {&message.cc, "ccRecipients"}, {&message.bcc, "bccRecipients"}};
  for (const auto& [list, name] : lists) {
    if (list->empty()) continue;
    auto r = recipients_json(*list, name);
    if (!r) return r.err();
    m[std::string(name)] = std::move(r.value());
  }
  json body = json::object();
  body["message"] = std::move(m);
  body["saveToSentItems"] = save_to_sent_items;
  return json_request("POST", std::string(mailbox_root) + "/sendMail", body);
}

result<request> send_mime(std::string_view mailbox_root, std::string_view mime_bytes) {
  if (mime_bytes.empty()) return invalid("message", "is empty");
  if (mime_bytes.size() > max_send_mime_bytes) {
    return invalid("message", "is larger than " + std::to_string(max_send_mime_bytes / (1024 * 1024)) +
                                  " MiB (Graph refuses sendMail bodies over 4 MB)");
  }
  return request{"POST", std::string(mailbox_root) + "/sendMail", {}, "text/plain", base64_encode(mime_bytes)};
}

result<request> reply(std::string_view mailbox_root, std::string_view item_id, reply_kind kind,
                      std::string_view comment, const std::vector<recipient>& to) {
  auto path = message_path(mailbox_root, item_id, "item id");
  if (!path) return path.err();
  if (auto e = check_body_text(comment, "comment"); !e.ok()) return e;
  if (kind == reply_kind::forward && to.empty()) return invalid("to", "is required to forward: give at least one address");
  json body = json::object();
  body["comment"] = std::string(comment);
  if (!to.empty()) {
    auto r = recipients_json(to, "to");
    if (!r) return r.err();
    if (kind == reply_kind::forward) body["toRecipients"] = std::move(r.value());
    else body["message"] = {{"toRecipients", std::move(r.value())}};
  }
  const char* verb = kind == reply_kind::reply ? "/reply" : kind == reply_kind::reply_all ? "/replyAll" : "/forward";
  return json_request("POST", path.value() + verb, body);
}

result<request> delta(std::string_view mailbox_root, std::string_view folder, std::uint32_t page_size,
                      bool created_only) {
  if (auto e = check_top(page_size, "page size"); !e.ok()) return e;
  auto path = folder_path(mailbox_root, folder, "folder");
  if (!path) return path.err();
  std::string url = path.value() + "/messages/delta" + summary_query(false);
  if (created_only) url += "&changeType=created";
  return follow(std::move(url), page_size);
}

request follow(std::string relative_url, std::uint32_t page_size) {
  request r{"GET", std::move(relative_url), {}, {}, {}};
  if (page_size > 0) r.headers.emplace_back("Prefer", "odata.maxpagesize=" + std::to_string(page_size));
  return r;
}

}  // namespace mailbroker::graph
