// upstream over a POP3 connection (protocol/pop3/client).
#include "protocol/pop3/client.hpp"
#include "session/upstream.hpp"

namespace mailbroker::session {
namespace {

pop3::tls_mode to_pop3(tls_mode m) {
  switch (m) {
    case tls_mode::implicit: return pop3::tls_mode::implicit;
    case tls_mode::starttls: return pop3::tls_mode::starttls;
    case tls_mode::plain: return pop3::tls_mode::plain;
  }
  return pop3::tls_mode::implicit;
}

class pop3_upstream final : public upstream {
 public:
  pop3_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls, upstream_options options)
      : client_(std::make_shared<pop3::client>(std::move(executor), std::move(tls))),
        dead_peer_timeout_(options.dead_peer_timeout),
        trace_(std::move(options.trace)) {}

  awaitable<error> open(const session_spec& spec) override {
    pop3::connect_options options;
    options.host = spec.host;
    options.port = spec.port;
    options.tls = to_pop3(spec.tls);
    options.tls_server_name = spec.tls_server_name;
    options.verify_certificate = !spec.insecure_skip_verify;
    options.timeout = spec.connect_timeout;
    options.dead_peer_timeout = dead_peer_timeout_;
    options.trace = trace_;
    co_return co_await client_->open(std::move(options));
  }
  awaitable<error> login(std::string user, std::string password) override {
    co_return co_await client_->login(std::move(user), std::move(password));
  }
  awaitable<result<std::string>> authenticate_oauth(std::string user, std::string token) override {
    co_return co_await client_->authenticate_oauth(std::move(user), std::move(token));
  }
  awaitable<error> noop(std::chrono::milliseconds timeout) override { co_return co_await client_->noop(timeout); }
  // QUIT commits DELEs; a failed QUIT at logout has nobody left to tell but the log.
  awaitable<void> logout(std::chrono::milliseconds timeout) override { (void)co_await client_->quit(timeout); }
  void close(const error& why) override { client_->close(why); }
  void set_on_lost(std::function<void(error)> on_lost) override { client_->set_on_lost(std::move(on_lost)); }
  bool is_open() const override { return client_->is_open(); }
  std::string greeting() const override { return client_->greeting(); }
  std::vector<std::string> capabilities() const override;
  std::uint64_t commands_sent() const override { return client_->commands_sent(); }
  std::uint64_t bytes_in() const override { return client_->bytes_in(); }
  std::uint64_t bytes_out() const override { return client_->bytes_out(); }
  pop3::client* pop3() override { return client_.get(); }

 private:
  std::shared_ptr<pop3::client> client_;
  std::chrono::seconds dead_peer_timeout_;
  std::shared_ptr<net::connection_trace> trace_;
};

std::vector<std::string> pop3_upstream::capabilities() const { return client_->caps().names; }

}  // namespace

std::shared_ptr<upstream> make_pop3_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                                             upstream_options options) {
  return std::make_shared<pop3_upstream>(std::move(executor), std::move(tls), options);
}

}  // namespace mailbroker::session
