#pragma once
// Where Microsoft Graph requests go: the cloud's service root, the mailbox they act on,
// folder names, percent-encoding, and the check that a link the server hands back
// (@odata.nextLink, @odata.deltaLink) stays on our service root. Pure, reentrant.
//
// Every request builder (requests.hpp) returns a URL *relative to the service root*
// ("/users/bot%40contoso.com/mailFolders/inbox/messages?$top=50"): the client prepends
// service_root(); a $batch request (batch.hpp) uses it as is, which is the form $batch
// requires.
#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::graph {

// Global: https://graph.microsoft.com (tokens from login.microsoftonline.com).
// US GCC High: https://graph.microsoft.us (tokens from login.microsoftonline.us).
// custom: any https URL (tests: the fake Graph server on loopback).
enum class cloud { global, us_gov_high, custom };

inline constexpr std::string_view global_base = "https://graph.microsoft.com";
inline constexpr std::string_view us_gov_high_base = "https://graph.microsoft.us";
inline constexpr std::string_view api_version = "/v1.0";

// Longest user principal name / SMTP address / object id naming a mailbox, and the
// longest item or folder id a builder takes (Graph ids are ~150 bytes).
inline constexpr std::size_t max_user_bytes = 320;
inline constexpr std::size_t max_id_bytes = 1024;

// The service root, e.g. "https://graph.microsoft.com/v1.0". For `custom`, custom_base
// is an absolute https URL (http only when allow_http: plain-HTTP test servers) without
// query, fragment or userinfo; a trailing '/' is dropped. It may carry a path prefix
// ("https://127.0.0.1:8443/graph"). Errors (invalid_argument, naming "graph base URL"):
// a custom base that is empty or fails those rules; a custom_base given with a built-in
// cloud (say which one wins: neither).
result<std::string> service_root(cloud c, std::string_view custom_base = {}, bool allow_http = false);

// The token scope for app-only access to this cloud: "<base>/.default" ("https://graph.
// microsoft.com/.default"). For custom, "<scheme://authority>/.default" of custom_base.
result<std::string> default_scope(cloud c, std::string_view custom_base = {}, bool allow_http = false);

// The mailbox a session acts on: "/me" (delegated tokens: the signed-in user) when
// `user` is empty, else "/users/<user percent-encoded>" (a user's or a shared mailbox:
// app-only tokens need this form). `user` is a UPN / SMTP address or an object id.
// Errors (invalid_argument, naming "graph mailbox"): longer than max_user_bytes, a
// control character, a space, or '/' (which Graph would read as a path even encoded).
result<std::string> mailbox_root(std::string_view user);

// RFC 3986 percent-encoding of every byte except the unreserved A-Z a-z 0-9 - . _ ~ :
// safe for a path segment and for a query value alike ('+' becomes %2B, ' ' %20,
// '\'' %27, '%' %25). Upper-case hex digits.
std::string percent_encode(std::string_view bytes);

// Well-known folder names Graph accepts in place of a folder id (mailFolder resource
// type): archive, clutter, conflicts, conversationhistory, deleteditems, drafts, inbox,
// junkemail, localfailures, msgfolderroot, outbox, recoverableitemsdeletions, scheduled,
// searchfolders, sentitems, serverfailures, syncissues. Matched ignoring ASCII case;
// returns the lower-case name, or "" when `name` is not one of them.
std::string_view well_known_folder(std::string_view name);

// "<mailbox_root>/mailFolders/<folder>": a well-known name (lower-cased) or an id
// (percent-encoded). Errors: an empty folder, an id longer than max_id_bytes
// (invalid_argument naming `field`).
result<std::string> folder_path(std::string_view mailbox_root, std::string_view folder, std::string_view field);

// "<mailbox_root>/messages/<id percent-encoded>". Errors: empty or longer than
// max_id_bytes (invalid_argument naming `field`).
result<std::string> message_path(std::string_view mailbox_root, std::string_view item_id, std::string_view field);

// A link from a response (@odata.nextLink / @odata.deltaLink) as a URL relative to
// `service_root`. The link must start with service_root followed by '/' — same scheme,
// host, port and path prefix, compared exactly (Graph writes them the way we asked), so a
// hostile or confused server cannot send our bearer token to another host. Errors
// (failed_precondition naming `what`, without echoing the link): a link elsewhere, one
// longer than 16 KiB, or one with a control character, space or fragment.
result<std::string> relative_link(std::string_view service_root, std::string_view link, std::string_view what);

}  // namespace mailbroker::graph
