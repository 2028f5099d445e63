#pragma once
// The token request (grant, endpoint, client, refresh-token key) a session's OAuth2
// settings stand for; shared by sessions (to log in) and the daemon's authorization
// flow (to redeem a code under the same key the session will refresh from).
#include <string_view>

#include "auth/token_cache.hpp"
#include "session/session_spec.hpp"

namespace mailbroker::session {

// For a normalised spec with an oauth2_* auth method.
auth::token_request make_token_request(const session_spec& spec, std::string_view session_name);

}  // namespace mailbroker::session
