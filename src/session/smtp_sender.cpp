#include "session/smtp_sender.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "net/tls_context.hpp"
#include "session/session_metrics.hpp"

namespace mailbroker::session {
namespace {

// A connection idle longer than this is probed with NOOP before the next message.
constexpr std::chrono::seconds probe_after_idle{10};

smtp::tls_mode to_smtp(tls_mode m) {
  switch (m) {
    case tls_mode::implicit: return smtp::tls_mode::implicit;
    case tls_mode::starttls: return smtp::tls_mode::starttls;
    case tls_mode::plain: return smtp::tls_mode::plain;
  }
  return smtp::tls_mode::implicit;
}

}  // namespace

smtp::connect_options smtp_connect_options(const smtp_leg& leg, std::chrono::milliseconds timeout) {
  smtp::connect_options options;
  options.host = leg.host;
  options.port = static_cast<std::uint16_t>(leg.port);
  options.tls = to_smtp(leg.tls);
  options.tls_server_name = leg.tls_server_name;
  options.verify_certificate = !leg.insecure_skip_verify;
  options.timeout = timeout;
  return options;
}

smtp_sender::smtp_sender(asio::any_io_executor strand, smtp_leg leg, std::chrono::milliseconds timeout,
                         credentials_fn creds)
    : strand_(std::move(strand)), leg_(std::move(leg)), timeout_(timeout), creds_(std::move(creds)) {}

smtp_sender::~smtp_sender() {
  if (client_) client_->close(error{errc::cancelled, "session closed"});
}

awaitable<error> smtp_sender::connect() {
  if (!tls_) {
    auto tls = net::make_client_tls_context({leg_.ca_file, !leg_.insecure_skip_verify});
    if (!tls) co_return tls.err();
    tls_ = tls.value();
  }
  if (client_) client_->close(error{errc::cancelled, "replaced"});
  client_ = std::make_shared<smtp::client>(strand_, tls_);
  auto options = smtp_connect_options(leg_, timeout_);
  if (auto e = co_await client_->open(std::move(options)); !e.ok()) {
    client_.reset();
    co_return error{e.code, "SMTP " + leg_.host + ":" + std::to_string(leg_.port) + ": " + e.message};
  }
  auto creds = co_await creds_();
  if (!creds) {
    client_->close(creds.err());
    client_.reset();
    co_return creds.err();
  }
  error e;
  if (creds->oauth) {
    auto mechanism = co_await client_->authenticate_oauth(creds->user, creds->secret);
    e = mechanism ? error::none() : mechanism.err();
  } else {
    e = co_await client_->login(creds->user, creds->secret);
  }
  std::fill(creds->secret.begin(), creds->secret.end(), '\0');
  if (!e.ok()) {
    client_->close(e);
    client_.reset();
    co_return error{e.code, "SMTP login as " + creds->user + ": " + e.message};
  }
  spdlog::info("smtp {}:{}: logged in as {}", leg_.host, leg_.port, creds->user);
  co_return error::none();
}

awaitable<result<smtp::send_result>> smtp_sender::send(smtp::envelope env, std::string message) {
  const auto now = std::chrono::steady_clock::now();
  if (client_ && client_->is_open() && now - last_used_ > probe_after_idle) {
    if (auto e = co_await client_->noop(timeout_); !e.ok()) {
      spdlog::info("smtp {}:{}: idle connection gone ({}); reconnecting", leg_.host, leg_.port, e.message);
      client_->close(e);
      client_.reset();
    }
  }
  auto failed = [this](const error& e) {
    ++send_failures_;
    metrics_hooks::smtp_send(false);
    last_error_ = e;
    last_error_at_ = std::chrono::system_clock::now();
  };
  if (!client_ || !client_->is_open()) {
    if (auto e = co_await connect(); !e.ok()) {
      failed(e);
      co_return e;
    }
  }
  auto r = co_await client_->send(std::move(env), std::move(message), timeout_);
  last_used_ = std::chrono::steady_clock::now();
  if (r) {
    ++messages_sent_;
    metrics_hooks::smtp_send(true);
  } else {
    failed(r.err());
  }
  co_return r;
}

awaitable<void> smtp_sender::close() {
  if (client_ && client_->is_open()) co_await client_->quit(std::chrono::seconds(3));
  client_.reset();
}

}  // namespace mailbroker::session
