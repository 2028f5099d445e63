#pragma once
// Work that runs on a session's live connection (mailbox operations), queued per lease
// by the session (operation_queue.hpp) and run one at a time on its strand.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "session/claim_table.hpp"
#include "session/inflight_lists.hpp"
#include "session/message_cache.hpp"
#include "session/session_spec.hpp"

namespace mailbroker::imap {
class client;
}
namespace mailbroker::pop3 {
class client;
}
namespace mailbroker::ews {
class client;
}
namespace mailbroker::graph {
class client;
}

namespace mailbroker::session {

class pop3_maildrop;
class smtp_sender;

// What an operation gets: the connection and its per-connection mailbox state, which
// operations keep up to date (a new connection starts with nothing selected).
struct connection_context {
  imap::client* imap;  // exactly one of imap / pop3 / ews / graph is set, after spec.proto
  pop3::client* pop3;
  std::string& selected_mailbox;  // IMAP: modified-UTF-7 name of the SELECTed mailbox; "" = none
  std::uint32_t& uid_validity;    // IMAP: of the selected mailbox
  std::chrono::milliseconds command_timeout;
  claim_table& claims;            // the session's: outlives connections
  claim_table::lease_alive_fn lease_alive;
  const session_spec& spec;
  pop3_maildrop* maildrop;        // POP3: the session's uid numbering and header cache
  // POP3: QUIT (which commits DELEs, RFC 1939 6) and log in again; ctx.pop3 then points
  // at the new connection. An error means the session lost its connection (it reconnects).
  std::function<awaitable<error>()> reopen;
  smtp_sender* smtp;              // the SMTP leg; nullptr when the spec has none
  message_cache& cache;           // the session's: summaries and bodies, outlives connections
  inflight_lists& lists_in_flight;  // the session's: identical list calls share one listing
  ews::client* ews = nullptr;
  graph::client* graph = nullptr;
};

// Called exactly once, on the session's strand: with the live connection and
// error::none(), or with nullptr and why it will not run (session not READY, the
// connection was lost before its turn, the session is closing, the lease's queue is
// full). The operation answers its caller itself and must not throw.
using operation = std::function<awaitable<void>(connection_context* ctx, error why_not)>;

// How an operation may share the connection with others (IMAP pipelining, RFC 3501 5.5).
struct operation_traits {
  // Set for an operation that only reads in this folder (wire form, as
  // connection_context::selected_mailbox holds it): it may then run while other such
  // reads of the same folder are in flight, when that folder is selected. Empty: the
  // operation runs alone (it changes something, or needs another folder).
  std::string shared_folder;
};

}  // namespace mailbroker::session
