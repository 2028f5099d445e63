// upstream over an IMAP connection (protocol/imap/client).
#include <spdlog/spdlog.h>

#include "protocol/imap/client.hpp"
#include "protocol/imap/mailbox_codec.hpp"
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
  awaitable<result<bool>> wait_for_news(const std::string& folder_wire, std::chrono::milliseconds max,
                                        std::chrono::milliseconds timeout) override;
  void interrupt_wait() override {
    if (idling_) client_->interrupt_idle();
  }
  std::string greeting() const override { return client_->greeting(); }
  std::vector<std::string> capabilities() const override { return client_->capabilities(); }
  std::uint64_t commands_sent() const override { return client_->commands_sent(); }
  std::uint64_t bytes_in() const override { return client_->bytes_in(); }
  std::uint64_t bytes_out() const override { return client_->bytes_out(); }
  imap::client* imap() override { return client_.get(); }

 private:
  std::shared_ptr<imap::client> client_;
  std::chrono::seconds dead_peer_timeout_;
  bool idling_ = false;
  std::shared_ptr<net::connection_trace> trace_;
};

// IDLE ends early for these: new mail (RFC 2177; RECENT for servers that send it alone).
bool announces_new_mail(const imap::response& r) {
  return r.type == imap::response_type::untagged && (r.name == "EXISTS" || r.name == "RECENT");
}

awaitable<result<bool>> imap_upstream::wait_for_news(const std::string& folder_wire, std::chrono::milliseconds max,
                                                     std::chrono::milliseconds timeout) {
  if (!imap::has_capability(client_->capabilities(), "IDLE") || folder_wire.empty()) co_return false;
  idling_ = true;
  auto r = co_await client_->idle(max, timeout, announces_new_mail);
  idling_ = false;
  if (!r) co_return r.err();
  if (r->status == "OK") co_return true;
  spdlog::warn("IDLE refused ({} {}); polling instead", r->status, r->text);
  co_return false;
}

}  // namespace

std::shared_ptr<upstream> make_imap_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                                             upstream_options options) {
  return std::make_shared<imap_upstream>(std::move(executor), std::move(tls), options);
}

}  // namespace mailbroker::session
