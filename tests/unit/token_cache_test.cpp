// auth::token_cache against the in-process HTTPS token endpoint (fakes/https_test_server):
// what each grant sends, and what happens to the stored refresh token on every outcome.
#include "auth/token_cache.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/form.hpp"
#include "common/base64.hpp"
#include "fakes/https_test_server.hpp"

namespace mailbroker::auth {
namespace {

using mailbroker::testing::canned_exchange;
using mailbroker::testing::https_test_server;
using mailbroker::testing::received_request;
using mailbroker::testing::test_pki;
using src = secrets::secret_ref::source;
using namespace std::chrono_literals;

const std::string hint = "re-authorize with `mailbroker authorize demo`";

template <class T>
result<T> run(std::function<awaitable<result<T>>()> call) {
  asio::io_context io;
  std::optional<result<T>> out;
  asio::co_spawn(io, [&]() -> awaitable<void> { out.emplace(co_await call()); }, asio::detached);
  io.run_for(20s);
  if (!out) return error{errc::internal, "test: the call did not complete"};
  return std::move(*out);
}

result<std::string> get(token_cache& cache, const token_request& request) {
  return run<std::string>([&] { return cache.get(request); });
}

// The token, or the error as text, so a failure shows up in the comparison.
std::string token_or_error(const result<std::string>& r) { return r.ok() ? r.value() : "error: " + r.err().message; }

token_cache_settings fast() {
  token_cache_settings s;
  s.attempts = 3;
  s.retry_initial = 2ms;
  // A request the server has no canned answer for must fail the test quickly.
  s.request_timeout = 3000ms;
  return s;
}

canned_exchange token_json(const std::string& json) { return canned_exchange::respond(200, "application/json", json); }

canned_exchange access_token(const std::string& access, const std::string& refresh = {}) {
  std::string json = R"({"access_token":")" + access + R"(","token_type":"Bearer","expires_in":3600)";
  if (!refresh.empty()) json += R"(,"refresh_token":")" + refresh + "\"";
  return token_json(json + "}");
}

token_request refresh_request(const https_test_server& server, const std::string& key = "session:demo") {
  token_request r;
  r.grant = grant_type::refresh_token;
  r.token_url = "https://localhost:" + std::to_string(server.port()) + "/oauth2/token";
  r.client_id = "app-id";
  r.client_secret = {src::inline_value, "s3:cret"};
  r.scopes = {"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"};
  r.ca_file = test_pki::get().ca_file;
  r.refresh_token_key = key;
  r.reauthorize_hint = hint;
  r.field = "spec.auth.oauth2_authorization_code";
  return r;
}

std::map<std::string, std::string> form_of(const received_request& q) {
  auto parsed = parse_query(q.body);
  EXPECT_TRUE(parsed.has_value()) << q.body;
  return parsed.value_or(std::map<std::string, std::string>{});
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Records every load and save; `handed_out` lets a save see whether the caller already
// has the access token.
class recording_store final : public refresh_token_store {
 public:
  struct save_event {
    std::string key, token;
    bool token_already_handed_out;
  };

  result<std::optional<std::string>> load(const std::string& key) override {
    loads.push_back(key);
    auto it = tokens.find(key);
    if (it == tokens.end()) return std::optional<std::string>{};
    return std::optional<std::string>{it->second};
  }
  error save(const std::string& key, const std::string& token) override {
    saves.push_back({key, token, handed_out});
    if (!save_error.ok()) return save_error;
    tokens[key] = token;
    return error::none();
  }
  bool durable() const override { return true; }

  std::map<std::string, std::string> tokens;
  std::vector<std::string> loads;
  std::vector<save_event> saves;
  error save_error = error::none();
  bool handed_out = false;
};

class fake_vault final : public secrets::vault_reader {
 public:
  result<std::string> read(const std::string& name) const override {
    if (name == "client-secret") return std::string("from-vault");
    return error{errc::failed_precondition, "no vault entry '" + name + "'"};
  }
};

// ---- refresh_token grant ------------------------------------------------------------

TEST(token_cache, RefreshGrantSendsTheStoredRefreshToken) {
  https_test_server server({access_token("at-1")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-stored";
  token_cache cache(fast(), store);
  auto request = refresh_request(server);
  request.initial_refresh_token = {src::inline_value, "rt-initial"};  // the store wins over it

  auto token = get(cache, request);
  ASSERT_TRUE(token.ok()) << token.err().message;
  EXPECT_EQ(*token, "at-1");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/oauth2/token");
  const auto form = form_of(requests[0]);
  EXPECT_EQ(form.at("grant_type"), "refresh_token");
  EXPECT_EQ(form.at("refresh_token"), "rt-stored");
  EXPECT_EQ(form.at("scope"), "https://outlook.office.com/IMAP.AccessAsUser.All offline_access");
  EXPECT_EQ(store->loads, std::vector<std::string>{"session:demo"});
  EXPECT_TRUE(store->saves.empty());
  EXPECT_EQ(store->tokens.at("session:demo"), "rt-stored");
  EXPECT_EQ(cache.requests_sent(), 1u);
}

TEST(token_cache, RotatedRefreshTokenIsSavedBeforeTheAccessTokenIsReturned) {
  https_test_server server({access_token("at-1", "rt-2")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-1";
  token_cache cache(fast(), store);
  const auto request = refresh_request(server);

  auto token = run<std::string>([&]() -> awaitable<result<std::string>> {
    auto t = co_await cache.get(request);
    store->handed_out = true;
    co_return t;
  });
  ASSERT_TRUE(token.ok()) << token.err().message;
  EXPECT_EQ(*token, "at-1");
  ASSERT_EQ(store->saves.size(), 1u);
  EXPECT_EQ(store->saves[0].key, "session:demo");
  EXPECT_EQ(store->saves[0].token, "rt-2");
  EXPECT_FALSE(store->saves[0].token_already_handed_out);
  EXPECT_EQ(store->tokens.at("session:demo"), "rt-2");
}

TEST(token_cache, NoNewRefreshTokenKeepsTheStoredOne) {
  https_test_server server({access_token("at-1")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-1";
  token_cache cache(fast(), store);
  auto token = get(cache, refresh_request(server));
  ASSERT_TRUE(token.ok()) << token.err().message;
  EXPECT_TRUE(store->saves.empty());
  EXPECT_EQ(store->tokens.at("session:demo"), "rt-1");
}

TEST(token_cache, InitialRefreshTokenIsUsedUntilTheStoreHasOne) {
  https_test_server server({access_token("at-1", "rt-2"), access_token("at-2")});
  auto store = std::make_shared<recording_store>();
  auto request = refresh_request(server);
  request.initial_refresh_token = {src::inline_value, "rt-initial"};

  token_cache first(fast(), store);
  ASSERT_TRUE(get(first, request).ok());
  EXPECT_EQ(store->tokens.at("session:demo"), "rt-2");
  // A second cache (a restarted daemon) over the same store: nothing cached, and the
  // rotated token, not the initial one, is what it must send.
  token_cache second(fast(), store);
  auto token = get(second, request);
  ASSERT_TRUE(token.ok()) << token.err().message;
  EXPECT_EQ(*token, "at-2");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(form_of(requests[0]).at("refresh_token"), "rt-initial");
  EXPECT_EQ(form_of(requests[1]).at("refresh_token"), "rt-2");
}

TEST(token_cache, NoRefreshTokenAnywhereIsFailedPreconditionWithTheHint) {
  https_test_server server({});
  token_cache cache(fast(), std::make_shared<recording_store>());
  auto token = get(cache, refresh_request(server));
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.err().code, errc::failed_precondition);
  EXPECT_TRUE(contains(token.err().message, hint)) << token.err().message;
  EXPECT_TRUE(contains(token.err().message, "session:demo")) << token.err().message;
  EXPECT_EQ(cache.requests_sent(), 0u);
  EXPECT_EQ(server.connections(), 0);
}

TEST(token_cache, InvalidGrantIsUnauthenticatedWithTheHintAndLeavesTheStoreAlone) {
  https_test_server server({canned_exchange::respond(
      400, "application/json", R"({"error":"invalid_grant","error_description":"AADSTS700082: expired"})")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-secret-1";
  token_cache cache(fast(), store);

  auto token = get(cache, refresh_request(server));
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.err().code, errc::unauthenticated);
  EXPECT_TRUE(contains(token.err().message, hint)) << token.err().message;
  EXPECT_TRUE(contains(token.err().message, "invalid_grant")) << token.err().message;
  EXPECT_FALSE(contains(token.err().message, "rt-secret-1")) << token.err().message;
  EXPECT_FALSE(contains(token.err().message, "s3:cret")) << token.err().message;
  EXPECT_EQ(server.requests().size(), 1u);  // not a transient failure: no retry
  EXPECT_TRUE(store->saves.empty());
  EXPECT_EQ(store->tokens.at("session:demo"), "rt-secret-1");
  ASSERT_TRUE(cache.state(refresh_request(server)).last_error.has_value());
  EXPECT_EQ(cache.state(refresh_request(server)).last_error->code, errc::unauthenticated);
}

TEST(token_cache, InvalidGrantNeverEchoesTheRefreshTokenEvenWhenTheServerDoes) {
  https_test_server server({canned_exchange::respond(
      400, "application/json",
      R"({"error":"invalid_grant","error_description":"refresh token rt-secret-1 was revoked"})")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-secret-1";
  token_cache cache(fast(), store);

  auto token = get(cache, refresh_request(server));
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.err().code, errc::unauthenticated);
  EXPECT_TRUE(contains(token.err().message, hint)) << token.err().message;
  EXPECT_FALSE(contains(token.err().message, "rt-secret-1")) << token.err().message;
}

TEST(token_cache, PersistentServerErrorsAreUnavailableAndLeaveTheStoreAlone) {
  const auto down = canned_exchange::respond(503, "text/plain", "down");
  https_test_server server({down, down, down});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-1";
  token_cache cache(fast(), store);

  auto token = get(cache, refresh_request(server));
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.err().code, errc::unavailable) << token.err().message;
  EXPECT_EQ(server.requests().size(), 3u);
  for (const auto& q : server.requests()) EXPECT_EQ(form_of(q).at("refresh_token"), "rt-1");
  EXPECT_TRUE(store->saves.empty());
  EXPECT_EQ(store->tokens.at("session:demo"), "rt-1");
}

TEST(token_cache, TransientFailureThenSuccessIsRetriedWithTheSameRefreshToken) {
  https_test_server server({canned_exchange::respond(503, "text/plain", "down"), access_token("at-1", "rt-2")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-1";
  token_cache cache(fast(), store);
  auto token = get(cache, refresh_request(server));
  ASSERT_TRUE(token.ok()) << token.err().message;
  EXPECT_EQ(*token, "at-1");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(form_of(requests[1]).at("refresh_token"), "rt-1");
  EXPECT_EQ(store->tokens.at("session:demo"), "rt-2");
}

TEST(token_cache, StatsPerKeyCountRequestsRefreshesAndFailuresAndNameNoSecret) {
  const auto down = canned_exchange::respond(503, "text/plain", "down");
  https_test_server server({down, down, down, access_token("at-1", "rt-2")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-1";
  token_cache cache(fast(), store);
  EXPECT_TRUE(cache.stats().empty());  // nothing asked yet

  EXPECT_FALSE(get(cache, refresh_request(server)).ok());  // three 503s: one failed fetch
  EXPECT_TRUE(get(cache, refresh_request(server)).ok());
  const auto stats = cache.stats();
  ASSERT_EQ(stats.size(), 1u);
  const auto& k = stats.front();
  EXPECT_EQ(k.grant, "refresh_token");
  EXPECT_EQ(k.token_url, refresh_request(server).token_url);
  EXPECT_EQ(k.client_id, "app-id");
  EXPECT_EQ(k.subject, "session:demo");
  EXPECT_EQ(k.requests, 4u);
  EXPECT_EQ(k.refreshes, 1u);
  EXPECT_EQ(k.failures, 1u);
  for (const auto* text : {&k.grant, &k.token_url, &k.client_id, &k.subject}) {
    EXPECT_FALSE(contains(*text, "s3:cret") || contains(*text, "rt-")) << *text;
  }
}

TEST(token_cache, StoreSaveFailureIsInternalAndHandsOutNoAccessToken) {
  https_test_server server({access_token("at-unsaved", "rt-2")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-1";
  store->save_error = {errc::internal, "disk full"};
  token_cache cache(fast(), store);
  const auto request = refresh_request(server);

  auto token = get(cache, request);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.err().code, errc::internal);
  EXPECT_TRUE(contains(token.err().message, "disk full")) << token.err().message;
  EXPECT_FALSE(contains(token.err().message, "at-unsaved")) << token.err().message;
  EXPECT_FALSE(contains(token.err().message, "rt-2")) << token.err().message;
  EXPECT_EQ(store->saves.size(), 1u);
  EXPECT_EQ(store->tokens.at("session:demo"), "rt-1");
  EXPECT_FALSE(cache.state(request).valid_until.has_value());
}

// ---- other grants and client authentication -----------------------------------------

TEST(token_cache, PasswordGrantSendsUsernameAndPassword) {
  https_test_server server({access_token("at-1")});
  token_cache cache(fast());
  token_request request;
  request.grant = grant_type::password;
  request.token_url = "https://localhost:" + std::to_string(server.port()) + "/token";
  request.client_id = "app-id";
  request.ca_file = test_pki::get().ca_file;
  request.username = "alice@contoso.com";
  request.password = {src::inline_value, "pa ss&word"};

  auto token = get(cache, request);
  ASSERT_TRUE(token.ok()) << token.err().message;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto form = form_of(requests[0]);
  EXPECT_EQ(form.at("grant_type"), "password");
  EXPECT_EQ(form.at("username"), "alice@contoso.com");
  EXPECT_EQ(form.at("password"), "pa ss&word");
  EXPECT_EQ(form.count("refresh_token"), 0u);
}

TEST(token_cache, PasswordGrantErrorsNeverEchoThePassword) {
  https_test_server server({canned_exchange::respond(
      400, "application/json", R"({"error":"invalid_grant","error_description":"bad password Pa55-w0rd-x"})")});
  token_cache cache(fast());
  token_request request;
  request.grant = grant_type::password;
  request.token_url = "https://localhost:" + std::to_string(server.port()) + "/token";
  request.client_id = "app-id";
  request.ca_file = test_pki::get().ca_file;
  request.username = "alice@contoso.com";
  request.password = {src::inline_value, "Pa55-w0rd-x"};

  auto token = get(cache, request);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.err().code, errc::unauthenticated);
  EXPECT_TRUE(contains(token.err().message, "alice@contoso.com")) << token.err().message;
  EXPECT_FALSE(contains(token.err().message, "Pa55-w0rd-x")) << token.err().message;
}

TEST(token_cache, PublicClientSendsClientIdInTheFormAndNoAuthorization) {
  https_test_server server({access_token("at-1")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-1";
  token_cache cache(fast(), store);
  auto request = refresh_request(server);
  request.client_secret = {};

  ASSERT_TRUE(get(cache, request).ok());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].headers.count("authorization"), 0u);
  EXPECT_EQ(form_of(requests[0]).at("client_id"), "app-id");
}

TEST(token_cache, ConfidentialClientSendsBasicAuthorizationAndNoClientIdInTheForm) {
  https_test_server server({access_token("at-1")});
  token_cache cache(fast());
  token_request request;
  request.token_url = "https://localhost:" + std::to_string(server.port()) + "/token";
  request.client_id = "app-id";
  request.client_secret = {src::inline_value, "s3:cret"};
  request.ca_file = test_pki::get().ca_file;

  ASSERT_TRUE(get(cache, request).ok());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  // RFC 6749 2.3.1: id and secret form-encoded, then joined with ':' and base64'd.
  EXPECT_EQ(requests[0].header("authorization"), "Basic " + base64_encode("app-id:s3%3Acret"));
  const auto form = form_of(requests[0]);
  EXPECT_EQ(form.at("grant_type"), "client_credentials");
  EXPECT_EQ(form.count("client_id"), 0u);
  EXPECT_EQ(form.count("client_secret"), 0u);
}

TEST(token_cache, ClientSecretFromTheVault) {
  https_test_server server({access_token("at-1")});
  token_request request;
  request.token_url = "https://localhost:" + std::to_string(server.port()) + "/token";
  request.client_id = "app-id";
  request.client_secret = {src::vault, "client-secret"};
  request.ca_file = test_pki::get().ca_file;

  token_cache without_vault(fast());
  auto refused = get(without_vault, request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.err().code, errc::failed_precondition);
  EXPECT_TRUE(contains(refused.err().message, "spec.auth.oauth2.client_secret.vault")) << refused.err().message;
  EXPECT_EQ(server.connections(), 0);

  token_cache cache(fast(), nullptr, std::make_shared<fake_vault>());
  ASSERT_TRUE(get(cache, request).ok());
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].header("authorization"), "Basic " + base64_encode("app-id:from-vault"));
}

// ---- redeem ---------------------------------------------------------------------------

TEST(token_cache, RedeemSendsTheCodeSavesTheRefreshTokenAndSeedsTheCache) {
  // The spare answer makes an unwanted refresh visible instead of a hang.
  https_test_server server({access_token("at-1", "rt-first"), access_token("at-spare")});
  auto store = std::make_shared<recording_store>();
  token_cache cache(fast(), store);
  const auto request = refresh_request(server);
  const authorization_code code{"the-code", "the-verifier-0123456789012345678901234567890", "http://localhost:9999/cb"};

  auto state = run<token_state>([&] { return cache.redeem(request, code); });
  ASSERT_TRUE(state.ok()) << state.err().message;
  EXPECT_TRUE(state->valid_until.has_value());
  EXPECT_EQ(state->refresh_count, 1u);
  EXPECT_EQ(store->tokens.at("session:demo"), "rt-first");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto form = form_of(requests[0]);
  EXPECT_EQ(form.at("grant_type"), "authorization_code");
  EXPECT_EQ(form.at("code"), "the-code");
  EXPECT_EQ(form.at("code_verifier"), code.code_verifier);
  EXPECT_EQ(form.at("redirect_uri"), "http://localhost:9999/cb");

  // Seeded: the session that connects next uses the redeemed token without a request.
  auto token = get(cache, request);
  ASSERT_TRUE(token.ok()) << token.err().message;
  EXPECT_EQ(*token, "at-1");
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(cache.requests_sent(), 1u);
}

TEST(token_cache, RedeemWithoutARefreshTokenIsFailedPreconditionNamingOfflineAccess) {
  https_test_server server({access_token("at-1")});
  auto store = std::make_shared<recording_store>();
  token_cache cache(fast(), store);
  const auto request = refresh_request(server);

  auto state = run<token_state>([&] { return cache.redeem(request, {"c", "v", "http://localhost:9999/cb"}); });
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.err().code, errc::failed_precondition);
  EXPECT_TRUE(contains(state.err().message, "offline_access")) << state.err().message;
  EXPECT_TRUE(store->saves.empty());
  EXPECT_FALSE(cache.state(request).valid_until.has_value());
}

// ---- sharing ---------------------------------------------------------------------------

TEST(token_cache, ConcurrentGetsForOneKeyShareOneRequest) {
  // Spare answers, so that an extra request would be answered and counted, not hang.
  https_test_server server({access_token("at-1", "rt-2"), access_token("at-2", "rt-3"), access_token("at-3", "rt-4"),
                            access_token("at-4", "rt-5"), access_token("at-5", "rt-6")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-1";
  token_cache cache(fast(), store);
  const auto request = refresh_request(server);

  asio::io_context io;
  std::vector<std::optional<result<std::string>>> out(5);
  for (auto& slot : out) {
    asio::co_spawn(io, [&]() -> awaitable<void> { slot.emplace(co_await cache.get(request)); }, asio::detached);
  }
  io.run_for(20s);
  for (const auto& r : out) {
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->ok()) << r->err().message;
    EXPECT_EQ(r->value(), "at-1");
  }
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(cache.requests_sent(), 1u);
  EXPECT_EQ(store->saves.size(), 1u);
}

TEST(token_cache, ConcurrentGetsShareOneFailure) {
  https_test_server server(
      {canned_exchange::respond(400, "application/json", R"({"error":"invalid_grant"})")});
  auto store = std::make_shared<recording_store>();
  store->tokens["session:demo"] = "rt-1";
  token_cache cache(fast(), store);
  const auto request = refresh_request(server);

  asio::io_context io;
  std::vector<std::optional<result<std::string>>> out(3);
  for (auto& slot : out) {
    asio::co_spawn(io, [&]() -> awaitable<void> { slot.emplace(co_await cache.get(request)); }, asio::detached);
  }
  io.run_for(20s);
  for (const auto& r : out) {
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->err().code, errc::unauthenticated);
  }
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(token_cache, DifferentRefreshTokenKeysAreDifferentEntries) {
  https_test_server server({access_token("at-a"), access_token("at-b"), access_token("at-spare")});
  auto store = std::make_shared<recording_store>();
  store->tokens["managed:corp:a"] = "rt-a";
  store->tokens["managed:corp:b"] = "rt-b";
  token_cache cache(fast(), store);
  const auto a = refresh_request(server, "managed:corp:a");
  const auto b = refresh_request(server, "managed:corp:b");
  EXPECT_NE(a.cache_key(), b.cache_key());

  EXPECT_EQ(token_or_error(get(cache, a)), "at-a");
  EXPECT_EQ(token_or_error(get(cache, b)), "at-b");
  EXPECT_EQ(token_or_error(get(cache, a)), "at-a");  // cached
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(form_of(requests[0]).at("refresh_token"), "rt-a");
  EXPECT_EQ(form_of(requests[1]).at("refresh_token"), "rt-b");
}

}  // namespace
}  // namespace mailbroker::auth
