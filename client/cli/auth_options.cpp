#include "client/cli/auth_options.hpp"

#include "client/cli/exit_codes.hpp"
#include "client/cli/password.hpp"

namespace mailbroker::cli {
namespace {

void add_scopes(const std::string& text, google::protobuf::RepeatedPtrField<std::string>* out) {
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    if (space != 0) out->Add(std::string(rest.substr(0, space)));
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
}

// Provider, cloud, tenant, endpoints and scopes: the fields both OAuth2 messages share.
template <class Message>
std::optional<int> fill_common(const invocation& inv, std::string_view command, Message* m) {
  const auto token_url = inv.args.value("--oauth2-token-url");
  const auto provider = inv.args.value("--oauth2-provider").value_or(token_url ? "custom" : "microsoft");
  // Refused combinations are sent as asked: the daemon explains the refusal.
  if (provider == "microsoft") m->set_provider(pb::OAUTH2_PROVIDER_MICROSOFT);
  else if (provider == "custom") m->set_provider(pb::OAUTH2_PROVIDER_CUSTOM);
  else if (provider == "google") m->set_provider(pb::OAUTH2_PROVIDER_GOOGLE);
  else if (provider == "yahoo") m->set_provider(pb::OAUTH2_PROVIDER_YAHOO);
  else if (provider == "msn") m->set_provider(pb::OAUTH2_PROVIDER_MSN);
  else return usage_error(command, "--oauth2-provider: '" + provider + "' is not one of microsoft, google, custom");
  const auto cloud = inv.args.value("--oauth2-cloud").value_or("global");
  if (cloud == "global") m->set_cloud(pb::AZURE_CLOUD_GLOBAL);
  else if (cloud == "us-gcc-high") m->set_cloud(pb::AZURE_CLOUD_US_GCC_HIGH);
  else return usage_error(command, "--oauth2-cloud: '" + cloud + "' is not one of global, us-gcc-high");
  m->set_client_id(inv.args.value("--oauth2-client-id").value_or(""));
  m->set_tenant_id(inv.args.value("--oauth2-tenant").value_or(""));
  m->set_token_url(token_url.value_or(""));
  m->set_token_ca_file(inv.args.value("--oauth2-token-ca-file").value_or(""));
  if (auto scopes = inv.args.value("--oauth2-scope")) add_scopes(*scopes, m->mutable_scopes());
  return std::nullopt;
}

// The password grant (ROPC): the password sources give the user's password; the client
// secret, optional (public clients), has its own --oauth2-client-secret-* sources.
std::optional<int> fill_password_grant(const invocation& inv, std::string_view command, const std::string& user,
                                       const std::string& client_id, pb::AuthSpec* auth) {
  if (user.empty()) return usage_error(command, "--oauth2-grant password needs --user USER (who signs in)");
  auto* p = auth->mutable_oauth2_password();
  if (auto rc = fill_common(inv, command, p)) return rc;
  p->set_username(user);
  if (secret_given(inv.args, client_secret_prefix)) {
    auto secret = secret_from_args(inv.args, client_secret_prefix, "client " + client_id, command, false);
    if (!secret) return usage_error(command, secret.err().message);
    *p->mutable_client_secret() = std::move(secret.value());
  }
  auto password = password_from_args(inv.args, user);  // last: it may read stdin
  if (!password) return usage_error(command, password.err().message);
  *p->mutable_password() = std::move(password.value());
  return std::nullopt;
}

}  // namespace

std::optional<int> fill_auth(const invocation& inv, std::string_view command, const std::string& user,
                             pb::AuthSpec* auth) {
  if (secret_given(inv.args, client_secret_prefix) &&
      !(inv.args.has("--oauth2-client-id") && inv.args.value("--oauth2-grant") == "password")) {
    return usage_error(command, "--oauth2-client-secret-* only go with --oauth2-client-id and --oauth2-grant password "
                                "(the other grants take the client secret from a --password-* source)");
  }
  if (auto connection = inv.args.value("--oauth2-connection")) {
    auto* managed = auth->mutable_oauth2_managed();
    managed->set_connection(*connection);
    managed->set_username(user);
    return std::nullopt;
  }
  const auto client_id = inv.args.value("--oauth2-client-id");
  if (!client_id) {
    if (user.empty()) return usage_error(command, std::string(command) + " needs --user USER");
    auto password = password_from_args(inv.args, user);
    if (!password) return usage_error(command, password.err().message);
    auto* basic = auth->mutable_basic();
    basic->set_username(user);
    *basic->mutable_password() = std::move(password.value());
    return std::nullopt;
  }
  const auto grant = inv.args.value("--oauth2-grant").value_or("client_credentials");
  if (grant == "password") return fill_password_grant(inv, command, user, *client_id, auth);
  if (grant == "implicit") {
    // Sent as asked: the daemon refuses it and names the grant to use instead.
    auto* implicit = auth->mutable_oauth2_implicit();
    implicit->set_client_id(*client_id);
    implicit->set_tenant_id(inv.args.value("--oauth2-tenant").value_or(""));
    implicit->set_redirect_uri(inv.args.value("--oauth2-redirect-uri").value_or(""));
    return std::nullopt;
  }
  if (grant == "authorization_code") {
    auto* ac = auth->mutable_oauth2_authorization_code();
    if (auto rc = fill_common(inv, command, ac)) return rc;
    ac->set_username(user);
    ac->set_authorize_url(inv.args.value("--oauth2-authorize-url").value_or(""));
    ac->set_redirect_uri(inv.args.value("--oauth2-redirect-uri").value_or(""));
    if (auto vault = inv.args.value("--oauth2-refresh-token-vault")) ac->mutable_refresh_token()->set_vault(*vault);
    // Public clients (native apps) have no secret: a password source is optional here.
    if (password_given(inv.args)) {
      auto secret = password_from_args(inv.args, "client " + *client_id);
      if (!secret) return usage_error(command, secret.err().message);
      *ac->mutable_client_secret() = std::move(secret.value());
    }
    return std::nullopt;
  }
  if (grant != "client_credentials") {
    return usage_error(command, "--oauth2-grant: '" + grant +
                                    "' is not one of client_credentials, authorization_code, password");
  }
  auto* cc = auth->mutable_oauth2_client_credentials();
  if (auto rc = fill_common(inv, command, cc)) return rc;
  cc->set_username(user);
  auto secret = password_from_args(inv.args, "client " + *client_id);
  if (!secret) return usage_error(command, secret.err().message);
  *cc->mutable_client_secret() = std::move(secret.value());
  return std::nullopt;
}

}  // namespace mailbroker::cli
