// upstream over EWS (protocol/ews/client): one persistent HTTP(S) connection whose
// "login" is the first authenticated request (GetFolder on the inbox), so credentials
// are checked at connect time as with IMAP, and whose NOOP is the same GetFolder.
#include <optional>

#include "auth/ntlm_authenticator.hpp"
#include "net/http_authenticators.hpp"
#include "protocol/ews/client.hpp"
#include "session/ews_discovery.hpp"
#include "session/upstream.hpp"

namespace mailbroker::session {
namespace {

// Each pooled connection's authenticator: made from the session's credentials the first
// time the connection needs one (a connection opened before login() knows them has
// none yet) and again after each reset (a new TCP connection starts a new handshake).
using credentials_maker = std::function<std::shared_ptr<net::http_authenticator>()>;

class authenticator_slot final : public net::http_authenticator {
 public:
  explicit authenticator_slot(std::shared_ptr<const credentials_maker> maker) : maker_(std::move(maker)) {}
  std::string scheme() const override {
    auto* inner = current();
    return inner ? inner->scheme() : "none";
  }
  void reset() override { inner_.reset(); }
  result<std::string> authorization() override {
    auto* inner = current();
    return inner ? inner->authorization() : std::string();
  }
  result<std::string> respond(const std::vector<std::string>& challenges) override {
    auto* inner = current();
    if (!inner) return error{errc::unauthenticated, "EWS: the server asked for credentials before login"};
    return inner->respond(challenges);
  }

 private:
  net::http_authenticator* current() const {
    if (!inner_ && *maker_) inner_ = (*maker_)();
    return inner_.get();
  }
  std::shared_ptr<const credentials_maker> maker_;
  mutable std::shared_ptr<net::http_authenticator> inner_;
};

class ews_upstream final : public upstream {
 public:
  ews_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls, upstream_options options)
      : executor_(std::move(executor)), tls_(std::move(tls)), options_(std::move(options)),
        maker_(std::make_shared<credentials_maker>()) {}

  awaitable<error> open(const session_spec& spec) override {
    if (!spec.ews) co_return error{errc::internal, "EWS session without spec.ews"};
    const auto& leg = *spec.ews;
    auto version = ews::parse_version(leg.version);
    if (!version) co_return version.err();
    mailbox_ = leg.mailbox;
    domain_ = leg.domain;
    auth_ = leg.auth;
    if (uses_autodiscover(spec)) {
      // The URL is found in login(), which has the credentials Autodiscover asks for.
      spec_ = spec;
      const auto& found = options_.ews_discovery.found;
      greeting_ = found && !found->url.empty() ? "EWS " + found->url + " (Autodiscover)"
                                               : "EWS (Autodiscover for " + leg.autodiscover_email + ")";
      co_return error::none();
    }
    ews_endpoint where;  // a variable: a braced list in a co_await operand miscompiles (STYLE.md)
    where.url = leg.url;
    where.endpoint = net::http_endpoint{spec.tls != tls_mode::plain, spec.host, spec.port};
    where.path = leg.path;
    co_return co_await open_at(spec, std::move(where));
  }

  awaitable<error> login(std::string user, std::string password) override {
    if (auth_ == ews_auth::basic) {
      *maker_ = [login = domain_.empty() ? user : domain_ + "\\" + user, password] {
        return net::make_basic_authenticator(login, password);
      };
      scheme_ = "Basic";
    } else {
      *maker_ = [credentials = auth::ntlm_credentials{user, domain_, password, {}}] {
        return std::make_shared<auth::ntlm_authenticator>(credentials);
      };
      scheme_ = "NTLM";
    }
    co_return co_await log_in();
  }

  awaitable<result<std::string>> authenticate_oauth(std::string /*user*/, std::string token) override {
    token_ = std::make_shared<std::string>(std::move(token));
    *maker_ = [t = token_] { return net::make_bearer_authenticator([t]() -> result<std::string> { return *t; }); };
    scheme_ = "Bearer";
    if (auto e = co_await log_in(); !e.ok()) co_return e;
    co_return std::string("Bearer");
  }

  awaitable<error> noop(std::chrono::milliseconds /*timeout: the connection's own*/) override {
    if (token_ && options_.fresh_token) {
      auto fresh = co_await options_.fresh_token();
      if (!fresh) co_return fresh.err();
      *token_ = std::move(fresh.value());
    }
    co_return co_await probe();
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
    std::vector<std::string> out{"EWS", "Auth=" + scheme_};
    if (!found_url_.empty()) out.push_back("EwsUrl=" + found_url_);
    if (client_) {
      out.push_back("RequestServerVersion=" + std::string(ews::version_name(client_->version())));
      const auto& s = client_->server();
      if (s.major != 0) out.push_back("ServerVersionInfo=" + ews::describe(s));
    }
    if (!mailbox_.empty()) out.push_back("Mailbox=" + mailbox_);
    return out;
  }
  std::uint64_t commands_sent() const override { return client_ ? client_->requests() : 0; }
  std::uint64_t bytes_in() const override { return client_ ? client_->bytes_in() : 0; }
  std::uint64_t bytes_out() const override { return client_ ? client_->bytes_out() : 0; }
  ews::client* ews() override { return client_.get(); }

 private:
  // Opens the pool to `where`: spec.ews.url, or the URL Autodiscover found.
  awaitable<error> open_at(const session_spec& spec, ews_endpoint where) {
    const auto& leg = *spec.ews;
    net::http_connection_options http;
    http.tls = tls_;
    http.verify_host = !spec.insecure_skip_verify;
    http.connect_timeout = spec.connect_timeout;
    // spec.ews.timeout_seconds bounds each request as the proto documents ("per request and
    // per connection attempt"): a stalled server fails the call within it. Large MIME bodies
    // over slow links need a larger timeout_seconds (up to 60).
    http.request_timeout = leg.timeout;
    http.dead_peer_timeout = options_.dead_peer_timeout;
    http.trace = options_.trace;
    http.connect_host = where.connect_host;  // tests only (ews-autodiscover-connect-to)
    http.connect_port = where.connect_port;
    ews::client_options o;
    o.path = where.path;
    o.context.version = ews::parse_version(leg.version).value();  // checked by open()
    o.context.impersonate_smtp = leg.impersonate;
    o.anchor_mailbox = !leg.mailbox.empty() ? leg.mailbox : !leg.impersonate.empty() ? leg.impersonate : spec.username;
    o.max_connections = static_cast<int>(options_.http_connections);
    client_ = std::make_unique<ews::client>(executor_, where.endpoint, std::move(http), std::move(o),
                                            [maker = maker_]() -> std::shared_ptr<net::http_authenticator> {
                                              return std::make_shared<authenticator_slot>(maker);
                                            });
    if (on_lost_) client_->set_on_lost(on_lost_);
    auto report = co_await client_->open();
    if (!report) co_return report.err();
    greeting_ = "EWS " + where.endpoint.origin() + where.path + (spec_ ? " (Autodiscover)" : "");
    co_return error::none();
  }

  // With *maker_ set: Autodiscover first when the spec has no URL (once per session: later
  // connects reuse the URL found, and discover again only when it no longer connects),
  // then the probe, which authenticates.
  awaitable<error> log_in() {
    if (!client_ && spec_) {
      const authenticator_factory make = *maker_;
      auto where = co_await find_ews_endpoint(*spec_, tls_, make, options_.ews_discovery, false);
      if (!where) co_return where.err();
      error opened = co_await open_at(*spec_, where.value());
      if (!where->discovered_now && (opened.code == errc::unavailable || opened.code == errc::deadline_exceeded)) {
        if (client_) client_->close();
        client_.reset();
        where = co_await find_ews_endpoint(*spec_, tls_, make, options_.ews_discovery, true);
        if (!where) co_return where.err();
        opened = co_await open_at(*spec_, where.value());
      }
      if (!opened.ok()) co_return opened;
      found_url_ = where->url;
    }
    co_return co_await probe();
  }

  // GetFolder on the inbox of the session's mailbox: authenticates the connection and
  // shows the server's version.
  awaitable<error> probe() {
    if (!client_) co_return error{errc::unavailable, "EWS: not connected"};
    ews::folder_ref inbox;
    inbox.distinguished = "inbox";
    inbox.mailbox_smtp = mailbox_;
    std::vector<ews::folder_ref> one{inbox};
    auto reply = co_await client_->call(ews::get_folder(client_->version(), one));
    if (!reply) co_return reply.err();
    for (const auto& m : reply->messages) {
      if (auto e = ews::error_of(m, client_->version()); !e.ok()) co_return e;
    }
    co_return error::none();
  }

  asio::any_io_executor executor_;
  std::shared_ptr<asio::ssl::context> tls_;
  upstream_options options_;
  // The session's credentials as a maker of authenticators, one per pooled connection;
  // set by login() / authenticate_oauth().
  std::shared_ptr<credentials_maker> maker_;
  std::string scheme_ = "none";
  std::unique_ptr<ews::client> client_;
  std::function<void(error)> on_lost_;
  std::shared_ptr<std::string> token_;  // bearer: the current access token
  std::string greeting_, mailbox_, domain_;
  std::optional<session_spec> spec_;  // set when the URL comes from Autodiscover
  std::string found_url_;
  ews_auth auth_ = ews_auth::ntlm;
};

}  // namespace

std::shared_ptr<upstream> make_ews_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                                            upstream_options options) {
  return std::make_shared<ews_upstream>(std::move(executor), std::move(tls), std::move(options));
}

}  // namespace mailbroker::session
