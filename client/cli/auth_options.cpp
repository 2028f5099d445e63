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

}  // namespace

std::optional<int> fill_auth(const invocation& inv, std::string_view command, const std::string& user,
                             pb::AuthSpec* auth) {
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
    return usage_error(command, "--oauth2-grant: '" + grant + "' is not one of client_credentials, authorization_code");
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
