#include "session/token_request.hpp"

namespace mailbroker::session {

auth::token_request make_token_request(const session_spec& spec, std::string_view session_name) {
  const auto& o = spec.oauth2;
  auth::token_request r;
  r.token_url = o.token_url;
  r.client_id = o.client_id;
  r.client_secret = o.client_secret;
  r.scopes = o.scopes;
  r.ca_file = o.token_ca_file;
  r.field = auth_field(spec);
  if (o.grant == oauth2_grant::client_credentials) {
    r.grant = auth::grant_type::client_credentials;
    return r;
  }
  if (o.grant == oauth2_grant::password) {
    // The user is part of the cache key (token_request::cache_key), with the password
    // reference: two users, or two passwords of one user, never share a token.
    r.grant = auth::grant_type::password;
    r.username = spec.username;
    r.password = spec.password;
    return r;
  }
  r.grant = auth::grant_type::refresh_token;
  r.refresh_token_key = refresh_token_key(spec, session_name);
  r.initial_refresh_token = o.refresh_token;
  if (spec.auth == auth_method::oauth2_managed) {
    r.reauthorize_hint = "re-authorize with `mailbroker authorize --oauth2-connection " + o.connection +
                         (o.token_type == oauth2_token_type::per_user ? " --user " + spec.username : std::string()) +
                         "`, then Connect again";
  } else {
    r.reauthorize_hint = "re-authorize with `mailbroker authorize " + std::string(session_name) +
                         "` (with the session's --oauth2-* options), then Connect again";
  }
  return r;
}

}  // namespace mailbroker::session
