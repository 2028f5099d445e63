#include "session/status.hpp"

namespace mailbroker::session {

std::string_view state_name(session_state s) {
  switch (s) {
    case session_state::connecting: return "CONNECTING";
    case session_state::authenticating: return "AUTHENTICATING";
    case session_state::ready: return "READY";
    case session_state::backoff: return "BACKOFF";
    case session_state::failed: return "FAILED";
    case session_state::closed: return "CLOSED";
  }
  return "UNKNOWN";
}

}  // namespace mailbroker::session
