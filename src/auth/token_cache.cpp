#include "auth/token_cache.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "auth/form.hpp"
#include "auth/http_client.hpp"
#include "common/base64.hpp"
#include "net/tls_context.hpp"

namespace mailbroker::auth {
namespace {

using asio::redirect_error;
using steady_time = std::chrono::steady_clock::time_point;

std::string join_scopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string_view grant_name(grant_type g) {
  switch (g) {
    case grant_type::client_credentials: return "client_credentials";
    case grant_type::refresh_token: return "refresh_token";
    case grant_type::password: return "password";
  }
  return "unknown";
}

void wipe(std::string& s) { std::fill(s.begin(), s.end(), '\0'); }

// Servers may quote what they were sent in error_description.
void redact(std::string& text, const std::string& secret, std::string_view placeholder) {
  if (secret.empty()) return;
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + placeholder.size())) {
    text.replace(at, secret.size(), placeholder);
  }
}

// Who the token is for, for log lines: never a secret.
std::string subject_of(const token_request& r) {
  switch (r.grant) {
    case grant_type::client_credentials: return "client '" + r.client_id + "'";
    case grant_type::refresh_token: return "'" + r.refresh_token_key + "'";
    case grant_type::password: return "user '" + r.username + "'";
  }
  return {};
}

}  // namespace

std::string token_request::cache_key() const {
  // The secret's identity is part of the key: a wrong secret never gets a cached token.
  std::string key = std::string(grant_name(grant)) + '\n' + token_url + '\n' + client_id + '\n' +
                    secrets::identity(client_secret) + '\n' + join_scopes(scopes) + '\n' + ca_file;
  if (grant == grant_type::refresh_token) key += "\nrt:" + refresh_token_key;
  if (grant == grant_type::password) key += "\nuser:" + username + '\n' + secrets::identity(password);
  return key;
}

struct token_cache::entry {
  std::string token;
  steady_time refresh_at{};
  steady_time expires_at{};
  token_state state;
  bool in_flight = false;
  std::uint64_t generation = 0;  // bumped by every finished fetch
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  std::shared_ptr<asio::ssl::context> tls;
  key_stats stats;  // grant..subject set by the first post(); refreshes = state.refresh_count
};

token_cache::token_cache(token_cache_settings settings, std::shared_ptr<refresh_token_store> store,
                         std::shared_ptr<const secrets::vault_reader> vault)
    : settings_(settings),
      store_(store ? std::move(store) : std::make_shared<memory_refresh_token_store>()),
      vault_(std::move(vault)) {}

std::shared_ptr<token_cache::entry> token_cache::entry_for(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto& slot = entries_[key];
  if (!slot) slot = std::make_shared<entry>();
  return slot;
}

void token_cache::store_token(entry& e, fetched_token token) {
  // Caller holds mutex_.
  const auto now = std::chrono::steady_clock::now();
  const auto lifetime = token.lifetime;
  auto refresh_after = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      lifetime * settings_.refresh_at_fraction);
  // Long-lived tokens are refreshed at least min_refresh_margin before they expire.
  if (lifetime > 2 * settings_.min_refresh_margin) {
    refresh_after = std::min<std::chrono::steady_clock::duration>(refresh_after, lifetime - settings_.min_refresh_margin);
  }
  e.token = std::move(token.access_token);
  e.expires_at = now + lifetime;
  e.refresh_at = now + refresh_after;
  e.state.valid_until = std::chrono::system_clock::now() + lifetime;
  e.state.last_refresh = std::chrono::system_clock::now();
  ++e.state.refresh_count;
  e.state.last_error.reset();
}

void token_cache::forget(const token_request& request, std::string_view access_token) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(request.cache_key());
  if (it == entries_.end() || it->second->token != access_token) return;
  it->second->refresh_at = std::chrono::steady_clock::time_point{};
  it->second->expires_at = std::chrono::steady_clock::time_point{};
}

awaitable<result<std::string>> token_cache::get(token_request request) {
  const std::string key = request.cache_key();
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    std::shared_ptr<entry> e = entry_for(key);
    std::shared_ptr<asio::steady_timer> wait;
    std::uint64_t seen_generation = 0;
    {
      std::lock_guard lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      if (!e->token.empty() && now < e->refresh_at) co_return e->token;
      seen_generation = e->generation;
      if (e->in_flight) {
        wait = std::make_shared<asio::steady_timer>(executor, steady_time::max());
        e->waiters.push_back(wait);
      } else {
        e->in_flight = true;
      }
    }

    if (wait) {
      error_code ec;
      co_await wait->async_wait(redirect_error(use_awaitable, ec));
      std::lock_guard lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      if (!e->token.empty() && now < e->expires_at) co_return e->token;
      // The fetch we waited for failed: report it rather than start another one.
      if (e->generation != seen_generation && e->state.last_error) co_return *e->state.last_error;
      continue;
    }

    auto fetched = co_await fetch(request);
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;
    result<std::string> out = error{};
    {
      std::lock_guard lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      e->in_flight = false;
      ++e->generation;
      if (fetched) {
        store_token(*e, std::move(fetched.value()));
        out = e->token;
      } else {
        ++e->stats.failures;
        e->state.last_error = fetched.err();
        e->state.last_error_at = std::chrono::system_clock::now();
        // A transient failure never throws away a token that still works.
        if (!e->token.empty() && now < e->expires_at && fetched.err().code == errc::unavailable) {
          out = e->token;
        } else {
          out = fetched.err();
        }
      }
      waiters = std::move(e->waiters);
      e->waiters.clear();
    }
    for (auto& w : waiters) asio::post(w->get_executor(), [w] { w->cancel(); });
    co_return out;
  }
}

awaitable<result<std::shared_ptr<asio::ssl::context>>> token_cache::tls_for(const token_request& request) {
  auto e = entry_for(request.cache_key());
  {
    std::lock_guard lock(mutex_);
    if (e->tls) co_return e->tls;
  }
  auto ctx = net::make_client_tls_context({request.ca_file, true});
  if (!ctx) co_return ctx.err();
  std::lock_guard lock(mutex_);
  e->tls = ctx.value();
  co_return e->tls;
}

awaitable<result<token_response>> token_cache::post(const token_request& request,
                                                    std::vector<std::pair<std::string, std::string>> form) {
  auto tls = co_await tls_for(request);
  if (!tls) co_return tls.err();
  const auto e = entry_for(request.cache_key());
  {
    std::lock_guard lock(mutex_);
    if (e->stats.grant.empty()) {
      e->stats.grant = grant_name(request.grant);
      e->stats.token_url = request.token_url;
      e->stats.client_id = request.client_id;
      e->stats.subject = request.grant == grant_type::refresh_token ? request.refresh_token_key
                         : request.grant == grant_type::password    ? request.username
                                                                     : std::string();
    }
  }
  std::string authorization;
  if (request.client_secret.empty()) {
    form.emplace_back("client_id", request.client_id);  // public client (RFC 6749 4.1.3)
  } else {
    auto secret = secrets::resolve(request.client_secret, request.field + ".client_secret", vault_.get());
    if (!secret) co_return secret.err();
    // client_secret_basic (RFC 6749 2.3.1): every server must support it, Microsoft's
    // and Google's included; id and secret are form-encoded before base64.
    auto form_value = [](const std::string& v) { return form_urlencode({{"v", v}}).substr(2); };
    std::string credentials = form_value(request.client_id) + ":" + form_value(secret.value());
    authorization = "Basic " + base64_encode(credentials);
    wipe(credentials);
    wipe(secret.value());
  }
  if (!request.scopes.empty()) form.emplace_back("scope", join_scopes(request.scopes));
  std::string body = form_urlencode(form);
  for (auto& [name, value] : form) wipe(value);

  http_request_options options;
  options.tls = tls.value();
  options.timeout = settings_.request_timeout;
  auto executor = co_await asio::this_coro::executor;
  auto delay = settings_.retry_initial;
  error last{errc::unavailable, "token endpoint not tried"};
  for (int attempt = 1; attempt <= settings_.attempts; ++attempt) {
    {
      std::lock_guard lock(mutex_);
      ++requests_sent_;
      ++e->stats.requests;
    }
    auto response = co_await http_post_form(request.token_url, body, authorization, options);
    if (response) {
      auto parsed = parse_token_response(response->status, response->content_type, response->body);
      if (parsed) {
        wipe(authorization);
        wipe(body);
        co_return parsed;
      }
      last = parsed.err();
    } else {
      last = response.err();
    }
    if (last.code != errc::unavailable) break;  // only transient failures are retried
    spdlog::warn("oauth2: token request for {} failed (attempt {}/{}): {}", subject_of(request), attempt,
                 settings_.attempts, last.message);
    if (attempt < settings_.attempts) {
      asio::steady_timer t(executor, delay);
      error_code ec;
      co_await t.async_wait(redirect_error(use_awaitable, ec));
      delay *= 2;
    }
  }
  wipe(authorization);
  wipe(body);
  co_return last;
}

awaitable<result<token_cache::fetched_token>> token_cache::fetch(const token_request& request) {
  std::vector<std::pair<std::string, std::string>> form;
  std::string used_refresh_token;
  std::string used_password;
  switch (request.grant) {
    case grant_type::client_credentials:
      form.emplace_back("grant_type", "client_credentials");
      break;
    case grant_type::password: {
      auto password = secrets::resolve(request.password, request.field + ".password", vault_.get());
      if (!password) co_return password.err();
      form.emplace_back("grant_type", "password");
      form.emplace_back("username", request.username);
      used_password = std::move(password.value());
      form.emplace_back("password", used_password);
      break;
    }
    case grant_type::refresh_token: {
      auto stored = store_->load(request.refresh_token_key);
      if (!stored) co_return stored.err();
      if (stored->has_value()) {
        used_refresh_token = std::move(**stored);
      } else if (!request.initial_refresh_token.empty()) {
        auto initial = secrets::resolve(request.initial_refresh_token, request.field + ".refresh_token", vault_.get());
        if (!initial) co_return initial.err();
        used_refresh_token = std::move(initial.value());
      } else {
        co_return error{errc::failed_precondition,
                        "no refresh token for '" + request.refresh_token_key + "' yet: " + request.reauthorize_hint};
      }
      form.emplace_back("grant_type", "refresh_token");
      form.emplace_back("refresh_token", used_refresh_token);
      break;
    }
  }

  auto parsed = co_await post(request, std::move(form));
  if (!parsed) {
    error e = parsed.err();
    redact(e.message, used_refresh_token, "[refresh token]");
    redact(e.message, used_password, "[password]");
    wipe(used_password);
    if (e.code == errc::unauthenticated) {
      if (request.grant == grant_type::refresh_token && e.message.find("invalid_grant") != std::string::npos) {
        e.message = "the refresh token for '" + request.refresh_token_key + "' was rejected by " + request.token_url +
                    " (" + e.message + "): it was revoked, expired or already used; " + request.reauthorize_hint;
      } else if (request.grant == grant_type::password && e.message.find("invalid_grant") != std::string::npos) {
        e.message += " (check the username and password of " + request.username + ")";
      } else {
        e.message += " (check client_id and client_secret for " + request.token_url +
                     ", and that the secret has not expired; then Connect again)";
      }
    }
    wipe(used_refresh_token);
    co_return e;
  }
  wipe(used_password);
  auto& response = parsed.value();
  if (request.grant == grant_type::refresh_token && !response.refresh_token.empty() &&
      response.refresh_token != used_refresh_token) {
    // Rotation (RFC 6749 6, OAuth 2.1): the old token is spent. Persist the new one
    // before anything uses the access token, or a restart would strand the session.
    if (auto saved = store_->save(request.refresh_token_key, response.refresh_token); !saved.ok()) {
      wipe(response.refresh_token);
      wipe(used_refresh_token);
      co_return error{errc::internal, "cannot store the rotated refresh token for '" + request.refresh_token_key +
                                          "': " + saved.message};
    }
    spdlog::info("oauth2: rotated refresh token for {} stored", subject_of(request));
  }
  wipe(response.refresh_token);
  wipe(used_refresh_token);
  const auto lifetime = response.expires_in.value_or(settings_.default_lifetime);
  spdlog::info("oauth2: token for {} from {} ({} grant, valid {} s)", subject_of(request), request.token_url,
               grant_name(request.grant), lifetime.count());
  co_return fetched_token{std::move(response.access_token), lifetime};
}

awaitable<result<token_state>> token_cache::redeem(token_request request, authorization_code code) {
  if (request.grant != grant_type::refresh_token) {
    co_return error{errc::internal, "redeem() needs a refresh_token request"};
  }
  // Built before the co_await: g++ 12 mishandles braced temporaries in co_await operands.
  std::vector<std::pair<std::string, std::string>> form;
  form.emplace_back("grant_type", "authorization_code");
  form.emplace_back("code", code.code);
  form.emplace_back("redirect_uri", code.redirect_uri);
  form.emplace_back("code_verifier", code.code_verifier);
  auto parsed = co_await post(request, std::move(form));
  if (!parsed) co_return parsed.err();
  auto& response = parsed.value();
  if (response.refresh_token.empty()) {
    wipe(response.access_token);
    co_return error{errc::failed_precondition,
                    "the token endpoint " + request.token_url +
                        " issued no refresh token: add the offline_access scope (Microsoft) or access_type=offline "
                        "(Google), or allow the refresh_token grant for client '" + request.client_id + "'"};
  }
  if (auto saved = store_->save(request.refresh_token_key, response.refresh_token); !saved.ok()) {
    wipe(response.refresh_token);
    co_return error{errc::internal,
                    "cannot store the refresh token for '" + request.refresh_token_key + "': " + saved.message};
  }
  wipe(response.refresh_token);
  spdlog::info("oauth2: authorization for {} redeemed; refresh token stored", subject_of(request));
  auto e = entry_for(request.cache_key());
  std::lock_guard lock(mutex_);
  store_token(*e, {std::move(response.access_token), response.expires_in.value_or(settings_.default_lifetime)});
  co_return e->state;
}

token_state token_cache::state(const token_request& request) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(request.cache_key());
  return it == entries_.end() ? token_state{} : it->second->state;
}

std::vector<token_cache::key_stats> token_cache::stats() const {
  std::lock_guard lock(mutex_);
  std::vector<key_stats> out;
  for (const auto& [key, e] : entries_) {
    if (e->stats.requests == 0) continue;
    out.push_back(e->stats);
    out.back().refreshes = e->state.refresh_count;
  }
  return out;
}

std::uint64_t token_cache::requests_sent() const {
  std::lock_guard lock(mutex_);
  return requests_sent_;
}

}  // namespace mailbroker::auth
