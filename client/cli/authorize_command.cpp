// `mailbroker authorize`: the interactive OAuth2 authorization code + PKCE flow. Prints
// the authorization URL, listens on the loopback redirect URI, and lets the daemon
// redeem the code and keep the refresh token.
#include <iostream>

#include "client/authorize.hpp"
#include "client/cli/auth_options.hpp"
#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/format.hpp"

namespace mailbroker::cli {

int run_authorize(const invocation& inv) {
  const bool managed = inv.args.has("--oauth2-connection");
  auto args = positionals(inv, managed ? 0 : 1, managed ? 0 : 1,
                          managed ? "no SESSION with --oauth2-connection" : "exactly one SESSION");
  if (!args) return exit_usage;
  if (!managed && !inv.args.has("--oauth2-client-id")) {
    return usage_error("authorize", "authorize needs --oauth2-client-id ID (or --oauth2-connection NAME)");
  }
  pb::BeginAuthorizationRequest request;
  if (!managed) request.set_session((*args)[0]);
  request.set_login_hint(inv.args.value("--login-hint").value_or(""));
  // authorize is always the authorization-code grant.
  invocation patched = inv;
  if (!managed && !inv.args.has("--oauth2-grant")) patched.args.options.emplace_back("--oauth2-grant", "authorization_code");
  if (auto rc = fill_auth(patched, "authorize", inv.args.value("--user").value_or(""), request.mutable_auth())) return *rc;

  daemon_link link(inv.globals);
  pb::CompleteAuthorizationResponse response;
  const auto wait = inv.globals.timeout.value_or(std::chrono::minutes(10));
  const auto st = client::authorize(
      link.client, request,
      [](const pb::BeginAuthorizationResponse& begun) {
        std::cerr << "Open this URL in a browser and sign in:\n\n  " << begun.authorization_url() << "\n\n"
                  << "Waiting for the browser to come back to " << begun.redirect_uri() << " ...\n"
                  << std::flush;
      },
      wait, &response);
  if (!st.ok()) return link.fail(st);
  if (inv.globals.json) return print_json(response) ? exit_ok : exit_internal;
  std::cout << "authorized: refresh token stored as '" << response.token_key() << "'"
            << (response.persisted() ? "" : " (in memory only: the daemon runs without a store)") << '\n';
  if (response.has_access_token_valid_until()) {
    std::cout << "first access token valid until " << format_time(response.access_token_valid_until()) << '\n';
  }
  return exit_ok;
}

}  // namespace mailbroker::cli
