#pragma once
// Microsoft Graph mail requests as values: method, URL relative to the service root
// (endpoints.hpp), headers and JSON body. No I/O: the client sends them (or packs up to
// 20 into a $batch, batch.hpp) and hands the reply to responses.hpp / errors.hpp.
//
// Shapes follow the Graph v1.0 reference (learn.microsoft.com/graph/api/<operation>):
// user-list-messages, mailfolder-list-childfolders, message-update, message-move,
// message-copy, message-delete, message-permanentdelete, user-sendmail, message-reply,
// message-replyall, message-forward, message-delta, message-get ($value).
//
// Every builder is deterministic (query options in a fixed order, JSON members in
// alphabetical order: nlohmann::json keeps objects in a std::map; Graph reads any order)
// so tests compare exact strings. Query values are percent-encoded (endpoints.hpp
// percent_encode); OData string literals double their single quotes first. `mailbox_root`
// is mailbox_root()'s result ("/me" or "/users/..."). Errors are invalid_argument naming
// the field. Threading: none, reentrant.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "protocol/graph/json_text.hpp"

namespace mailbroker::graph {

struct request {
  std::string method;  // "GET", "POST", "PATCH", "DELETE"
  std::string url;     // relative to the service root, starting with '/'
  // Extra headers besides Authorization (the client's), e.g. {"Prefer", "odata.maxpagesize=50"}.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // of `body`: "application/json", "text/plain" (base64 MIME) or ""
  std::string body;          // "" = none
};

// Most items one listing page may ask for ($top on messages and mailFolders; Graph
// allows up to 1000 for messages) and the largest delta page (Prefer: odata.maxpagesize).
inline constexpr std::uint32_t max_page_size = 1000;
// Longest text a filter compares (from, subject) and longest recipient address.
inline constexpr std::size_t max_filter_text_bytes = 1024;
inline constexpr std::size_t max_address_bytes = 320;
inline constexpr std::size_t max_recipients = 500;
// Largest message send_mime() takes (its base64 is 4/3 of this; Graph refuses a sendMail
// body over 4 MB anyway, larger messages need an upload session, which is not built).
inline constexpr std::size_t max_send_mime_bytes = 3 * 1024 * 1024;
// Longest reply / forward comment and sendMail body text.
inline constexpr std::size_t max_comment_bytes = 1024 * 1024;

// The message properties every listing, get and delta asks for ($select), in this order:
// id, changeKey, subject, from, toRecipients, ccRecipients, receivedDateTime,
// sentDateTime, isRead, flag, hasAttachments, internetMessageId. They fill every field of
// mailbox::message_summary (responses.hpp says how); the message size is no Graph property
// and comes from the MAPI property PR_MESSAGE_SIZE when asked for (with_size).
inline constexpr std::string_view summary_select =
    "id,changeKey,subject,from,toRecipients,ccRecipients,receivedDateTime,sentDateTime,isRead,flag,"
    "hasAttachments,internetMessageId";
// $expand of the size as a single-value extended property (PidTagMessageSize, 0x0E08).
inline constexpr std::string_view size_expand = "singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')";

// An OData string literal: 'text' with each ' doubled ("O'Brien" -> 'O''Brien').
std::string odata_string(std::string_view text);

// ---- Folders ------------------------------------------------------------------------

// GET <root>/mailFolders?$top=N (parent "": the top of the mailbox) or
// <root>/mailFolders/<parent>/childFolders?$top=N, with $select=id,displayName,
// parentFolderId,childFolderCount,unreadItemCount,totalItemCount. top: 1..max_page_size.
result<request> list_folders(std::string_view mailbox_root, std::string_view parent, std::uint32_t top);

// GET <root>/mailFolders/<folder> with the same $select: resolves a well-known name to
// its id (and checks that a folder exists).
result<request> get_folder(std::string_view mailbox_root, std::string_view folder);

// ---- Listing and reading messages ---------------------------------------------------

struct message_query {
  std::optional<bool> is_read;        // nullopt = read and unread
  std::string from;                   // "" = any sender; see list_messages
  std::string subject_contains;       // "" = any subject
  std::optional<time_point> since;    // receivedDateTime >= since
  std::optional<time_point> before;   // receivedDateTime < before
  bool newest_first = false;
  std::uint32_t top = 100;            // page size: 1..max_page_size
  std::uint32_t skip = 0;             // $skip: the matches before the page (paging; 0 = none)
  bool with_size = false;             // $expand the size (costs the server a property read)
};

// GET <root>/mailFolders/<folder>/messages?$select=<summary_select>[&$expand=<size_expand>]
// [&$filter=...]&$orderby=receivedDateTime asc|desc&$top=N[&$skip=M].
//
// $filter, the clauses joined by " and ", in this order:
//   receivedDateTime ge <since>      (always first when any clause is present, with
//                                     1900-01-01T00:00:00Z when `since` is unset: Exchange
//                                     refuses a $filter + $orderby whose $orderby property
//                                     is not the first one filtered — "InefficientFilter")
//   receivedDateTime lt <before>
//   isRead eq true|false
//   from/emailAddress/address eq '<from>'               (from holds '@': a whole address;
//                                                        Exchange compares ignoring case)
//   (contains(from/emailAddress/address,'<from>') or contains(from/emailAddress/name,'<from>'))
//                                                       (otherwise: part of a name or address)
//   contains(subject,'<subject_contains>')
// Why $filter and not $search for the subject: $search cannot be combined with $filter
// or $orderby on messages, returns at most 1000 results ordered by sent date, and reads a
// search index that lags behind new arrivals — a bot waiting for a subject would miss the
// message that just came in.
// Errors: top outside 1..max_page_size; from / subject longer than max_filter_text_bytes
// or holding control characters; since >= before.
result<request> list_messages(std::string_view mailbox_root, std::string_view folder, const message_query& query);

// GET <root>/messages/<id>?$select=<summary_select>[&$expand=<size_expand>].
result<request> get_message(std::string_view mailbox_root, std::string_view item_id, bool with_size);

// GET <root>/messages/<id>/$value: the message's MIME (RFC 5322) bytes as the body.
result<request> get_mime(std::string_view mailbox_root, std::string_view item_id);

// ---- Changing messages --------------------------------------------------------------

// PATCH <root>/messages/<id> with {"isRead":b} and/or {"flag":{"flagStatus":"flagged"|
// "notFlagged"}}. Errors: both nullopt (nothing to change).
result<request> update_message(std::string_view mailbox_root, std::string_view item_id, std::optional<bool> is_read,
                               std::optional<bool> flagged);

// POST <root>/messages/<id>/move | copy with {"destinationId":"<folder id or well-known
// name>"}. The reply is the message in its new folder, with its new id (parse_message).
result<request> move_message(std::string_view mailbox_root, std::string_view item_id, std::string_view destination);
result<request> copy_message(std::string_view mailbox_root, std::string_view item_id, std::string_view destination);

// DELETE <root>/messages/<id> (to Deleted Items) or, permanent, POST
// <root>/messages/<id>/permanentDelete (gone, not recoverable by the user).
result<request> delete_message(std::string_view mailbox_root, std::string_view item_id, bool permanent);

// ---- Sending --------------------------------------------------------------------------

struct recipient {
  std::string name;     // "" = none
  std::string address;  // local@domain
};

struct outgoing_message {
  std::string subject;
  std::string body;
  bool body_is_html = false;  // contentType "HTML" instead of "Text"
  std::vector<recipient> to, cc, bcc;
};

// POST <root>/sendMail with {"message":{"subject","body":{"contentType","content"},
// "toRecipients","ccRecipients","bccRecipients"},"saveToSentItems":b} (empty lists left
// out). Errors: no recipient at all; an address empty / without '@' / with spaces or
// control characters / longer than max_address_bytes; more than max_recipients; a body
// longer than max_comment_bytes.
result<request> send_mail(std::string_view mailbox_root, const outgoing_message& message, bool save_to_sent_items);

// POST <root>/sendMail, Content-Type text/plain, the body the base64 of mime_bytes (no
// line breaks). Graph always saves a copy in Sent Items for a MIME send: there is no
// saveToSentItems with MIME. Errors: empty, or larger than max_send_mime_bytes.
result<request> send_mime(std::string_view mailbox_root, std::string_view mime_bytes);

// POST <root>/messages/<id>/reply | replyAll | forward with {"comment":"..."} and the
// recipients: forward {"comment","toRecipients":[...]} (required); reply / replyAll with
// `to` {"comment","message":{"toRecipients":[...]}}, which Graph takes as the reply's
// To line instead of the original sender (the caller includes whom it wants). The server
// builds the response from the original (subject prefix, quoted body, In-Reply-To,
// References, conversation), so it stays in the conversation, and saves it in Sent Items.
// Errors: forward without recipients; bad addresses as send_mail; a comment longer than
// max_comment_bytes.
enum class reply_kind { reply, reply_all, forward };
result<request> reply(std::string_view mailbox_root, std::string_view item_id, reply_kind kind,
                      std::string_view comment, const std::vector<recipient>& to);

// ---- Delta (watching a folder) --------------------------------------------------------

// GET <root>/mailFolders/<folder>/messages/delta?$select=<summary_select>
// [&changeType=created] with header Prefer: odata.maxpagesize=<page_size>: the first
// round of a delta sync (every message now in the folder, then a deltaLink). Later
// rounds GET the @odata.deltaLink (relative_link, endpoints.hpp), which keeps these
// options. created_only: later rounds report only new messages (not read-state changes
// or removals). page_size: 1..max_page_size.
result<request> delta(std::string_view mailbox_root, std::string_view folder, std::uint32_t page_size,
                      bool created_only);

// A GET of a link relative_link() returned (next page, delta round), with the same
// Prefer header for a delta round (page_size 0: none).
request follow(std::string relative_url, std::uint32_t page_size = 0);

}  // namespace mailbroker::graph
