#pragma once
// EWS requests as strings: the SOAP envelope and the body of every operation the EWS
// mailbox backend sends, plus the POX Autodiscover request. No I/O: callers POST the
// result (Content-Type "text/xml; charset=utf-8") and hand the reply to responses.hpp.
//
// Shapes follow MS-OXWSCORE / MS-OXWSFOLD / MS-OXWSMSG / MS-OXWSNTIF / MS-OXWSSRCH and
// the EWS reference pages (learn.microsoft.com/exchange/client-developer/
// web-service-reference/<operation>-operation); child elements are written in schema
// order, because Exchange validates requests against messages.xsd / types.xsd and
// answers ErrorSchemaValidation otherwise.
//
// Every builder is deterministic (no whitespace between elements, attributes in a fixed
// order), so tests compare exact strings. All caller text goes through xml_escape().
// Builders take the requested server_version first: what they write depends on it
// (item:Flag from Exchange2013, ReturnNewItemIds from Exchange2010_SP1, distinguished
// folder names). Errors are invalid_argument naming the field, or failed_precondition
// from require() naming the operation and the version. Threading: none, reentrant.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "protocol/ews/date_time.hpp"
#include "protocol/ews/version.hpp"

namespace mailbroker::ews {

inline constexpr std::string_view ns_soap = "http://schemas.xmlsoap.org/soap/envelope/";
inline constexpr std::string_view ns_messages = "http://schemas.microsoft.com/exchange/services/2006/messages";
inline constexpr std::string_view ns_types = "http://schemas.microsoft.com/exchange/services/2006/types";

// Most ids in one request (GetItem, UpdateItem, MoveItem, CopyItem, DeleteItem,
// GetFolder) and the largest page FindItem / FindFolder may ask for. Exchange's own
// throttling default (EWSFindCountLimit) is 1000; exchangelib sends 100 per request.
inline constexpr std::size_t max_ids_per_request = 1000;
inline constexpr std::uint32_t max_page_size = 1000;
// Longest search string (from_contains, subject_contains) and recipient address.
inline constexpr std::size_t max_search_text_bytes = 1024;
inline constexpr std::size_t max_address_bytes = 320;
// Largest message send_mime() takes: its base64 (4/3 of this) and the envelope stay
// below max_envelope_bytes (responses.hpp), the limit we apply to bodies we read.
inline constexpr std::size_t max_send_mime_bytes = 45 * 1024 * 1024;

// ---- Envelope ---------------------------------------------------------------------

struct request_context {
  server_version version = server_version::exchange2013_sp1;
  // "" = no impersonation; otherwise the SOAP header carries <t:ExchangeImpersonation>
  // <t:ConnectingSID><t:PrimarySmtpAddress>this</...>: app-only access acting as this
  // mailbox (the account needs the ApplicationImpersonation role).
  std::string impersonate_smtp;
  // "" = none; otherwise <t:TimeZoneContext><t:TimeZoneDefinition Id="this"/> (Windows
  // zone id, e.g. "UTC"). Exchange2010 or later only: left out for Exchange2007_SP1
  // (check require(version, feature::time_zone_context) when validating settings).
  std::string time_zone_id;
};

// <?xml ...?><soap:Envelope xmlns:soap xmlns:m xmlns:t><soap:Header>
// <t:RequestServerVersion Version="..."/>[impersonation][time zone]</soap:Header>
// <soap:Body>body_xml</soap:Body></soap:Envelope>. body_xml is one of the builders'
// results and is inserted as is.
std::string envelope(const request_context& context, std::string_view body_xml);

// ---- Ids --------------------------------------------------------------------------

// A folder: by id (+ change key, optional) or by distinguished name ("inbox",
// "msgfolderroot", "sentitems", "deleteditems", "drafts", "junkemail", ...), the latter
// optionally in another mailbox (shared / delegate access: <t:Mailbox><t:EmailAddress>).
// With an id, `distinguished` and `mailbox_smtp` are ignored: the id names the mailbox.
struct folder_ref {
  std::string id, change_key;
  std::string distinguished;
  std::string mailbox_smtp;

  bool empty() const { return id.empty() && distinguished.empty(); }
};

struct item_ref {
  std::string id, change_key;  // change_key "" = not sent (the server uses the latest)
};

// ---- Folders ----------------------------------------------------------------------

// The folder properties both folder calls ask for (IdOnly + these): ParentFolderId,
// FolderClass, DisplayName, TotalCount, ChildFolderCount, UnreadCount.
// GetFolder for 1..max_ids_per_request folders.
result<std::string> get_folder(server_version version, const std::vector<folder_ref>& folders);

// FindFolder under `parent`, Traversal Deep (all descendants) or Shallow (children),
// one page: IndexedPageFolderView Offset=offset MaxEntriesReturned=max BasePoint=
// Beginning. max: 1..max_page_size.
result<std::string> find_folder(server_version version, const folder_ref& parent, bool deep, std::uint32_t offset,
                                std::uint32_t max);

// ---- Finding and reading items ----------------------------------------------------

struct item_query {
  std::optional<bool> is_read;  // nullopt = read and unread
  std::string from_contains;     // "" = any sender; case-insensitive substring
  std::string subject_contains;  // "" = any subject; case-insensitive substring
  std::optional<time_point> since;   // DateTimeReceived >= since
  std::optional<time_point> before;  // DateTimeReceived < before
  bool newest_first = false;         // sort by DateTimeReceived
  std::uint32_t offset = 0, max = 100;  // max: 1..max_page_size
};

// FindItem Traversal=Shallow in `folder`, ItemShape IdOnly + the summary fields
// FindItem can return:
//   item:Subject, message:From, item:DateTimeReceived, item:DateTimeSent, item:Size,
//   message:IsRead, item:HasAttachments, message:InternetMessageId, and item:Flag from
//   Exchange2013 (older versions do not know the property and would fail the request).
// FindItem cannot return ToRecipients / CcRecipients (or bodies, MimeContent): those
// come from get_items(summary_fields), so a FindItem summary has empty to/cc.
// Then IndexedPageItemView (Offset, MaxEntriesReturned, BasePoint=Beginning), a
// Restriction when any criterion is set (one expression, or an <t:And> of several):
//   is_read          IsEqualTo message:IsRead
//   subject_contains Contains item:Subject (Substring, IgnoreCase)
//   from_contains    Or of Contains message:From (the display name) and Contains on the
//                    sender address property PidTagSentRepresentingEmailAddress
//                    (ExtendedFieldURI PropertyTag 0x0065, String): Exchange evaluates
//                    a restriction on message:From against the name only
//   since / before   IsGreaterThanOrEqualTo / IsLessThan item:DateTimeReceived (UTC)
// and SortOrder item:DateTimeReceived Ascending (Descending when newest_first).
// Errors: max outside 1..max_page_size, a search string longer than
// max_search_text_bytes, a bad folder.
result<std::string> find_items(server_version version, const folder_ref& folder, const item_query& query);

// GetItem for 1..max_ids_per_request items, ItemShape IdOnly plus
//   summary_fields: the find_items fields + message:ToRecipients, message:CcRecipients;
//   with_mime:      item:MimeContent (the whole message, base64).
// Neither: ids only (useful to learn current change keys).
result<std::string> get_items(server_version version, const std::vector<item_ref>& items, bool with_mime,
                              bool summary_fields);

// ---- Changing items ---------------------------------------------------------------

// UpdateItem ConflictResolution=AutoResolve MessageDisposition=SaveOnly, one
// ItemChange per item with SetItemField message:IsRead (is_read) and/or item:Flag
// (flagged: FlagStatus Flagged / NotFlagged). Errors: both nullopt (nothing to change);
// flagged with a version before Exchange2013 (failed_precondition from require()).
result<std::string> set_read_flag(server_version version, const std::vector<item_ref>& items,
                                  std::optional<bool> is_read, std::optional<bool> flagged);

// MoveItem / CopyItem to `target`, with ReturnNewItemIds=true from Exchange2010_SP1 (before,
// the response carries no new ids: callers must look the items up again).
result<std::string> move_items(server_version version, const std::vector<item_ref>& items, const folder_ref& target);
result<std::string> copy_items(server_version version, const std::vector<item_ref>& items, const folder_ref& target);

// DeleteItem DeleteType=MoveToDeletedItems | SoftDelete (to the dumpster, recoverable)
// | HardDelete (gone).
enum class delete_mode { move_to_deleted_items, soft, hard };
result<std::string> delete_items(server_version version, const std::vector<item_ref>& items, delete_mode mode);

// ---- Sending ----------------------------------------------------------------------

// CreateItem MessageDisposition=SendAndSaveCopy (with SavedItemFolderId `sent`, the
// user's "sentitems" when `sent` is empty) or SendOnly, with one <t:Message><t:MimeContent
// CharacterSet="UTF-8">base64 of mime_bytes</...>. Errors: empty or larger than
// max_send_mime_bytes.
result<std::string> send_mime(server_version version, std::string_view mime_bytes, bool save_copy,
                              const folder_ref& sent);

// CreateItem with <t:ReplyToItem> / <t:ReplyAllToItem> / <t:ForwardItem>: the server
// builds the response from the original (subject prefix, quoted body, In-Reply-To and
// References, conversation index), so the reply stays in the conversation.
// Children: ToRecipients (the `to` addresses: required for forward, extra recipients
// for replies), ReferenceItemId = item, NewBodyContent BodyType=Text = body_text.
// Disposition and saved-item folder as send_mime (the user's sentitems).
// Errors: forward without recipients, an address empty / without '@' / with spaces or
// control characters / longer than max_address_bytes, an empty item id.
enum class reply_kind { reply, reply_all, forward };
result<std::string> reply(server_version version, const item_ref& item, reply_kind kind, std::string_view body_text,
                          const std::vector<std::string>& to, bool save_copy);

// ---- Notifications ----------------------------------------------------------------

// The events every subscription asks for.
inline constexpr std::string_view subscribed_events[] = {"NewMailEvent", "CreatedEvent", "MovedEvent",
                                                         "DeletedEvent"};

// Subscribe PullSubscriptionRequest on 1..max_ids_per_request folders: the event types
// above, Watermark when `watermark` is not "" (resume after the last event seen, so no
// arrival is lost across reconnects; ErrorInvalidWatermark when it is older than 30
// days), Timeout in minutes (1..1440: how long the subscription lives without GetEvents).
result<std::string> subscribe_pull(server_version version, const std::vector<folder_ref>& folders,
                                   std::string_view watermark, int timeout_minutes);

// GetEvents for a pull subscription, from `watermark` (the last one received).
result<std::string> get_events(server_version version, std::string_view subscription_id,
                               std::string_view watermark);

// Subscribe StreamingSubscriptionRequest (Exchange2010_SP1 or later) on 1..max_ids_per_request folders.
result<std::string> subscribe_streaming(server_version version, const std::vector<folder_ref>& folders);

// GetStreamingEvents for 1..200 subscriptions (Exchange's limit per connection), the
// response streaming for connection_timeout_minutes (1..30) before ConnectionStatus
// Closed. Exchange2010_SP1 or later.
result<std::string> get_streaming_events(server_version version, const std::vector<std::string>& subscription_ids,
                                         int connection_timeout_minutes);

// Unsubscribe (pull and streaming subscriptions).
result<std::string> unsubscribe(server_version version, std::string_view subscription_id);

// ---- Autodiscover (POX, not SOAP) ------------------------------------------------

// The complete body to POST to https://<host>/autodiscover/autodiscover.xml:
// <Autodiscover xmlns=".../autodiscover/outlook/requestschema/2006"><Request>
// <EMailAddress>email</EMailAddress><AcceptableResponseSchema>
// http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a
// </AcceptableResponseSchema></Request></Autodiscover>. Errors: an address that is
// empty, has no '@', spaces or control characters, or is longer than max_address_bytes.
result<std::string> autodiscover_request(std::string_view email);

}  // namespace mailbroker::ews
