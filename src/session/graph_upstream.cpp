// upstream over Microsoft Graph (protocol/graph/client): a few persistent HTTPS
// connections to the cloud's service root whose "login" is the first authenticated
// request (GET mailFolders/inbox of the session's mailbox), so the token, its
// permissions and the mailbox are checked at connect time as an IMAP login checks
// credentials; the keepalive NOOP is the same request with a fresh token.
#include <spdlog/spdlog.h>

#include "net/http_authenticators.hpp"
#include "protocol/graph/client.hpp"
#include "protocol/graph/endpoints.hpp"
#include "protocol/graph/requests.hpp"
#include "protocol/graph/responses.hpp"
#include "session/upstream.hpp"

namespace mailbroker::session {
namespace {

// Graph answers bodies up to the codec's bound (json_text.hpp max_body_bytes); MIME of
// messages up to the Mailbox API's whole-message limit.
constexpr std::size_t max_graph_response_bytes = 64 * 1024 * 1024;

class graph_upstream final : public upstream {
 public:
  graph_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls, upstream_options options)
      : executor_(std::move(executor)), tls_(std::move(tls)), options_(std::move(options)),
        token_state_(std::make_shared<token_state>()) {}

  awaitable<error> open(const session_spec& spec) override {
    if (!spec.graph) co_return error{errc::internal, "Graph session without spec.graph"};
    const auto& leg = *spec.graph;
    auto root = graph::mailbox_root(leg.mailbox);
    if (!root) co_return root.err();
    net::http_connection_options http;
    http.tls = tls_;
    http.verify_host = !spec.insecure_skip_verify;
    http.connect_timeout = spec.connect_timeout;
    http.request_timeout = leg.timeout;
    http.dead_peer_timeout = options_.dead_peer_timeout;
    http.max_body_bytes = max_graph_response_bytes;
    http.trace = options_.trace;
    graph::client_options o;
    o.service_root = leg.service_root;
    o.mailbox_root = root.value();
    o.max_in_flight = leg.max_concurrent_requests == 0 ? default_graph_concurrency : leg.max_concurrent_requests;
    if (options_.fresh_token) {
      o.refresh_token = [state = token_state_, fresh = options_.fresh_token]() -> awaitable<error> {
        auto current = co_await fresh();
        if (!current) co_return current.err();
        state->take(std::move(current.value()));
        co_return error::none();
      };
      o.renew_token = [state = token_state_, fresh = options_.fresh_token, reject = options_.reject_token](
                          std::chrono::steady_clock::time_point sent_at) -> awaitable<error> {
        // Several requests refused together: the first renews, the others use its token.
        if (state->replaced_at > sent_at) co_return error::none();
        if (reject) reject(state->token);  // the cache still thinks it valid
        auto renewed = co_await fresh();
        if (!renewed) co_return renewed.err();
        if (state->replaced_at > sent_at) co_return error::none();
        if (!state->take(std::move(renewed.value()))) {
          co_return error{errc::unauthenticated, "Graph refused the access token (HTTP 401) and the token cache has "
                                                 "no newer one: the token was revoked or lacks the audience"};
        }
        co_return error::none();
      };
    }
    net::http_endpoint endpoint{spec.tls != tls_mode::plain, spec.host, spec.port};
    client_ = std::make_unique<graph::client>(
        executor_, endpoint, std::move(http), std::move(o),
        [state = token_state_]() -> std::shared_ptr<net::http_authenticator> {
          return net::make_bearer_authenticator([state]() -> result<std::string> { return state->token; });
        });
    if (on_lost_) client_->set_on_lost(on_lost_);
    auto report = co_await client_->open();
    if (!report) co_return report.err();
    greeting_ = "Graph " + leg.service_root + root.value();
    mailbox_shown_ = leg.mailbox.empty() ? std::string("/me") : "/users/" + leg.mailbox;
    co_return error::none();
  }

  awaitable<error> login(std::string, std::string) override {
    co_return error{errc::invalid_argument, "spec.auth: Graph takes OAuth2 tokens only"};
  }

  awaitable<result<std::string>> authenticate_oauth(std::string /*user*/, std::string token) override {
    token_state_->set(std::move(token));
    if (auto e = co_await probe(); !e.ok()) co_return e;
    co_return std::string("Bearer");
  }

  awaitable<error> noop(std::chrono::milliseconds /*timeout: the connection's own*/) override {
    co_return co_await probe();  // the client asks the token cache for a current token first
  }

  awaitable<void> logout(std::chrono::milliseconds) override {
    close(error::none());
    co_return;
  }
  void close(const error&) override {
    if (client_) client_->close();
  }
  void set_on_lost(std::function<void(error)> on_lost) override {
    on_lost_ = std::move(on_lost);
    if (client_) client_->set_on_lost(on_lost_);
  }
  bool is_open() const override { return client_ && client_->is_open(); }
  std::string greeting() const override { return greeting_; }
  std::vector<std::string> capabilities() const override {
    std::vector<std::string> out{"Graph", "Auth=Bearer"};
    if (client_) {
      out.push_back("ServiceRoot=" + client_->service_root());
      out.push_back("Mailbox=" + mailbox_shown_);
    }
    return out;
  }

  std::uint64_t commands_sent() const override { return client_ ? client_->requests() : 0; }
  std::uint64_t bytes_in() const override { return client_ ? client_->bytes_in() : 0; }
  std::uint64_t bytes_out() const override { return client_ ? client_->bytes_out() : 0; }
  graph::client* graph() override { return client_.get(); }

  std::size_t parallel_reads() const override { return client_ ? client_->max_in_flight() : 1; }
  std::optional<http_status> http() const override {
    if (!client_) return std::nullopt;
    http_status s;
    s.connections = static_cast<std::uint32_t>(client_->connections());
    s.max_in_flight = static_cast<std::uint32_t>(client_->max_in_flight());
    s.in_flight = static_cast<std::uint32_t>(client_->in_flight());
    s.waiting = static_cast<std::uint32_t>(client_->waiting());
    s.requests = client_->requests();
    s.throttled = client_->throttled();
    s.last_retry_after = client_->last_retry_after();
    s.throttled_until = client_->throttled_until();
    s.mailbox = mailbox_shown_;
    return s;
  }

 private:
  // GET mailFolders/inbox: the token is accepted, carries a Mail permission, and the
  // mailbox exists (NOT_FOUND otherwise, with Graph's code and request-id).
  awaitable<error> probe() {
    if (!client_) co_return error{errc::unavailable, "Graph: not connected"};
    auto reply = co_await client_->send(graph::get_folder(client_->mailbox_root(), "inbox"),
                                        "the mailbox " + client_->mailbox_root());
    if (!reply) co_return reply.err();
    auto inbox = graph::parse_folder(reply->body, reply->status);
    if (!inbox) co_return inbox.err();
    co_return error::none();
  }

  asio::any_io_executor executor_;
  std::shared_ptr<asio::ssl::context> tls_;
  upstream_options options_;
  // The current access token, read by every connection's authenticator, and when it was
  // last replaced (so requests refused together renew it once).
  struct token_state {
    std::string token;
    std::chrono::steady_clock::time_point replaced_at{};
    // Takes `fresh`; false when it is the token already held.
    bool take(std::string fresh) {
      if (fresh == token) return false;
      set(std::move(fresh));
      return true;
    }
    // Without the comparison: g++ 12 at -O2 warns (maybe-uninitialized, a false positive)
    // about take()'s string compare inlined into authenticate_oauth's coroutine frame.
    void set(std::string fresh) {
      token = std::move(fresh);
      replaced_at = std::chrono::steady_clock::now();
    }
  };
  std::shared_ptr<token_state> token_state_;
  std::string mailbox_shown_;  // "/me" or "/users/<address>", as Status shows it
  std::unique_ptr<graph::client> client_;
  std::function<void(error)> on_lost_;
  std::string greeting_;
};

}  // namespace

std::shared_ptr<upstream> make_graph_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                                              upstream_options options) {
  return std::make_shared<graph_upstream>(std::move(executor), std::move(tls), std::move(options));
}

}  // namespace mailbroker::session
