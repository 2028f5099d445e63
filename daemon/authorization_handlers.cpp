// SessionBroker.BeginAuthorization / CompleteAuthorization: the daemon's half of the
// authorization code + PKCE flow. The caller (the `mailbroker authorize` CLI) opens the
// browser and listens on the loopback redirect URI; the daemon keeps the verifier, checks
// `state`, redeems the code and stores the refresh token where sessions will find it.
#include <spdlog/spdlog.h>

#include "common/text.hpp"
#include "daemon/session_broker_service.hpp"
#include "session/token_request.hpp"

namespace mailbroker::daemon {
namespace {

error invalid(std::string message) { return {errc::invalid_argument, std::move(message)}; }

}  // namespace

namespace {

// What the policy names for a refresh-token key: the session ("session:NAME" → NAME) or
// the managed connection ("managed:CONN[:USER]" → "oauth2-connection:CONN").
std::string authorization_target(const std::string& key) {
  if (key.rfind("session:", 0) == 0) return key.substr(8);
  if (key.rfind("managed:", 0) == 0) {
    const auto rest = key.substr(8);
    return "oauth2-connection:" + rest.substr(0, rest.find(':'));
  }
  return key;
}

}  // namespace

grpc::ServerUnaryReactor* session_broker_service::BeginAuthorization(grpc::CallbackServerContext* context,
                                                                     const pb::BeginAuthorizationRequest* request,
                                                                     pb::BeginAuthorizationResponse* response) {
  auto who = gate_.identify(*context);
  if (!who) return finish_unary(context, who.err());
  session::session_spec spec;
  if (auto e = from_proto(request->auth(), spec); !e.ok()) return finish_unary(context, e);
  const bool managed = spec.auth == session::auth_method::oauth2_managed;
  if (spec.auth != session::auth_method::oauth2_authorization_code && !managed) {
    return finish_unary(context, invalid("auth: BeginAuthorization needs oauth2_authorization_code or oauth2_managed"));
  }
  if (!managed) {
    if (auto e = session::validate_session_name(request->session()); !e.ok()) return finish_unary(context, e);
  }
  const std::string f = session::auth_field(spec) + ".";
  // A managed connection needs a user only when its tokens are per user (checked below).
  if (auto e = session::normalise_auth(spec, &registry_.oauth2_connections(), /*require_username=*/!managed); !e.ok()) {
    return finish_unary(context, e);
  }
  if (spec.oauth2.grant != session::oauth2_grant::authorization_code) {
    return finish_unary(context, invalid(f + "connection '" + spec.oauth2.connection +
                                   "' uses the client credentials grant: it needs no authorization"));
  }
  if (managed && spec.oauth2.token_type == session::oauth2_token_type::per_user && spec.username.empty()) {
    return finish_unary(context, invalid(f + "username is required: connection '" + spec.oauth2.connection +
                                   "' keeps a token per user"));
  }
  if (spec.oauth2.authorize_url.empty()) {
    return finish_unary(context, invalid(f + "authorize_url is required to authorize with a custom OAuth2 server"));
  }
  if (spec.oauth2.redirect_uri.empty()) {
    return finish_unary(context, invalid(f + "redirect_uri is required for a custom OAuth2 server (a loopback http URI "
                                       "such as http://127.0.0.1:9999/callback)"));
  }

  auth::authorization_start start;
  start.authorize_url = spec.oauth2.authorize_url;
  start.redirect_uri = spec.oauth2.redirect_uri;
  start.login_hint = request->login_hint();
  if (spec.oauth2.provider == session::oauth2_provider::google) {
    // Google issues a refresh token only for offline access, and again only on consent.
    start.extra_params = {{"access_type", "offline"}, {"prompt", "consent"}};
  }
  auto token_request = session::make_token_request(spec, request->session());
  const std::string key = token_request.refresh_token_key;
  // Whoever may create the session (or use the managed connection) may authorize it: the
  // refresh token stored under `key` is what that session will log in with.
  if (auto e = gate_.require(*who, trust::permission::connect, authorization_target(key), "BeginAuthorization");
      !e.ok()) {
    return finish_unary(context, e);
  }
  if (!managed) {
    if (auto e = gate_.check_secret_to(*who, request->session(), spec.oauth2.client_secret, f + "client_secret",
                                       spec.oauth2.token_url, "BeginAuthorization");
        !e.ok()) {
      return finish_unary(context, e);
    }
  }
  gate_.note(*who, "BeginAuthorization", authorization_target(key), trust::permission::connect, "allowed");
  auto begun = flows_.begin(std::move(token_request), start);
  response->set_authorization_url(begun.url);
  response->set_redirect_uri(spec.oauth2.redirect_uri);
  response->set_state(begun.state);
  to_proto(begun.expires_at, response->mutable_expires_at());
  spdlog::info("authorize: flow started for '{}' ({} pending)", key, flows_.pending());
  return finish_unary(context, error::none());
}

grpc::ServerUnaryReactor* session_broker_service::CompleteAuthorization(
    grpc::CallbackServerContext* context, const pb::CompleteAuthorizationRequest* request,
    pb::CompleteAuthorizationResponse* response) {
  auto who = gate_.identify(*context);
  if (!who) return finish_unary(context, who.err());
  auto pending = flows_.take(request->state());
  if (!pending) return finish_unary(context, pending.err());
  const std::string key = pending->request.refresh_token_key;
  if (auto e = gate_.require(*who, trust::permission::connect, authorization_target(key), "CompleteAuthorization");
      !e.ok()) {
    return finish_unary(context, e);
  }
  if (!request->error().empty()) {
    const std::string why = clean_text(request->error(), 100) +
                            (request->error_description().empty() ? "" : ": " + clean_text(request->error_description(), 300));
    spdlog::warn("authorize: '{}' refused at the provider ({})", key, why);
    return finish_unary(context, {errc::unauthenticated, "the authorization was refused at the provider (" + why +
                                                       "): nothing was stored; run `mailbroker authorize` again"});
  }
  if (request->code().empty()) return finish_unary(context, invalid("code is required (from the redirect's query)"));

  auto* reactor = context->DefaultReactor();
  auto tokens = registry_.tokens();
  auth::authorization_code code{request->code(), pending->code_verifier, pending->redirect_uri};
  // co_spawn keeps this lambda (and so its captures) alive until the coroutine ends.
  asio::co_spawn(
      registry_.executor(),
      [reactor, response, tokens, key, request = std::move(pending->request),
       code = std::move(code)]() -> awaitable<void> {
        auto state = co_await tokens->redeem(request, code);
        if (!state) {
          spdlog::warn("authorize: '{}' not redeemed: {}", key, state.err().message);
          reactor->Finish(to_grpc_status(state.err()));
          co_return;
        }
        response->set_token_key(key);
        response->set_persisted(tokens->durable_refresh_tokens());
        if (state->valid_until) to_proto(*state->valid_until, response->mutable_access_token_valid_until());
        reactor->Finish(grpc::Status::OK);
      },
      asio::detached);
  return reactor;
}

}  // namespace mailbroker::daemon
