#include "client/authorize.hpp"

#include "client/loopback_redirect.hpp"

namespace mailbroker::client {
namespace {

grpc::Status to_status(const error& e) {
  switch (e.code) {
    case errc::invalid_argument: return {grpc::StatusCode::INVALID_ARGUMENT, e.message};
    case errc::deadline_exceeded: return {grpc::StatusCode::DEADLINE_EXCEEDED, e.message};
    default: return {grpc::StatusCode::FAILED_PRECONDITION, e.message};
  }
}

}  // namespace

grpc::Status authorize(broker_client& client, const pb::BeginAuthorizationRequest& request,
                       const std::function<void(const pb::BeginAuthorizationResponse&)>& open_browser,
                       std::chrono::milliseconds wait, pb::CompleteAuthorizationResponse* response) {
  pb::BeginAuthorizationResponse begun;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (auto st = client.stub().BeginAuthorization(&context, request, &begun); !st.ok()) return st;
  }
  auto listener = loopback_redirect::listen(begun.redirect_uri());
  if (!listener) return to_status(listener.err());
  open_browser(begun);
  auto redirect = listener.value()->wait(begun.state(), wait);
  if (!redirect) return to_status(redirect.err());

  pb::CompleteAuthorizationRequest complete;
  complete.set_state(redirect->state);
  complete.set_code(redirect->code);
  complete.set_error(redirect->error);
  complete.set_error_description(redirect->error_description);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return client.stub().CompleteAuthorization(&context, complete, response);
}

}  // namespace mailbroker::client
