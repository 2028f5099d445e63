// upstream over EWS (protocol/ews/client): one persistent HTTP(S) connection whose
// "login" is the first authenticated request (GetFolder on the inbox), so credentials
// are checked at connect time as with IMAP, and whose NOOP is the same GetFolder.
#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

#include "auth/ntlm_authenticator.hpp"
#include "net/http_authenticators.hpp"
#include "protocol/ews/client.hpp"
#include "protocol/ews/streaming_reader.hpp"
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

// Subscriptions one GetStreamingEvents may name (Exchange's limit per connection);
// sessions with more watches poll them by the poll interval.
constexpr std::size_t max_streams_per_wait = 200;
// The longest silence on a stream before it counts as broken: Exchange and the fake send
// a heartbeat (ConnectionStatus OK) every 40-45 s.
constexpr std::chrono::seconds stream_idle_gap{120};
// Streams that end without news sooner than min_quiet_stream, short_streams_before_pause
// in a row (a server that closes each at once, or forgets each new subscription), make
// the session poll by its interval once instead of opening the next stream at once. One
// or two are normal: a subscription expired while no stream was open is reported at once,
// and the stream that follows its re-subscription may have been closed by the server.
constexpr std::chrono::seconds min_quiet_stream{5};
constexpr int short_streams_before_pause = 3;

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
  // Watches wait on their streaming subscriptions (Exchange2010_SP1 and later; the
  // backend registers them with the client), on a connection of its own while the pool
  // serves calls: only while every watch has one, else the session polls by its interval.
  bool waits_on(const std::vector<std::string>& folders_wire, const std::string& /*selected*/) const override {
    if (!client_ || folders_wire.empty()) return false;
    const std::size_t streams = client_->streaming_subscriptions()->size();
    return streams >= folders_wire.size() && streams <= max_streams_per_wait;
  }

  // GetStreamingEvents on the client's streaming subscriptions until one carries an event,
  // the server closes the stream, `max` passes or interrupt_wait(): true (the session polls
  // and the pull subscriptions say what arrived). A subscription the server no longer
  // knows is dropped (the next poll makes another): true. The stream failing (transport,
  // 401, an answer that is not a stream, an envelope over max_streaming_envelope_bytes),
  // or ending without news too soon three times in a row: false, so the session sleeps its poll
  // interval (no hot loop, and never a reconnect of the session because of the stream).
  awaitable<result<bool>> wait_for_news(const std::string& /*folder_wire*/, std::chrono::milliseconds max,
                                        std::chrono::milliseconds /*timeout*/) override {
    if (!client_ || !client_->is_open()) co_return false;
    const auto& live = client_->streaming_subscriptions();
    if (live->empty() || live->size() > max_streams_per_wait) co_return false;
    const std::vector<std::string> ids(live->begin(), live->end());
    const auto minutes = std::clamp<std::int64_t>((max.count() + 59999) / 60000, 1, 30);
    auto body = ews::get_streaming_events(client_->version(), ids, static_cast<int>(minutes));
    if (!body) {
      spdlog::warn("EWS GetStreamingEvents not sent: {}", body.err().message);
      co_return false;
    }
    const auto executor = co_await asio::this_coro::executor;
    auto wait = std::make_shared<stream_wait>(executor, client_->version());
    wait->connection = client_->new_connection(stream_idle_gap);
    wait->wake.expires_after(max);
    stream_ = wait;
    const auto started = std::chrono::steady_clock::now();
    // The stream runs on its own and the session waits on `wake` alone: an interrupt or
    // `max` must end the wait at once even when the stream's connection cannot be stopped
    // at once (close() does not abort a TLS handshake in progress: the stream then ends
    // by itself later, holding nothing of the session's).
    asio::co_spawn(
        executor,
        [wait, request = client_->request_for(body.value())]() mutable -> awaitable<void> {
          auto* w = wait.get();
          auto r = co_await w->connection->send_streaming(std::move(request), [w](std::string_view piece) {
            return w->reader.feed(piece) == ews::streaming_reader::state::reading;
          });
          w->response.emplace(std::move(r));
          w->wake.cancel();
        },
        asio::detached);
    error_code woken;
    co_await wait->wake.async_wait(asio::redirect_error(asio::use_awaitable, woken));
    if (stream_ == wait) stream_.reset();
    if (!wait->response || wait->interrupted) {  // interrupted, or `max` passed
      wait->connection->close();
      co_return true;
    }
    auto& response = *wait->response;
    auto& reader = wait->reader;

    using state = ews::streaming_reader::state;
    if (response && (response->status < 200 || response->status > 299)) {
      // Read whole (e.g. a SOAP fault with HTTP 500): what it says decides, as in a stream.
      reader.feed(response->body);
      if (reader.current() == state::reading) {
        spdlog::info("EWS GetStreamingEvents answered HTTP {}; polling instead this time", response->status);
        co_return false;
      }
    }
    if (!response) {
      spdlog::info("EWS streaming notifications: {}; polling instead this time", response.err().message);
      co_return false;
    }
    switch (reader.current()) {
      case state::news:
        short_streams_ = 0;
        co_return true;
      case state::failed:
        spdlog::info("EWS streaming notifications: {}; polling instead this time", reader.failure().message);
        co_return false;
      case state::subscriptions_gone:
        if (reader.gone_subscriptions().empty()) {
          live->clear();
        } else {
          for (const auto& id : reader.gone_subscriptions()) live->erase(id);
        }
        break;
      case state::closed:
      case state::reading:  // the response ended without ConnectionStatus Closed
        break;
    }
    // Ended without news: fine now and then (the server's ConnectionTimeout, an expired
    // subscription), a hot loop when it happens at once every time.
    if (std::chrono::steady_clock::now() - started >= min_quiet_stream) {
      short_streams_ = 0;
      co_return true;
    }
    if (++short_streams_ < short_streams_before_pause) co_return true;
    short_streams_ = 0;
    spdlog::info("EWS streaming notifications: {} streams in a row ended at once without news; polling instead "
                 "this time",
                 short_streams_before_pause);
    co_return false;
  }

  void interrupt_wait() override {
    if (auto w = stream_) {
      stream_.reset();
      w->interrupted = true;
      w->wake.cancel();
      w->connection->close();
    }
  }

  std::uint64_t commands_sent() const override { return client_ ? client_->requests() : 0; }
  std::uint64_t bytes_in() const override { return client_ ? client_->bytes_in() : 0; }
  std::uint64_t bytes_out() const override { return client_ ? client_->bytes_out() : 0; }
  ews::client* ews() override { return client_.get(); }

  std::size_t parallel_reads() const override { return client_ ? client_->max_connections() : 1; }
  std::optional<http_status> http() const override {
    if (!client_) return std::nullopt;
    http_status s;
    s.connections = static_cast<std::uint32_t>(client_->connections());
    s.max_in_flight = static_cast<std::uint32_t>(client_->max_connections());
    s.in_flight = static_cast<std::uint32_t>(client_->calls_in_flight());
    s.waiting = static_cast<std::uint32_t>(client_->calls_waiting());
    s.requests = client_->requests();
    s.throttled = client_->busy_back_offs();
    s.last_retry_after = client_->last_back_off();
    s.mailbox = !mailbox_.empty() ? mailbox_ : client_->context().impersonate_smtp;
    return s;
  }

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

  // One wait_for_news in progress, shared by the waiting session, the stream's own
  // coroutine (which may outlive the wait and this upstream) and interrupt_wait().
  struct stream_wait {
    stream_wait(asio::any_io_executor ex, ews::server_version version) : wake(std::move(ex)), reader(version) {}
    std::unique_ptr<net::http_connection> connection;
    asio::steady_timer wake;  // expires at `max`; cancelled when the stream ends or on interrupt
    ews::streaming_reader reader;
    std::optional<result<net::http_response>> response;  // once the stream has ended
    bool interrupted = false;
  };

  asio::any_io_executor executor_;
  std::shared_ptr<asio::ssl::context> tls_;
  upstream_options options_;
  std::shared_ptr<stream_wait> stream_;
  int short_streams_ = 0;  // streams in a row that ended without news within min_quiet_stream
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
