#pragma once
// The caller's half of the OAuth2 authorization code + PKCE flow, for the CLI's
// `mailbroker authorize` and the tests: BeginAuthorization, listen on the loopback
// redirect URI, hand the authorization URL to `open_browser` (print it, or drive a
// headless browser), wait for the redirect, CompleteAuthorization. The daemon keeps
// the verifier and stores the refresh token; this side only relays code and state.
#include <chrono>
#include <functional>

#include "client/broker_client.hpp"

namespace mailbroker::client {

// Errors as a grpc::Status: the daemon's, or locally INVALID_ARGUMENT (bad redirect
// URI), FAILED_PRECONDITION (cannot listen), DEADLINE_EXCEEDED (no redirect within
// `wait`).
grpc::Status authorize(broker_client& client, const pb::BeginAuthorizationRequest& request,
                       const std::function<void(const pb::BeginAuthorizationResponse&)>& open_browser,
                       std::chrono::milliseconds wait, pb::CompleteAuthorizationResponse* response);

}  // namespace mailbroker::client
