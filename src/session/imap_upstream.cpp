// upstream over an IMAP connection (protocol/imap/client).
#include "protocol/imap/client.hpp"
#include "session/upstream.hpp"

namespace mailbroker::session {
namespace {

imap::tls_mode to_imap(tls_mode m) {
  switch (m) {
    case tls_mode::implicit: return imap::tls_mode::implicit;
    case tls_mode::starttls: return imap::tls_mode::starttls;
    case tls_mode::plain: return imap::tls_mode::plain;
  }
  return imap::tls_mode::implicit;
}

class imap_upstream final : public upstream {
 public:
  imap_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls, upstream_options options)
      : client_(std::make_shared<imap::client>(std::move(executor), std::move(tls), options.imap)),
        dead_peer_timeout_(options.dead_peer_timeout),
        trace_(std::move(options.trace)) {}

  awaitable<error> open(const session_spec& spec) override {
    imap::connect_options options{spec.host, spec.port, to_imap(spec.tls), spec.tls_server_name,
                                  !spec.insecure_skip_verify, spec.connect_timeout, dead_peer_timeout_, trace_};
    co_return co_await client_->open(std::move(options));
  }
  awaitable<error> login(std::string user, std::string password) override {
    co_return co_await client_->login(user, password);
  }
  awaitable<result<std::string>> authenticate_oauth(std::string user, std::string token) override {
    co_return co_await client_->authenticate_oauth(user, token);
  }
  awaitable<error> noop(std::chrono::milliseconds timeout) override { co_return co_await client_->noop(timeout); }
  awaitable<void> logout(std::chrono::milliseconds timeout) override { co_await client_->logout(timeout); }
  void close(const error& why) override { client_->close(why); }
  void set_on_lost(std::function<void(error)> on_lost) override { client_->set_on_lost(std::move(on_lost)); }
  bool is_open() const override { return client_->is_open(); }
  std::string greeting() const override { return client_->greeting(); }
  std::vector<std::string> capabilities() const override { return client_->capabilities(); }
  std::uint64_t commands_sent() const override { return client_->commands_sent(); }
  std::uint64_t bytes_in() const override { return client_->bytes_in(); }
  std::uint64_t bytes_out() const override { return client_->bytes_out(); }
  imap::client* imap() override { return client_.get(); }

 private:
  std::shared_ptr<imap::client> client_;
  std::chrono::seconds dead_peer_timeout_;
  std::shared_ptr<net::connection_trace> trace_;
};

}  // namespace

std::shared_ptr<upstream> make_imap_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                                             upstream_options options) {
  return std::make_shared<imap_upstream>(std::move(executor), std::move(tls), options);
}

}  // namespace mailbroker::session
