#pragma once
// The CLI's exit codes. Scripts branch on them, so they are part of the interface
// (documented in `mailbroker --help`); never renumber.

namespace mailbroker::cli {

enum exit_code : int {
  exit_ok = 0,
  exit_internal = 1,     // a bug or an unexpected local failure
  exit_usage = 2,        // bad flags, password on argv, CLI-side secret unreadable
  exit_rpc_error = 3,    // the daemon answered with an error status
  exit_unreachable = 4,  // the daemon could not be reached at all
  exit_deadline = 5,     // DEADLINE_EXCEEDED (--timeout or the daemon's own wait)
  exit_partial = 6,      // send/reply/forward: sent, but the server refused some recipients
};

}  // namespace mailbroker::cli
