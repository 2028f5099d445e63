// Readers for folder and item operations: GetFolder, FindFolder, FindItem, GetItem,
// Move/Copy/Create/UpdateItem ids and plain statuses.
#include <string>

#include "common/base64.hpp"
#include "protocol/ews/responses.hpp"
#include "protocol/ews/xml_nodes.hpp"
#include "protocol/ews/xml_text.hpp"

namespace mailbroker::ews {
namespace {

using detail::attribute;
using detail::child;
using detail::local_name;
using detail::raw_text;
using detail::text;

error wrong_operation(const soap_reply& reply, std::string_view expected) {
  return {errc::internal, "expected an EWS " + std::string(expected) + ", got <" + reply.operation + ">"};
}

error too_many(std::string_view what) {
  return {errc::resource_exhausted, "EWS response holds more than " + std::to_string(max_items_per_response) + " " +
                                        std::string(what)};
}

// The single message of an operation that handles one thing (FindItem, FindFolder,
// Subscribe, GetEvents).
result<const response_message*> single_message(const soap_reply& reply, std::string_view operation) {
  if (reply.operation != operation) return wrong_operation(reply, operation);
  if (reply.messages.size() != 1) {
    return detail::protocol_error("<" + reply.operation + "> with " + std::to_string(reply.messages.size()) +
                                  " response messages instead of 1");
  }
  if (error e = error_of(reply.messages.front()); !e.ok()) return e;
  return &reply.messages.front();
}

bool is_folder_element(std::string_view name) {
  return name == "Folder" || name == "CalendarFolder" || name == "ContactsFolder" || name == "SearchFolder" ||
         name == "TasksFolder";
}

ews_folder read_folder(pugi::xml_node node) {
  ews_folder f;
  f.kind = std::string(local_name(node));
  const pugi::xml_node id = child(node, "FolderId");
  f.ref.id = clean_text(attribute(id, "Id"));
  f.ref.change_key = clean_text(attribute(id, "ChangeKey"));
  f.parent_id = clean_text(attribute(child(node, "ParentFolderId"), "Id"));
  f.display_name = text(child(node, "DisplayName"));
  f.folder_class = text(child(node, "FolderClass"));
  f.total_count = detail::to_u32(raw_text(child(node, "TotalCount"))).value_or(0);
  f.child_folder_count = detail::to_u32(raw_text(child(node, "ChildFolderCount"))).value_or(0);
  f.unread_count = detail::to_u32(raw_text(child(node, "UnreadCount"))).value_or(0);
  return f;
}

// Appends the folders under `folders` (an m:Folders / t:Folders element).
error read_folders(pugi::xml_node folders, std::vector<ews_folder>& out) {
  for (pugi::xml_node n = folders.first_child(); n; n = n.next_sibling()) {
    if (n.type() != pugi::node_element || !is_folder_element(local_name(n))) continue;
    if (out.size() == max_items_per_response) return too_many("folders");
    out.push_back(read_folder(n));
  }
  return error::none();
}

std::vector<mailbox::address> read_mailboxes(pugi::xml_node list, bool& incomplete) {
  std::vector<mailbox::address> out;
  for (pugi::xml_node m = list.first_child(); m; m = m.next_sibling()) {
    if (m.type() != pugi::node_element || local_name(m) != "Mailbox") continue;
    if (out.size() == max_recipients_kept) {
      incomplete = true;
      break;
    }
    out.push_back({text(child(m, "Name")), text(child(m, "EmailAddress"))});
  }
  return out;
}

// A date field: nullopt when absent; summary_incomplete when present but unreadable.
std::optional<time_point> read_date(pugi::xml_node node, bool& incomplete) {
  if (!node) return std::nullopt;
  auto t = parse_xs_datetime(raw_text(node));
  if (!t) incomplete = true;
  return t;
}

mailbox::message_summary read_summary(pugi::xml_node item) {
  mailbox::message_summary s;
  bool incomplete = false;
  const pugi::xml_node id = child(item, "ItemId");
  s.item_id = clean_text(attribute(id, "Id"));
  s.change_key = clean_text(attribute(id, "ChangeKey"));
  s.subject = text(child(item, "Subject"));
  s.message_id = text(child(item, "InternetMessageId"));
  if (const pugi::xml_node from = child(item, "From")) s.from = read_mailboxes(from, incomplete);
  s.to = read_mailboxes(child(item, "ToRecipients"), incomplete);
  s.cc = read_mailboxes(child(item, "CcRecipients"), incomplete);
  s.date = read_date(child(item, "DateTimeSent"), incomplete);
  s.internal_date = read_date(child(item, "DateTimeReceived"), incomplete);
  if (const pugi::xml_node size = child(item, "Size")) {
    const auto v = detail::to_u64(raw_text(size));
    if (v) s.size = *v;
    else incomplete = true;
  }
  if (const pugi::xml_node read = child(item, "IsRead")) {
    const auto v = detail::to_bool(raw_text(read));
    if (v) s.seen = *v;
    else incomplete = true;
  }
  if (const pugi::xml_node att = child(item, "HasAttachments")) {
    const auto v = detail::to_bool(raw_text(att));
    if (v) s.has_attachments = *v;
    else incomplete = true;
  }
  if (s.seen) s.flags.push_back("\\Seen");
  if (raw_text(child(child(item, "Flag"), "FlagStatus")) == "Flagged") s.flags.push_back("\\Flagged");
  s.summary_incomplete = incomplete;
  return s;
}

// The first element child of an m:Items element: the item (Message, MeetingRequest, ...).
pugi::xml_node first_item(pugi::xml_node items) {
  for (pugi::xml_node n = items.first_child(); n; n = n.next_sibling()) {
    if (n.type() == pugi::node_element) return n;
  }
  return {};
}

// Removes the white space some servers and proxies fold base64 with.
std::string without_space(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
  }
  return out;
}

}  // namespace

result<folder_page> parse_folders(const soap_reply& reply) {
  folder_page page;
  if (reply.operation == "FindFolderResponse") {
    auto message = single_message(reply, "FindFolderResponse");
    if (!message) return message.err();
    const pugi::xml_node root = child((*message)->node, "RootFolder");
    if (!root) return detail::protocol_error("FindFolder response without RootFolder");
    page.total_items_in_view = detail::to_u32(attribute(root, "TotalItemsInView")).value_or(0);
    page.next_offset = detail::to_u32(attribute(root, "IndexedPagingOffset")).value_or(0);
    page.includes_last_item = detail::to_bool(attribute(root, "IncludesLastItemInRange")).value_or(true);
    if (error e = read_folders(child(root, "Folders"), page.folders); !e.ok()) return e;
    return page;
  }
  if (reply.operation != "GetFolderResponse") return wrong_operation(reply, "GetFolderResponse or FindFolderResponse");
  for (const response_message& m : reply.messages) {
    if (error e = error_of(m); !e.ok()) {
      ews_folder failed;
      failed.status = std::move(e);
      page.folders.push_back(std::move(failed));
      continue;
    }
    const std::size_t before = page.folders.size();
    if (error e = read_folders(child(m.node, "Folders"), page.folders); !e.ok()) return e;
    if (page.folders.size() == before) {
      ews_folder missing;
      missing.status = detail::protocol_error("GetFolder success without a folder");
      page.folders.push_back(std::move(missing));
    }
  }
  page.total_items_in_view = static_cast<std::uint32_t>(page.folders.size());
  return page;
}

result<item_page> parse_find_items(const soap_reply& reply) {
  auto message = single_message(reply, "FindItemResponse");
  if (!message) return message.err();
  const pugi::xml_node root = child((*message)->node, "RootFolder");
  if (!root) return detail::protocol_error("FindItem response without RootFolder");
  item_page page;
  page.total_items_in_view = detail::to_u32(attribute(root, "TotalItemsInView")).value_or(0);
  page.next_offset = detail::to_u32(attribute(root, "IndexedPagingOffset")).value_or(0);
  page.includes_last_item = detail::to_bool(attribute(root, "IncludesLastItemInRange")).value_or(true);
  for (pugi::xml_node n = child(root, "Items").first_child(); n; n = n.next_sibling()) {
    if (n.type() != pugi::node_element) continue;
    if (page.items.size() == max_items_per_response) return too_many("items");
    page.items.push_back(read_summary(n));
  }
  return page;
}

result<std::vector<fetched_item>> parse_items(const soap_reply& reply) {
  if (reply.operation != "GetItemResponse") return wrong_operation(reply, "GetItemResponse");
  std::vector<fetched_item> out;
  out.reserve(reply.messages.size());
  for (const response_message& m : reply.messages) {
    fetched_item f;
    f.status = error_of(m);
    if (f.status.ok()) {
      const pugi::xml_node item = first_item(child(m.node, "Items"));
      if (!item) {
        f.status = detail::protocol_error("GetItem success without an item");
      } else {
        f.summary = read_summary(item);
        if (const pugi::xml_node mime = child(item, "MimeContent")) {
          auto bytes = base64_decode(without_space(raw_text(mime)));
          if (bytes) f.mime = std::move(*bytes);
          else f.status = detail::protocol_error("MimeContent of an item is not valid base64");
        }
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

result<std::vector<item_id_result>> parse_item_ids(const soap_reply& reply) {
  if (reply.operation != "MoveItemResponse" && reply.operation != "CopyItemResponse" &&
      reply.operation != "CreateItemResponse" && reply.operation != "UpdateItemResponse") {
    return wrong_operation(reply, "Move/Copy/Create/UpdateItemResponse");
  }
  std::vector<item_id_result> out;
  out.reserve(reply.messages.size());
  for (const response_message& m : reply.messages) {
    item_id_result r;
    r.status = error_of(m);
    if (r.status.ok()) {
      const pugi::xml_node id = child(first_item(child(m.node, "Items")), "ItemId");
      r.ref.id = clean_text(attribute(id, "Id"));
      r.ref.change_key = clean_text(attribute(id, "ChangeKey"));
    }
    out.push_back(std::move(r));
  }
  return out;
}

result<std::vector<error>> parse_statuses(const soap_reply& reply) {
  std::vector<error> out;
  out.reserve(reply.messages.size());
  for (const response_message& m : reply.messages) out.push_back(error_of(m));
  return out;
}

}  // namespace mailbroker::ews
