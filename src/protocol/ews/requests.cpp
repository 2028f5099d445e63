#include "protocol/ews/requests.hpp"

#include <algorithm>
#include <array>

#include "common/base64.hpp"
#include "protocol/ews/request_detail.hpp"
#include "protocol/ews/xml_text.hpp"

namespace mailbroker::ews {
namespace detail {
namespace {

struct distinguished_name {
  std::string_view name;
  server_version since;
};

// DistinguishedFolderId values (EWS reference "DistinguishedFolderId") a mail client
// can use, with the version that introduced each.
constexpr std::array<distinguished_name, 35> distinguished_names{{
    {"calendar", server_version::exchange2007_sp1},
    {"contacts", server_version::exchange2007_sp1},
    {"deleteditems", server_version::exchange2007_sp1},
    {"drafts", server_version::exchange2007_sp1},
    {"inbox", server_version::exchange2007_sp1},
    {"journal", server_version::exchange2007_sp1},
    {"notes", server_version::exchange2007_sp1},
    {"outbox", server_version::exchange2007_sp1},
    {"sentitems", server_version::exchange2007_sp1},
    {"tasks", server_version::exchange2007_sp1},
    {"msgfolderroot", server_version::exchange2007_sp1},
    {"publicfoldersroot", server_version::exchange2007_sp1},
    {"root", server_version::exchange2007_sp1},
    {"junkemail", server_version::exchange2007_sp1},
    {"searchfolders", server_version::exchange2007_sp1},
    {"voicemail", server_version::exchange2007_sp1},
    {"recoverableitemsroot", server_version::exchange2010_sp1},
    {"recoverableitemsdeletions", server_version::exchange2010_sp1},
    {"recoverableitemsversions", server_version::exchange2010_sp1},
    {"recoverableitemspurges", server_version::exchange2010_sp1},
    {"archiveroot", server_version::exchange2010_sp1},
    {"archivemsgfolderroot", server_version::exchange2010_sp1},
    {"archivedeleteditems", server_version::exchange2010_sp1},
    {"archiverecoverableitemsroot", server_version::exchange2010_sp1},
    {"archiverecoverableitemsdeletions", server_version::exchange2010_sp1},
    {"archiverecoverableitemsversions", server_version::exchange2010_sp1},
    {"archiverecoverableitemspurges", server_version::exchange2010_sp1},
    {"syncissues", server_version::exchange2013},
    {"conflicts", server_version::exchange2013},
    {"localfailures", server_version::exchange2013},
    {"serverfailures", server_version::exchange2013},
    {"recipientcache", server_version::exchange2013},
    {"quickcontacts", server_version::exchange2013},
    {"conversationhistory", server_version::exchange2013},
    {"todosearch", server_version::exchange2013},
}};

}  // namespace

error append_folder_id(std::string& out, server_version version, const folder_ref& folder, std::string_view field) {
  if (!folder.id.empty()) {
    out += "<t:FolderId Id=\"" + xml_escape(folder.id) + "\"";
    if (!folder.change_key.empty()) out += " ChangeKey=\"" + xml_escape(folder.change_key) + "\"";
    out += "/>";
    return error::none();
  }
  if (folder.distinguished.empty()) {
    return {errc::invalid_argument, std::string(field) + ": neither a folder id nor a distinguished folder name"};
  }
  const distinguished_name* found = nullptr;
  for (const auto& d : distinguished_names) {
    if (d.name == folder.distinguished) found = &d;
  }
  if (found == nullptr) {
    return {errc::invalid_argument, std::string(field) + ".distinguished: unknown distinguished folder name (use " +
                                        "lower-case EWS names such as inbox, msgfolderroot, sentitems, deleteditems, " +
                                        "drafts, junkemail, or a folder id)"};
  }
  if (version < found->since) {
    return {errc::failed_precondition, std::string(field) + ".distinguished: '" + std::string(found->name) +
                                           "' needs " + std::string(version_name(found->since)) +
                                           " or later; the session requests " + std::string(version_name(version))};
  }
  out += "<t:DistinguishedFolderId Id=\"" + std::string(found->name) + "\"";
  if (folder.mailbox_smtp.empty()) {
    out += "/>";
    return error::none();
  }
  if (error e = check_address(folder.mailbox_smtp, std::string(field) + ".mailbox_smtp"); !e.ok()) return e;
  out += "><t:Mailbox><t:EmailAddress>" + xml_escape(folder.mailbox_smtp) +
         "</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>";
  return error::none();
}

error append_folder_ids(std::string& out, server_version version, const std::vector<folder_ref>& folders,
                        std::string_view wrapper, std::string_view field) {
  if (folders.empty()) return {errc::invalid_argument, std::string(field) + ": no folder given"};
  if (folders.size() > max_ids_per_request) {
    return {errc::invalid_argument, std::string(field) + ": more than " + std::to_string(max_ids_per_request) +
                                        " folders in one request"};
  }
  out += "<" + std::string(wrapper) + ">";
  for (std::size_t i = 0; i < folders.size(); ++i) {
    const std::string name = std::string(field) + "[" + std::to_string(i) + "]";
    if (error e = append_folder_id(out, version, folders[i], name); !e.ok()) return e;
  }
  out += "</" + std::string(wrapper) + ">";
  return error::none();
}

void append_item_id(std::string& out, std::string_view element, const item_ref& item) {
  out += "<" + std::string(element) + " Id=\"" + xml_escape(item.id) + "\"";
  if (!item.change_key.empty()) out += " ChangeKey=\"" + xml_escape(item.change_key) + "\"";
  out += "/>";
}

error append_item_ids(std::string& out, const std::vector<item_ref>& items) {
  if (items.empty()) return {errc::invalid_argument, "items: no item id given"};
  if (items.size() > max_ids_per_request) {
    return {errc::invalid_argument, "items: more than " + std::to_string(max_ids_per_request) +
                                        " item ids in one request; split the call"};
  }
  out += "<m:ItemIds>";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].id.empty()) {
      return {errc::invalid_argument, "items[" + std::to_string(i) + "].id is empty"};
    }
    append_item_id(out, "t:ItemId", items[i]);
  }
  out += "</m:ItemIds>";
  return error::none();
}

error check_address(std::string_view address, std::string_view field) {
  const std::string name(field);
  if (address.empty()) return {errc::invalid_argument, name + " is empty"};
  if (address.size() > max_address_bytes) {
    return {errc::invalid_argument, name + " is longer than " + std::to_string(max_address_bytes) + " bytes"};
  }
  for (char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>') {
      return {errc::invalid_argument, name + " holds a space, control character or angle bracket: give the bare " +
                                          "address (local@domain)"};
    }
  }
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) {
    return {errc::invalid_argument, name + " is not an address of the form local@domain"};
  }
  return error::none();
}

}  // namespace detail

namespace {

using detail::append_folder_id;
using detail::append_folder_ids;
using detail::append_item_ids;

constexpr std::string_view folder_fields[] = {"folder:ParentFolderId", "folder:FolderClass",
                                              "folder:DisplayName",    "folder:TotalCount",
                                              "folder:ChildFolderCount", "folder:UnreadCount"};

// The summary fields of find_items(), in the order written.
std::vector<std::string_view> summary_fields(server_version version, bool recipients) {
  std::vector<std::string_view> f = {"item:Subject",  "message:From", "item:DateTimeReceived", "item:DateTimeSent",
                                     "item:Size",     "message:IsRead", "item:HasAttachments",
                                     "message:InternetMessageId"};
  if (recipients) {
    f.push_back("message:ToRecipients");
    f.push_back("message:CcRecipients");
  }
  if (version >= server_version::exchange2013) f.push_back("item:Flag");
  return f;
}

void append_shape(std::string& out, std::string_view element, const std::vector<std::string_view>& fields) {
  out += "<" + std::string(element) + "><t:BaseShape>IdOnly</t:BaseShape>";
  if (!fields.empty()) {
    out += "<t:AdditionalProperties>";
    for (std::string_view f : fields) out += "<t:FieldURI FieldURI=\"" + std::string(f) + "\"/>";
    out += "</t:AdditionalProperties>";
  }
  out += "</" + std::string(element) + ">";
}

error check_page(std::uint32_t max, std::string_view field) {
  if (max == 0 || max > max_page_size) {
    return {errc::invalid_argument, std::string(field) + " must be 1-" + std::to_string(max_page_size)};
  }
  return error::none();
}

std::string page_view(std::string_view element, std::uint32_t offset, std::uint32_t max) {
  return "<" + std::string(element) + " MaxEntriesReturned=\"" + std::to_string(max) + "\" Offset=\"" +
         std::to_string(offset) + "\" BasePoint=\"Beginning\"/>";
}

std::string field_uri(std::string_view uri) { return "<t:FieldURI FieldURI=\"" + std::string(uri) + "\"/>"; }

std::string constant(std::string_view value) { return "<t:Constant Value=\"" + xml_escape(value) + "\"/>"; }

// <t:OP><t:FieldURI/><t:FieldURIOrConstant><t:Constant/></t:FieldURIOrConstant></t:OP>
std::string compare(std::string_view op, std::string_view uri, std::string_view value) {
  return "<t:" + std::string(op) + ">" + field_uri(uri) + "<t:FieldURIOrConstant>" + constant(value) +
         "</t:FieldURIOrConstant></t:" + std::string(op) + ">";
}

std::string contains(std::string_view path_xml, std::string_view value) {
  return "<t:Contains ContainmentMode=\"Substring\" ContainmentComparison=\"IgnoreCase\">" + std::string(path_xml) +
         constant(value) + "</t:Contains>";
}

result<std::string> restriction(const item_query& q) {
  for (const auto& [text, field] : {std::pair{&q.from_contains, "item_query.from_contains"},
                                    std::pair{&q.subject_contains, "item_query.subject_contains"}}) {
    if (text->size() > max_search_text_bytes) {
      return error{errc::invalid_argument,
                   std::string(field) + " is longer than " + std::to_string(max_search_text_bytes) + " bytes"};
    }
  }
  std::vector<std::string> terms;
  if (q.is_read) terms.push_back(compare("IsEqualTo", "message:IsRead", *q.is_read ? "true" : "false"));
  if (!q.from_contains.empty()) {
    // PidTagSentRepresentingEmailAddress: the address behind From (message:From matches the name).
    terms.push_back("<t:Or>" + contains(field_uri("message:From"), q.from_contains) +
                    contains("<t:ExtendedFieldURI PropertyTag=\"0x0065\" PropertyType=\"String\"/>", q.from_contains) +
                    "</t:Or>");
  }
  if (!q.subject_contains.empty()) terms.push_back(contains(field_uri("item:Subject"), q.subject_contains));
  if (q.since) terms.push_back(compare("IsGreaterThanOrEqualTo", "item:DateTimeReceived", format_xs_datetime(*q.since)));
  if (q.before) terms.push_back(compare("IsLessThan", "item:DateTimeReceived", format_xs_datetime(*q.before)));
  if (terms.empty()) return std::string();
  std::string out = "<m:Restriction>";
  if (terms.size() > 1) out += "<t:And>";
  for (const std::string& t : terms) out += t;
  if (terms.size() > 1) out += "</t:And>";
  out += "</m:Restriction>";
  return out;
}

result<std::string> move_or_copy(std::string_view operation, server_version version,
                                 const std::vector<item_ref>& items, const folder_ref& target) {
  std::string out = "<m:" + std::string(operation) + "><m:ToFolderId>";
  if (error e = append_folder_id(out, version, target, "target"); !e.ok()) return e;
  out += "</m:ToFolderId>";
  if (error e = append_item_ids(out, items); !e.ok()) return e;
  if (require(version, feature::return_new_item_ids).ok()) out += "<m:ReturnNewItemIds>true</m:ReturnNewItemIds>";
  out += "</m:" + std::string(operation) + ">";
  return out;
}

// <m:CreateItem MessageDisposition=...>[<m:SavedItemFolderId>...]<m:Items>
error open_create_item(std::string& out, server_version version, bool save_copy, const folder_ref& sent) {
  out += save_copy ? "<m:CreateItem MessageDisposition=\"SendAndSaveCopy\">"
                   : "<m:CreateItem MessageDisposition=\"SendOnly\">";
  if (save_copy) {
    out += "<m:SavedItemFolderId>";
    const folder_ref sent_items{"", "", "sentitems", ""};
    if (error e = append_folder_id(out, version, sent.empty() ? sent_items : sent, "sent"); !e.ok()) return e;
    out += "</m:SavedItemFolderId>";
  }
  out += "<m:Items>";
  return error::none();
}

}  // namespace

std::string envelope(const request_context& context, std::string_view body_xml) {
  std::string out = "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"";
  out += ns_soap;
  out += "\" xmlns:m=\"";
  out += ns_messages;
  out += "\" xmlns:t=\"";
  out += ns_types;
  out += "\"><soap:Header><t:RequestServerVersion Version=\"";
  out += version_name(context.version);
  out += "\"/>";
  if (!context.impersonate_smtp.empty()) {
    out += "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>" + xml_escape(context.impersonate_smtp) +
           "</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>";
  }
  if (!context.time_zone_id.empty() && require(context.version, feature::time_zone_context).ok()) {
    out += "<t:TimeZoneContext><t:TimeZoneDefinition Id=\"" + xml_escape(context.time_zone_id) +
           "\"/></t:TimeZoneContext>";
  }
  out += "</soap:Header><soap:Body>";
  out += body_xml;
  out += "</soap:Body></soap:Envelope>";
  return out;
}

result<std::string> get_folder(server_version version, const std::vector<folder_ref>& folders) {
  std::string out = "<m:GetFolder>";
  append_shape(out, "m:FolderShape", {std::begin(folder_fields), std::end(folder_fields)});
  if (error e = append_folder_ids(out, version, folders, "m:FolderIds", "folders"); !e.ok()) return e;
  out += "</m:GetFolder>";
  return out;
}

result<std::string> find_folder(server_version version, const folder_ref& parent, bool deep, std::uint32_t offset,
                                std::uint32_t max) {
  if (error e = check_page(max, "max"); !e.ok()) return e;
  std::string out = deep ? "<m:FindFolder Traversal=\"Deep\">" : "<m:FindFolder Traversal=\"Shallow\">";
  append_shape(out, "m:FolderShape", {std::begin(folder_fields), std::end(folder_fields)});
  out += page_view("m:IndexedPageFolderView", offset, max);
  if (error e = append_folder_ids(out, version, {parent}, "m:ParentFolderIds", "parent"); !e.ok()) return e;
  out += "</m:FindFolder>";
  return out;
}

result<std::string> find_items(server_version version, const folder_ref& folder, const item_query& query) {
  if (error e = check_page(query.max, "item_query.max"); !e.ok()) return e;
  auto where = restriction(query);
  if (!where) return where.err();
  std::string out = "<m:FindItem Traversal=\"Shallow\">";
  append_shape(out, "m:ItemShape", summary_fields(version, false));
  out += page_view("m:IndexedPageItemView", query.offset, query.max);
  out += *where;
  out += query.newest_first ? "<m:SortOrder><t:FieldOrder Order=\"Descending\">"
                            : "<m:SortOrder><t:FieldOrder Order=\"Ascending\">";
  out += field_uri("item:DateTimeReceived") + "</t:FieldOrder></m:SortOrder>";
  if (error e = append_folder_ids(out, version, {folder}, "m:ParentFolderIds", "folder"); !e.ok()) return e;
  out += "</m:FindItem>";
  return out;
}

result<std::string> get_items(server_version version, const std::vector<item_ref>& items, bool with_mime,
                              bool summary) {
  std::vector<std::string_view> fields;
  if (summary) fields = summary_fields(version, true);
  if (with_mime) fields.push_back("item:MimeContent");
  std::string out = "<m:GetItem>";
  append_shape(out, "m:ItemShape", fields);
  if (error e = append_item_ids(out, items); !e.ok()) return e;
  out += "</m:GetItem>";
  return out;
}

result<std::string> set_read_flag(server_version version, const std::vector<item_ref>& items,
                                  std::optional<bool> is_read, std::optional<bool> flagged) {
  if (!is_read && !flagged) return error{errc::invalid_argument, "set_read_flag: neither is_read nor flagged given"};
  if (flagged) {
    if (error e = require(version, feature::follow_up_flag); !e.ok()) return e;
  }
  std::string updates = "<t:Updates>";
  if (is_read) {
    updates += "<t:SetItemField>" + field_uri("message:IsRead") + "<t:Message><t:IsRead>" +
               (*is_read ? "true" : "false") + "</t:IsRead></t:Message></t:SetItemField>";
  }
  if (flagged) {
    updates += "<t:SetItemField>" + field_uri("item:Flag") + "<t:Message><t:Flag><t:FlagStatus>" +
               (*flagged ? "Flagged" : "NotFlagged") + "</t:FlagStatus></t:Flag></t:Message></t:SetItemField>";
  }
  updates += "</t:Updates>";
  // Checks the ids (count, empty) the same way as every other item call.
  std::string ids;
  if (error e = append_item_ids(ids, items); !e.ok()) return e;
  // With a change key the caller asked to change that version only: NeverOverwrite makes
  // Exchange refuse a stale one (ErrorIrresolvableConflict) instead of applying it anyway.
  const bool versioned = std::any_of(items.begin(), items.end(), [](const item_ref& i) { return !i.change_key.empty(); });
  std::string out = std::string("<m:UpdateItem MessageDisposition=\"SaveOnly\" ConflictResolution=\"") +
                    (versioned ? "NeverOverwrite" : "AutoResolve") + "\"><m:ItemChanges>";
  for (const item_ref& item : items) {
    out += "<t:ItemChange>";
    detail::append_item_id(out, "t:ItemId", item);
    out += updates + "</t:ItemChange>";
  }
  out += "</m:ItemChanges></m:UpdateItem>";
  return out;
}

result<std::string> move_items(server_version version, const std::vector<item_ref>& items, const folder_ref& target) {
  return move_or_copy("MoveItem", version, items, target);
}

result<std::string> copy_items(server_version version, const std::vector<item_ref>& items, const folder_ref& target) {
  return move_or_copy("CopyItem", version, items, target);
}

result<std::string> delete_items(server_version, const std::vector<item_ref>& items, delete_mode mode) {
  std::string out = "<m:DeleteItem DeleteType=\"";
  switch (mode) {
    case delete_mode::move_to_deleted_items: out += "MoveToDeletedItems"; break;
    case delete_mode::soft: out += "SoftDelete"; break;
    case delete_mode::hard: out += "HardDelete"; break;
  }
  out += "\">";
  if (error e = append_item_ids(out, items); !e.ok()) return e;
  out += "</m:DeleteItem>";
  return out;
}

result<std::string> send_mime(server_version version, std::string_view mime_bytes, bool save_copy,
                              const folder_ref& sent) {
  if (mime_bytes.empty()) return error{errc::invalid_argument, "message: empty MIME message"};
  if (mime_bytes.size() > max_send_mime_bytes) {
    return error{errc::invalid_argument, "message: larger than " + std::to_string(max_send_mime_bytes / (1024 * 1024)) +
                                             " MiB, the most one EWS request carries here"};
  }
  std::string out;
  if (error e = open_create_item(out, version, save_copy, sent); !e.ok()) return e;
  out += "<t:Message><t:MimeContent CharacterSet=\"UTF-8\">";
  out += base64_encode(mime_bytes);
  out += "</t:MimeContent></t:Message></m:Items></m:CreateItem>";
  return out;
}

result<std::string> reply(server_version version, const item_ref& item, reply_kind kind, std::string_view body_text,
                          const std::vector<std::string>& to, bool save_copy) {
  if (item.id.empty()) return error{errc::invalid_argument, "item.id is empty"};
  if (kind == reply_kind::forward && to.empty()) {
    return error{errc::invalid_argument, "to: a forward needs at least one recipient"};
  }
  if (body_text.size() > max_send_mime_bytes) {
    return error{errc::invalid_argument, "body_text: larger than " + std::to_string(max_send_mime_bytes / (1024 * 1024)) +
                                             " MiB"};
  }
  if (to.size() > max_ids_per_request) {
    return error{errc::invalid_argument, "to: more than " + std::to_string(max_ids_per_request) + " recipients"};
  }
  const std::string_view element = kind == reply_kind::reply       ? "t:ReplyToItem"
                                   : kind == reply_kind::reply_all ? "t:ReplyAllToItem"
                                                                   : "t:ForwardItem";
  std::string out;
  if (error e = open_create_item(out, version, save_copy, {}); !e.ok()) return e;
  out += "<" + std::string(element) + ">";
  if (!to.empty()) {
    out += "<t:ToRecipients>";
    for (std::size_t i = 0; i < to.size(); ++i) {
      if (error e = detail::check_address(to[i], "to[" + std::to_string(i) + "]"); !e.ok()) return e;
      out += "<t:Mailbox><t:EmailAddress>" + xml_escape(to[i]) + "</t:EmailAddress></t:Mailbox>";
    }
    out += "</t:ToRecipients>";
  }
  detail::append_item_id(out, "t:ReferenceItemId", item);
  out += "<t:NewBodyContent BodyType=\"Text\">" + xml_escape(body_text) + "</t:NewBodyContent>";
  out += "</" + std::string(element) + "></m:Items></m:CreateItem>";
  return out;
}

}  // namespace mailbroker::ews
