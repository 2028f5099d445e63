#include "auth/authorization_flows.hpp"

#include <algorithm>

#include "auth/form.hpp"
#include "auth/pkce.hpp"

namespace mailbroker::auth {

begun_authorization authorization_flows::begin(token_request request, const authorization_start& start) {
  auto pkce = make_pkce_pair();
  begun_authorization out;
  out.state = make_state();
  std::string scopes;
  for (const auto& s : request.scopes) scopes += (scopes.empty() ? "" : " ") + s;
  std::vector<std::pair<std::string, std::string>> params = {
      {"response_type", "code"},       {"client_id", request.client_id},
      {"redirect_uri", start.redirect_uri}, {"state", out.state},
      {"code_challenge", pkce.challenge}, {"code_challenge_method", std::string(pkce_method)}};
  if (!scopes.empty()) params.emplace_back("scope", scopes);
  if (!start.login_hint.empty()) params.emplace_back("login_hint", start.login_hint);
  for (const auto& p : start.extra_params) params.push_back(p);
  // The query uses %20 for spaces (RFC 3986), which every provider accepts.
  std::string query;
  for (const auto& [k, v] : params) query += (query.empty() ? "" : "&") + percent_encode(k) + "=" + percent_encode(v);
  out.url = start.authorize_url + (start.authorize_url.find('?') == std::string::npos ? "?" : "&") + query;

  const auto now = std::chrono::steady_clock::now();
  out.expires_at = std::chrono::system_clock::now() + ttl_;
  std::lock_guard lock(mutex_);
  expire_locked(now);
  if (flows_.size() >= max_pending) {
    auto oldest = std::min_element(flows_.begin(), flows_.end(),
                                   [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
    flows_.erase(oldest);
  }
  flows_[out.state] = flow{{std::move(request), std::move(pkce.verifier), start.redirect_uri}, now + ttl_};
  return out;
}

result<pending_authorization> authorization_flows::take(const std::string& state) {
  std::lock_guard lock(mutex_);
  expire_locked(std::chrono::steady_clock::now());
  auto it = flows_.find(state);
  if (state.empty() || it == flows_.end()) {
    return error{errc::invalid_argument,
                 "state: no pending authorization has this state (it expired after " + std::to_string(ttl_.count()) +
                     " s, was already used, or the redirect is forged): run `mailbroker authorize` again"};
  }
  auto out = std::move(it->second.data);
  flows_.erase(it);
  return out;
}

std::size_t authorization_flows::pending() const {
  std::lock_guard lock(mutex_);
  return flows_.size();
}

void authorization_flows::expire_locked(std::chrono::steady_clock::time_point now) {
  std::erase_if(flows_, [now](const auto& f) { return f.second.expires <= now; });
}

}  // namespace mailbroker::auth
