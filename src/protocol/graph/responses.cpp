#include "protocol/graph/responses.hpp"

namespace mailbroker::graph {
namespace {

using mailbox::message_summary;

// An unsigned count member; nullopt when absent; `bad` set when present but not a
// non-negative integer.
std::optional<std::uint64_t> count_member(const json& object, std::string_view key, bool& bad) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer() && it->get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(it->get<std::int64_t>());
  bad = true;
  return std::nullopt;
}

std::uint32_t clamp32(std::optional<std::uint64_t> v) {
  if (!v) return 0;
  return *v > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<std::uint32_t>(*v);
}

// A string member that, when present, must be a string: `bad` set otherwise.
std::string text(const json& object, std::string_view key, bool& bad) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) {
    bad = true;
    return {};
  }
  return clean_text(it->get_ref<const std::string&>());
}

// {"emailAddress":{"name":..,"address":..}} -> address; false when unreadable.
bool read_recipient(const json& r, mailbox::address& out) {
  if (!r.is_object()) return false;
  const auto it = r.find("emailAddress");
  if (it == r.end() || !it->is_object()) return false;
  bool bad = false;
  out.name = text(*it, "name", bad);
  out.address = text(*it, "address", bad);
  return !bad;
}

void read_recipients(const json& message, std::string_view key, std::vector<mailbox::address>& out, bool& bad) {
  const auto it = message.find(key);
  if (it == message.end() || it->is_null()) return;
  if (!it->is_array()) {
    bad = true;
    return;
  }
  for (const json& r : *it) {
    if (out.size() == max_recipients_kept) {
      bad = true;
      return;
    }
    mailbox::address a;
    if (read_recipient(r, a)) out.push_back(std::move(a));
    else bad = true;
  }
}

std::optional<time_point> date(const json& message, std::string_view key, bool& bad) {
  const auto it = message.find(key);
  if (it == message.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    bad = true;
    return std::nullopt;
  }
  auto t = parse_iso8601(it->get_ref<const std::string&>());
  if (!t) bad = true;
  return t;
}

std::optional<bool> boolean(const json& message, std::string_view key, bool& bad) {
  const auto it = message.find(key);
  if (it == message.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) {
    bad = true;
    return std::nullopt;
  }
  return it->get<bool>();
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto l = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (l(a[i]) != l(b[i])) return false;
  }
  return true;
}

// PidTagMessageSize from singleValueExtendedProperties [{"id":"Integer 0xe08","value":"1234"}].
void read_size(const json& message, message_summary& s, bool& bad) {
  const auto it = message.find("singleValueExtendedProperties");
  if (it == message.end() || !it->is_array()) return;
  for (const json& p : *it) {
    if (!p.is_object()) continue;
    const auto id = p.find("id");
    if (id == p.end() || !id->is_string()) continue;
    const std::string& name = id->get_ref<const std::string&>();
    if (!iequals(name, "Integer 0xe08") && !iequals(name, "Integer 0x0E08")) continue;
    const auto v = p.find("value");
    if (v == p.end() || !v->is_string()) {
      bad = true;
      return;
    }
    const std::string& digits = v->get_ref<const std::string&>();
    std::uint64_t n = 0;
    bool ok = !digits.empty() && digits.size() <= 19;
    for (char c : digits) {
      if (c < '0' || c > '9') ok = false;
      else n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (ok) s.size = n;
    else bad = true;
    return;
  }
}

// The "value" array of a collection response, or an error.
result<const json*> collection(const json& body, std::string_view what, int http_status) {
  const auto it = body.find("value");
  if (it == body.end() || !it->is_array()) {
    return error{errc::unavailable, std::string(what) + " (HTTP " + std::to_string(http_status) +
                                        ") has no \"value\" array: not a Graph collection response"};
  }
  if (it->size() > max_entries_per_page) {
    return error{errc::resource_exhausted, std::string(what) + " holds more than " +
                                               std::to_string(max_entries_per_page) + " entries"};
  }
  return &*it;
}

std::string link(const json& body, std::string_view key) {
  // A link longer than this is refused later by relative_link(); keep it whole until then.
  return string_member(body, key, 64 * 1024).value_or("");
}

result<mail_folder> folder_of(const json& f) {
  auto id = string_member(f, "id");
  if (!id || id->empty()) return error{errc::unavailable, "Graph mail folder has no id"};
  mail_folder out;
  out.id = std::move(*id);
  out.display_name = string_member(f, "displayName").value_or("");
  out.parent_id = string_member(f, "parentFolderId").value_or("");
  bool bad = false;  // counts are informative: a wrong type reads as 0
  out.child_folder_count = clamp32(count_member(f, "childFolderCount", bad));
  out.unread_item_count = clamp32(count_member(f, "unreadItemCount", bad));
  out.total_item_count = clamp32(count_member(f, "totalItemCount", bad));
  return out;
}

}  // namespace

result<mailbox::message_summary> summary_of(const json& m) {
  if (!m.is_object()) return error{errc::unavailable, "Graph message is not a JSON object"};
  auto id = string_member(m, "id");
  if (!id || id->empty()) return error{errc::unavailable, "Graph message has no id"};
  message_summary s;
  bool bad = false;
  s.item_id = std::move(*id);
  s.change_key = text(m, "changeKey", bad);
  s.subject = text(m, "subject", bad);
  s.message_id = text(m, "internetMessageId", bad);
  if (const auto from = m.find("from"); from != m.end() && !from->is_null()) {
    mailbox::address a;
    if (read_recipient(*from, a)) s.from.push_back(std::move(a));
    else bad = true;
  }
  read_recipients(m, "toRecipients", s.to, bad);
  read_recipients(m, "ccRecipients", s.cc, bad);
  s.internal_date = date(m, "receivedDateTime", bad);
  s.date = date(m, "sentDateTime", bad);
  s.seen = boolean(m, "isRead", bad).value_or(false);
  if (s.seen) s.flags.push_back("\\Seen");
  if (const auto flag = m.find("flag"); flag != m.end() && !flag->is_null()) {
    bool flag_bad = !flag->is_object();
    const std::string status = flag_bad ? std::string() : text(*flag, "flagStatus", flag_bad);
    if (status == "flagged") s.flags.push_back("\\Flagged");
    bad = bad || flag_bad;
  }
  s.has_attachments = boolean(m, "hasAttachments", bad).value_or(false);
  read_size(m, s, bad);
  s.summary_incomplete = bad;
  return s;
}

result<folder_page> parse_folder_list(std::string_view body, int http_status) {
  auto parsed = parse_body(body, http_status, "Graph folder list");
  if (!parsed) return parsed.err();
  auto values = collection(parsed.value(), "Graph folder list", http_status);
  if (!values) return values.err();
  folder_page out;
  for (const json& f : *values.value()) {
    if (auto folder = folder_of(f)) out.folders.push_back(std::move(folder.value()));
  }
  out.next_link = link(parsed.value(), "@odata.nextLink");
  return out;
}

result<mail_folder> parse_folder(std::string_view body, int http_status) {
  auto parsed = parse_body(body, http_status, "Graph mail folder");
  if (!parsed) return parsed.err();
  return folder_of(parsed.value());
}

result<message_list> parse_message_list(std::string_view body, int http_status) {
  auto parsed = parse_body(body, http_status, "Graph message list");
  if (!parsed) return parsed.err();
  auto values = collection(parsed.value(), "Graph message list", http_status);
  if (!values) return values.err();
  message_list out;
  out.messages.reserve(values.value()->size());
  for (const json& m : *values.value()) {
    if (auto s = summary_of(m)) out.messages.push_back(std::move(s.value()));
  }
  out.next_link = link(parsed.value(), "@odata.nextLink");
  bool bad = false;
  out.count = count_member(parsed.value(), "@odata.count", bad);
  return out;
}

result<mailbox::message_summary> parse_message(std::string_view body, int http_status) {
  auto parsed = parse_body(body, http_status, "Graph message");
  if (!parsed) return parsed.err();
  return summary_of(parsed.value());
}

result<delta_page> parse_delta_page(std::string_view body, int http_status) {
  auto parsed = parse_body(body, http_status, "Graph delta page");
  if (!parsed) return parsed.err();
  auto values = collection(parsed.value(), "Graph delta page", http_status);
  if (!values) return values.err();
  delta_page out;
  for (const json& m : *values.value()) {
    if (!m.is_object()) continue;
    if (const auto removed = m.find("@removed"); removed != m.end()) {
      auto id = string_member(m, "id");
      if (!id || id->empty()) continue;
      out.removed.push_back({std::move(*id), string_member(*removed, "reason", 64).value_or("")});
      continue;
    }
    if (auto s = summary_of(m)) out.changed.push_back(std::move(s.value()));
  }
  out.next_link = link(parsed.value(), "@odata.nextLink");
  out.delta_link = link(parsed.value(), "@odata.deltaLink");
  if (out.next_link.empty() && out.delta_link.empty()) {
    return error{errc::unavailable, "Graph delta page (HTTP " + std::to_string(http_status) +
                                        ") has neither @odata.nextLink nor @odata.deltaLink"};
  }
  return out;
}

}  // namespace mailbroker::graph
