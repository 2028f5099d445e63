#pragma once
// EWS responses read from strings: the SOAP envelope (faults, ServerVersionInfo, one
// response message per requested thing), the response codes mapped to errc, and typed
// readers for every operation requests.hpp builds. No I/O.
//
// Parsing: pugixml with parse_default | parse_ws_pcdata_single (a subject of only spaces
// stays), never DOCTYPE processing (pugixml has none: no external entities, no entity
// expansion), after prepare_for_parse() (xml_text.hpp). Elements are matched by local
// name (the part after "m:" / "t:"), as Exchange and proxies pick prefixes freely; only
// the root must be a SOAP 1.1 or 1.2 Envelope.
//
// Bounds (a hostile server costs at most this):
//   max_envelope_bytes        body size accepted (bigger: resource_exhausted); a reply
//                             keeps one copy of it, which pugixml parses in place;
//   max_markup_tokens         '<' and '=' in a body (each tag and attribute costs pugixml
//                             a node of 40-64 bytes, so a body of "<a/><a/>..." would
//                             cost 16 times its size): at most ~64 MiB of nodes. Real
//                             responses stay far below (a FindItem page of 1000 items has
//                             ~60 000);
//   max_response_messages     response messages per envelope;
//   max_items_per_response    items / folders / events kept per response (the requests
//                             never ask for more; more is resource_exhausted);
//   max_recipients_kept       To / Cc addresses kept per item (the rest dropped, and
//                             summary_incomplete set);
//   max_text_bytes            any text field (xml_text.hpp), cut at a UTF-8 boundary.
// Depth: pugixml parses iteratively (its own stack, no recursion), and the readers here
// only descend along fixed paths, so deep nesting costs memory, not stack.
//
// Text: every string handed out went through clean_text() (xml_text.hpp): code points
// XML 1.0 forbids became U+FFFD. MimeContent bytes are the original bytes (base64).
//
// Errors are values. Envelope-level failures (not XML, not SOAP, a fault, HTTP errors)
// come from parse_envelope(); a response message's own code from error_of(). Messages
// name the cause and the server's ResponseCode; server text is included only cleaned,
// cut to 200 bytes, and never when it mentions "Authorization".
// Threading: none; a soap_reply is read by one thread at a time.
#include <pugixml.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "mailbox/message_types.hpp"
#include "protocol/ews/date_time.hpp"
#include "protocol/ews/requests.hpp"
#include "protocol/ews/version.hpp"

namespace mailbroker::ews {

inline constexpr std::size_t max_envelope_bytes = 64 * 1024 * 1024;
inline constexpr std::size_t max_markup_tokens = 1000 * 1000;
inline constexpr std::size_t max_response_messages = 1000;
inline constexpr std::size_t max_items_per_response = 1000;
inline constexpr std::size_t max_recipients_kept = 500;

// ---- Envelope ---------------------------------------------------------------------

// One m:*ResponseMessage: ResponseClass (Success | Warning | Error), ResponseCode
// ("NoError", "ErrorItemNotFound", ...; "" when it holds more than letters, digits and
// _-.:), MessageText (through clean_text), and BackOffMilliseconds from MessageXml
// (ErrorServerBusy).
// `node` is the element, valid while its soap_reply lives.
struct response_message {
  std::string response_class, response_code, message_text;
  std::uint32_t back_off_ms = 0;
  pugi::xml_node node;
};

// A parsed SOAP envelope that is not a fault. Owns the document the nodes point into:
// movable (the document stays where it is), not copyable.
struct soap_reply {
  std::unique_ptr<std::string> text;  // the prepared body, parsed in place: nodes point into it
  std::unique_ptr<pugi::xml_document> document;
  int http_status = 0;
  server_version_info server;       // from the header; empty when absent
  std::string operation;            // local name of the body's element, e.g. "FindItemResponse"
  pugi::xml_node operation_node;
  std::vector<response_message> messages;  // in order: one per requested id / operation
};

// Parses an EWS response body received with `http_status`. Errors:
//   resource_exhausted  body larger than max_envelope_bytes or with more than
//                       max_markup_tokens;
//   unauthenticated     HTTP 401 (whatever the body: the credentials were refused);
//   unavailable         empty body, not XML (an HTML error page, truncated XML: the
//                       message says so, with the HTTP status and, when printable and
//                       free of "Authorization", its first 100 bytes), a root other than
//                       a SOAP Envelope, no Body, no ResponseMessages, more than
//                       max_response_messages; HTTP 429 / 5xx without a SOAP fault;
//   permission_denied   HTTP 403 without a SOAP fault;
//   failed_precondition HTTP 3xx / 404 without a SOAP fault (the URL is not an EWS
//                       endpoint: fix the URL);
//   a soap:Fault        mapped like error_of() from the ResponseCode in its detail (or
//                       the faultcode), with the faultstring: ErrorSchemaValidation ->
//                       internal, ErrorInvalidServerVersion -> failed_precondition naming
//                       `requested` and the server's version, ErrorServerBusy ->
//                       unavailable, its BackOffMilliseconds stored in *back_off_ms_r.
// back_off_ms_r (optional) is set to 0 first, then to the fault's back-off when it has one.
result<soap_reply> parse_envelope(std::string_view body, int http_status,
                                  std::optional<server_version> requested = std::nullopt,
                                  std::uint32_t* back_off_ms_r = nullptr);

// The outcome a response message reports. ok for ResponseCode NoError (whatever the
// class). Otherwise the message is "EWS <ResponseCode>: <MessageText>" and the code:
//   not_found           ErrorItemNotFound, ErrorFolderNotFound, ErrorNonExistentMailbox,
//                       ErrorSubscriptionNotFound, ErrorExpiredSubscription,
//                       ErrorInvalidSubscription (subscribe again from the last watermark);
//   permission_denied   ErrorAccessDenied, ErrorImpersonateUserDenied,
//                       ErrorImpersonationDenied, ErrorImpersonationFailed, ErrorNotDelegate,
//                       ErrorSendAsDenied, ErrorSubscriptionAccessDenied, ErrorAccountDisabled,
//                       ErrorMessageSubmissionBlocked;
//   unavailable         ErrorServerBusy (back_off_ms kept in the message and the text),
//                       ErrorMailboxStoreUnavailable, ErrorMailboxMoveInProgress,
//                       ErrorInternalServerTransientError, ErrorConnectionFailed,
//                       ErrorTimeoutExpired, ErrorTooManyObjectsOpened,
//                       ErrorInsufficientResources, and any code containing "Transient",
//                       "Unavailable", "Busy" or "Timeout";
//   failed_precondition ErrorInvalidServerVersion, ErrorIncorrectSchemaVersion,
//                       ErrorInvalidSchemaVersionForMailboxVersion (naming `requested`);
//                       ErrorIrresolvableConflict, ErrorStaleObject, ErrorChangeKeyRequired*
//                       (the item changed since its change key was read: read it again —
//                       not aborted, which here means "outcome unknown");
//                       ErrorInvalidWatermark (too old: subscribe without one);
//                       ErrorCannotDeleteObject, ErrorMoveCopyFailed;
//                       ErrorBatchProcessingStopped (a Warning: an earlier id of the
//                       same request failed, so this one was not tried);
//   invalid_argument    ErrorInvalidId* (malformed / empty / wrong kind of id),
//                       ErrorInvalidChangeKey, ErrorInvalidSmtpAddress,
//                       ErrorInvalidRecipients, ErrorMessageSizeExceeded;
//   resource_exhausted  ErrorQuotaExceeded, ErrorExceededSubscriptionCount,
//                       ErrorExceededFindCountLimit;
//   internal            ErrorSchemaValidation, ErrorInvalidRequest (our request was
//                       wrong: a bug), and every other code.
error error_of(const response_message& message, std::optional<server_version> requested = std::nullopt);

// ---- Folders (GetFolder, FindFolder) ----------------------------------------------

struct ews_folder {
  folder_ref ref;  // id + change key
  std::string kind;  // element name: Folder, CalendarFolder, ContactsFolder, SearchFolder, TasksFolder
  std::string display_name, parent_id, folder_class;
  std::uint32_t total_count = 0, unread_count = 0, child_folder_count = 0;
  // GetFolder: this folder's outcome (its response message); the rest is empty when it
  // failed. FindFolder: always ok (a failed FindFolder is an error of the whole call).
  error status = error::none();
};

struct folder_page {
  std::vector<ews_folder> folders;
  // FindFolder's RootFolder: TotalItemsInView, IndexedPagingOffset (the offset of the
  // next page), IncludesLastItemInRange. GetFolder: folders.size(), 0, true.
  std::uint32_t total_items_in_view = 0, next_offset = 0;
  bool includes_last_item = true;
};

// For GetFolderResponse (one entry per response message, failures carried in status)
// and FindFolderResponse. Errors: another operation (internal), a failed FindFolder
// (error_of), more than max_items_per_response folders (resource_exhausted).
result<folder_page> parse_folders(const soap_reply& reply);

// ---- Items ------------------------------------------------------------------------

// Summary fields: item_id / change_key (t:ItemId), subject, from (t:From/t:Mailbox Name
// + EmailAddress: an SMTP address, or an X.500 DN for RoutingType EX), to / cc (GetItem
// only), message_id (InternetMessageId), date (DateTimeSent), internal_date
// (DateTimeReceived), size, seen (IsRead), flags ("\Seen" when read, "\Flagged" when
// Flag/FlagStatus is Flagged), has_attachments. A field present but unreadable (a date
// that is not xs:dateTime, a size that is not a number) or recipients beyond
// max_recipients_kept set summary_incomplete; absent fields stay at their defaults.
struct item_page {
  std::vector<mailbox::message_summary> items;
  std::uint32_t total_items_in_view = 0;
  std::uint32_t next_offset = 0;  // IndexedPagingOffset: pass as item_query::offset
  bool includes_last_item = true;
};

// FindItemResponse. Errors: another operation, the message's error (error_of), a
// RootFolder missing, more than max_items_per_response items.
result<item_page> parse_find_items(const soap_reply& reply);

struct fetched_item {
  error status = error::none();  // this item's response message
  mailbox::message_summary summary;  // with to / cc when asked for
  // The decoded MimeContent, byte for byte, when the item has one; a MimeContent that is
  // not base64 makes status unavailable.
  std::optional<std::string> mime;
};

// GetItemResponse: one entry per requested id, in order.
result<std::vector<fetched_item>> parse_items(const soap_reply& reply);

struct item_id_result {
  error status = error::none();
  item_ref ref;  // the new id: "" when the server returned none (Move/Copy before
                 // Exchange2010_SP1, CreateItem that sends)
};

// MoveItemResponse, CopyItemResponse, CreateItemResponse, UpdateItemResponse: one entry
// per response message with the first item id of its m:Items.
result<std::vector<item_id_result>> parse_item_ids(const soap_reply& reply);

// Any response: each message's outcome, in order (UpdateItem, DeleteItem, CreateItem
// when sending, Unsubscribe).
result<std::vector<error>> parse_statuses(const soap_reply& reply);

// ---- Notifications ------------------------------------------------------------------

struct subscription {
  std::string subscription_id;
  std::string watermark;  // pull subscriptions; "" for streaming ones
};

// SubscribeResponse. Errors: the message's error, no SubscriptionId.
result<subscription> parse_subscribe(const soap_reply& reply);

struct notification_event {
  std::string type;  // element name: NewMailEvent, CreatedEvent, MovedEvent, DeletedEvent,
                     // CopiedEvent, ModifiedEvent, StatusEvent, FreeBusyChangedEvent
  std::string watermark;  // resume here (StatusEvent too)
  std::optional<time_point> stamp;
  bool about_folder = false;  // a FolderId event (e.g. a folder was created)
  std::string item_id;        // the item, "" for folder and status events
  std::string folder_id;      // the folder itself (about_folder) or the item's ParentFolderId
  std::string old_item_id, old_folder_id;  // MovedEvent / CopiedEvent: OldItemId, OldParentFolderId
};

struct event_batch {
  std::string subscription_id, previous_watermark;
  bool more_events = false;  // GetEvents: call again at once
  std::vector<notification_event> events;
  // The watermark to resume from: the last event's, else previous_watermark.
  std::string last_watermark() const;
};

// GetEventsResponse: the Notification of its message. Errors: the message's error
// (ErrorSubscriptionNotFound / ErrorExpiredSubscription -> not_found: subscribe again
// from the last watermark), no Notification, more than max_items_per_response events.
result<event_batch> parse_events(const soap_reply& reply);

// One envelope of a GetStreamingEvents response stream.
struct streaming_chunk {
  enum class connection { unknown, ok, closed };
  connection status = connection::unknown;  // ConnectionStatus: Closed = open a new request
  std::vector<event_batch> notifications;   // one per Notification (subscription)
  // ResponseClass Error: the error (e.g. ErrorSubscriptionNotFound -> not_found) and the
  // ids listed in ErrorSubscriptionIds.
  error failure = error::none();
  std::vector<std::string> error_subscription_ids;
};

// GetStreamingEventsResponse. Errors: another operation, more than
// max_items_per_response events or notifications in all.
result<streaming_chunk> parse_streaming_chunk(const soap_reply& reply);

// Exchange streams one complete envelope after another in a single chunked HTTP
// response. Returns the length of the first complete envelope in `buffered` (up to and
// including its closing "</prefix:Envelope>"), or 0 when none is complete yet. Callers
// keep at most max_envelope_bytes buffered.
std::size_t streaming_envelope_end(std::string_view buffered);

// ---- Autodiscover (POX) -----------------------------------------------------------

struct autodiscover_result {
  // From Account/Protocol: EXPR's EwsUrl preferred, then EXCH's (EXPR is the external
  // Outlook Anywhere endpoint, reachable from outside the organisation's network; EXCH
  // the internal one; some servers send an EXPR without EwsUrl).
  std::string ews_url;
  // Account/Action redirectAddr: ask again for this address; redirectUrl: POST the same
  // request to this URL (callers follow https only, within limits).
  std::string redirect_addr, redirect_url;
  // Response/Error: ErrorCode (e.g. "500", "600") and Message; then everything else is "".
  std::string error_code, error_message;
};

// Parses an Autodiscover POX response (schema .../autodiscover/responseschema/2006 with
// the .../outlook/responseschema/2006a Response). A response with an Error, a redirect
// or an EWS URL is ok. Errors: resource_exhausted above max_envelope_bytes or
// max_markup_tokens; unavailable
// when the body is not XML or not an Autodiscover document, or when it has none of an
// error, a redirect and an EWS URL.
result<autodiscover_result> parse_autodiscover(std::string_view body);

}  // namespace mailbroker::ews
