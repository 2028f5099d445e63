#include "auth/token_cache.hpp"

#include <spdlog/spdlog.h>

#include "auth/form.hpp"
#include "common/base64.hpp"
#include "auth/http_client.hpp"
#include "auth/token_response.hpp"
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

}  // namespace

struct token_cache::entry {
  std::string token;
  steady_time refresh_at{};
  steady_time expires_at{};
  token_state state;
  bool in_flight = false;
  std::uint64_t generation = 0;  // bumped by every finished fetch
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  std::shared_ptr<asio::ssl::context> tls;
};

token_cache::token_cache(token_cache_settings settings) : settings_(settings) {}

std::string token_cache::key_of(const client_credentials& cc) {
  // The secret's identity is part of the key: a wrong secret never gets a cached token.
  return cc.token_url + '\n' + cc.client_id + '\n' + secrets::identity(cc.client_secret) + '\n' +
         join_scopes(cc.scopes) + '\n' + cc.ca_file;
}

awaitable<result<std::string>> token_cache::get(const client_credentials& cc) {
  const std::string key = key_of(cc);
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    std::shared_ptr<entry> e;
    std::shared_ptr<asio::steady_timer> wait;
    std::uint64_t seen_generation = 0;
    {
      std::lock_guard lock(mutex_);
      auto& slot = entries_[key];
      if (!slot) slot = std::make_shared<entry>();
      e = slot;
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

    auto fetched = co_await fetch(cc);
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;
    result<std::string> out = error{};
    {
      std::lock_guard lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      e->in_flight = false;
      ++e->generation;
      if (fetched) {
        const auto lifetime = fetched->second;
        e->token = std::move(fetched->first);
        e->expires_at = now + lifetime;
        e->refresh_at = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  lifetime * settings_.refresh_at_fraction);
        e->state.valid_until = std::chrono::system_clock::now() + lifetime;
        e->state.last_refresh = std::chrono::system_clock::now();
        ++e->state.refresh_count;
        e->state.last_error.reset();
        out = e->token;
      } else {
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

awaitable<result<std::pair<std::string, std::chrono::seconds>>> token_cache::fetch(const client_credentials& cc) {
  std::shared_ptr<asio::ssl::context> tls;
  {
    std::lock_guard lock(mutex_);
    tls = entries_[key_of(cc)]->tls;
  }
  if (!tls) {
    auto ctx = net::make_client_tls_context({cc.ca_file, true});
    if (!ctx) co_return ctx.err();
    tls = ctx.value();
    std::lock_guard lock(mutex_);
    entries_[key_of(cc)]->tls = tls;
  }
  auto secret = secrets::resolve(cc.client_secret, "spec.auth.oauth2_client_credentials.client_secret");
  if (!secret) co_return secret.err();
  // client_secret_basic (RFC 6749 2.3.1): every server must support it, Microsoft's and
  // Google's included; id and secret are form-encoded before base64.
  auto form_value = [](const std::string& v) { return form_urlencode({{"v", v}}).substr(2); };
  std::string credentials = form_value(cc.client_id) + ":" + form_value(secret.value());
  std::string authorization = "Basic " + base64_encode(credentials);
  std::fill(credentials.begin(), credentials.end(), '\0');
  std::fill(secret.value().begin(), secret.value().end(), '\0');
  std::vector<std::pair<std::string, std::string>> fields = {{"grant_type", "client_credentials"}};
  if (!cc.scopes.empty()) fields.emplace_back("scope", join_scopes(cc.scopes));
  const std::string body = form_urlencode(fields);

  http_request_options options;
  options.tls = tls;
  options.timeout = settings_.request_timeout;
  auto executor = co_await asio::this_coro::executor;
  auto delay = settings_.retry_initial;
  error last{errc::unavailable, "token endpoint not tried"};
  for (int attempt = 1; attempt <= settings_.attempts; ++attempt) {
    {
      std::lock_guard lock(mutex_);
      ++requests_sent_;
    }
    auto response = co_await http_post_form(cc.token_url, body, authorization, options);
    if (response) {
      auto parsed = parse_token_response(response->status, response->content_type, response->body);
      if (parsed) {
        std::fill(authorization.begin(), authorization.end(), '\0');
        const auto lifetime = parsed->expires_in.value_or(settings_.default_lifetime);
        spdlog::info("oauth2: token for client '{}' from {} (valid {} s)", cc.client_id, cc.token_url,
                     lifetime.count());
        co_return std::pair{std::move(parsed->access_token), lifetime};
      }
      last = parsed.err();
    } else {
      last = response.err();
    }
    if (last.code == errc::unauthenticated) {
      last.message += " (check client_id and client_secret for " + cc.token_url +
                      ", and that the secret has not expired; then Connect again)";
    }
    if (last.code != errc::unavailable) break;  // only transient failures are retried
    spdlog::warn("oauth2: token request for client '{}' failed (attempt {}/{}): {}", cc.client_id, attempt,
                 settings_.attempts, last.message);
    if (attempt < settings_.attempts) {
      asio::steady_timer t(executor, delay);
      error_code ec;
      co_await t.async_wait(redirect_error(use_awaitable, ec));
      delay *= 2;
    }
  }
  std::fill(authorization.begin(), authorization.end(), '\0');
  co_return last;
}

token_state token_cache::state(const client_credentials& cc) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key_of(cc));
  return it == entries_.end() ? token_state{} : it->second->state;
}

std::uint64_t token_cache::requests_sent() const {
  std::lock_guard lock(mutex_);
  return requests_sent_;
}

}  // namespace mailbroker::auth
