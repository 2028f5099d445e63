#pragma once
// Where item-protocol watches (Graph: the delta link) stand, kept across daemon restarts,
// so that after a restart the first watch of a folder reports what arrived while the
// daemon was away, once (issue 12).
//
// Semantics every implementation keeps:
// - take_saved() hands out only a position saved by a *previous* daemon process, and
//   each (session, folder) at most once per process. Within one daemon run a watch keeps
//   its "from now on" meaning: a second watch of the folder, or a watch of a folder this
//   process has already saved a position for, gets nullopt and starts fresh.
// - save() records the newest position of (session, folder); the last save wins (two
//   watches of one folder in one session both save: after a restart the first watch
//   resumes from whichever moved last).
// - Positions are bearers of mailbox state (a delta token): implementations keep them
//   sealed and never log them.
//
// Thread-safety: both calls may come from any session's strand at once. Implementations
// do no network I/O; a store write (a short SQLite transaction) may block briefly.
#include <optional>
#include <string>

namespace mailbroker::mailbox {

class watch_positions {
 public:
  virtual ~watch_positions() = default;
  // The position a previous daemon process saved for (session, folder), handed out once
  // (a second watch of the folder in this process starts fresh: it watches from now on).
  // nullopt when there is none, it was already handed out or saved over in this process,
  // or the store cannot be read (then logged).
  virtual std::optional<std::string> take_saved(const std::string& session, const std::string& folder) = 0;
  // Records where the watch stands now (called after each poll that moved it). Failures
  // are logged, not returned: the watch goes on, only its resume point is older.
  virtual void save(const std::string& session, const std::string& folder, const std::string& position) = 0;
};

}  // namespace mailbroker::mailbox
