#include "session/credentials.hpp"

#include <algorithm>

#include "auth/token_cache.hpp"
#include "secrets/secret_ref.hpp"
#include "session/token_request.hpp"

namespace mailbroker::session {
namespace {

void wipe(std::string& secret) { std::fill(secret.begin(), secret.end(), '\0'); }

}  // namespace

awaitable<result<login_credentials>> resolve_login_credentials(session_spec spec, std::string session_name,
                                                               credential_sources sources) {
  login_credentials c;
  c.user = spec.username;
  if (spec.auth == auth_method::basic) {
    auto password = secrets::resolve(spec.password, "spec.auth.basic.password", sources.vault);
    if (!password) co_return password.err();
    c.secret = std::move(password.value());
    co_return c;
  }
  if (sources.tokens == nullptr) co_return error{errc::internal, "no token cache configured"};
  auto token = co_await sources.tokens->get(make_token_request(spec, session_name));
  if (!token) co_return token.err();
  c.secret = std::move(token.value());
  c.oauth = true;
  co_return c;
}

awaitable<result<login_credentials>> resolve_smtp_credentials(session_spec spec, std::string session_name,
                                                              credential_sources sources) {
  if (spec.smtp && spec.smtp->own_credentials) {
    auto password = secrets::resolve(spec.smtp->password, "spec.smtp.basic.password", sources.vault);
    if (!password) co_return password.err();
    login_credentials c;
    c.user = spec.smtp->username;
    c.secret = std::move(password.value());
    co_return c;
  }
  co_return co_await resolve_login_credentials(std::move(spec), std::move(session_name), sources);
}

awaitable<result<std::string>> log_in(upstream& conn, login_credentials creds) {
  if (creds.oauth) {
    auto mechanism = co_await conn.authenticate_oauth(creds.user, creds.secret);
    wipe(creds.secret);
    co_return mechanism;
  }
  error e = co_await conn.login(creds.user, creds.secret);
  wipe(creds.secret);
  if (!e.ok()) co_return e;
  co_return std::string();
}

}  // namespace mailbroker::session
