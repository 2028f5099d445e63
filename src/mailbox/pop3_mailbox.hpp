#pragma once
// Mailbox operations over a session's POP3 connection. POP3 has one folder (INBOX), no
// flags and no search: filters on From / Subject / Date are applied here to the header
// block of each message (TOP n 0, read once per message and cached by UIDL). uids are the
// daemon's numbers for UIDLs (session::pop3_maildrop).
//
// A POP3 server shows the maildrop as it was at login; listing() re-opens it (QUIT +
// login) when the listing is older than the session's poll interval, so new mail shows
// up. DELE takes effect at QUIT only (RFC 1939 6): delete_messages() DELEs, then re-opens
// the maildrop, and succeeds only once the QUIT that commits them said +OK.
//
// Threading: on the session's strand only.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "mailbox/imap_mailbox.hpp"
#include "net/asio.hpp"
#include "session/operation.hpp"
#include "session/pop3_maildrop.hpp"

namespace mailbroker::mailbox::pop3_ops {

// Errors for what POP3 cannot do, naming the call.
error unsupported(const std::string& what);
// not_found unless `folder` is "" or INBOX (any case).
error check_folder(const std::string& folder);

// The current listing, re-opening the maildrop first when it is older than `max_age`.
awaitable<result<std::vector<session::pop3_listing_entry>>> listing(session::connection_context& ctx,
                                                                     std::chrono::seconds max_age);

// A summary from the message's header block (has_attachments from its Content-Type).
awaitable<result<message_summary>> summary(session::connection_context& ctx, session::pop3_listing_entry entry);

awaitable<result<message_page>> list_messages(session::connection_context& ctx, list_query query);

// Uids of messages matching the criteria (read state must be "all"), ascending.
awaitable<result<std::vector<std::uint32_t>>> search_uids(session::connection_context& ctx,
                                                          imap::search_criteria criteria);

// The whole message (RETR); failed_precondition when it is larger than `max_bytes`.
awaitable<result<std::string>> retrieve(session::connection_context& ctx, std::uint32_t uid, std::uint64_t max_bytes);

// DELE each, then QUIT (commit) and log in again.
awaitable<error> delete_messages(session::connection_context& ctx, std::vector<std::uint32_t> uids);

}  // namespace mailbroker::mailbox::pop3_ops
