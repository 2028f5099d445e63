#pragma once
// What one IMAP connection may make the daemon hold, whatever the server sends: the
// limits of imap::client, configurable per session (session_settings) so that a hostile
// or broken server costs its own session a reconnect, never the daemon its memory.
//
// Per connection, at most (estimates as response_parser.hpp defines them):
//   - one response being read: raw <= min(parser.max_response_bytes,
//     parser.max_parsed_bytes), parsed <= parser.max_parsed_bytes;
//   - untagged responses held for the commands in flight: <= max_pending_bytes in all.
//     IDLE holds none (only the few that end it), unsolicited data with no command in
//     flight is dropped.
//   - the read buffer (net/read_buffer.hpp, <= 16 KiB).
// Past a limit the connection is dropped with an error naming it (resource_exhausted for
// max_pending_bytes, unavailable "protocol error" for the parser's limits).
#include <cstddef>

#include "protocol/imap/response_parser.hpp"

namespace mailbroker::imap {

struct client_limits {
  parser_limits parser;
  std::size_t max_pending_bytes = 128 * 1024 * 1024;
};

}  // namespace mailbroker::imap
