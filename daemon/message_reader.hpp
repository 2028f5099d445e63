#pragma once
// Reads one whole message through the lease's session queue, for calls that need all of
// it (parsing, attachments, reply, forward). A backend with partial reads (IMAP): one 1 MiB
// partial FETCH per queue turn, so other bots' calls interleave; others (POP3 RETR, EWS
// GetItem MimeContent): one read. Refuses messages above
// mailbox::max_whole_message_bytes (failed_precondition).
#include <cstdint>
#include <functional>
#include <string>

#include "common/error.hpp"
#include "mailbox/message_types.hpp"
#include "session/session_registry.hpp"

namespace mailbroker::daemon {

// `done` runs once, on the session's strand (or at once on the calling thread when the
// first operation cannot be queued), with the message or why not.
void read_whole_message(session::session_registry& registry, std::string lease_id, std::string folder,
                        mailbox::message_ref ref, std::function<void(result<std::string>)> done);

}  // namespace mailbroker::daemon
