#include "net/http_connection.hpp"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <array>
#include <ctime>

#include "net/deadline_guard.hpp"
#include "net/http_response_parser.hpp"
#include "net/mail_stream.hpp"

namespace mailbroker::net {
namespace {

namespace http = beast::http;
using asio::redirect_error;
using steady = std::chrono::steady_clock;

// Bytes asked of the socket per read: one TLS record.
constexpr std::size_t read_chunk_bytes = 16 * 1024;
// A request body up to this size goes out in the same write as the head.
constexpr std::size_t coalesce_body_bytes = 16 * 1024;

std::chrono::microseconds micros_since(steady::time_point from) {
  return std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - from);
}

// The peer closed or reset the connection (over TLS a close without close_notify shows
// as stream_truncated).
bool is_drop(error_code ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted || ec == asio::error::timed_out;
}

std::string peer_address(int fd) {
  if (fd < 0) return {};
  asio::ip::tcp::endpoint peer;
  socklen_t size = static_cast<socklen_t>(peer.capacity());
  if (::getpeername(fd, peer.data(), &size) != 0) return {};
  peer.resize(size);
  return peer.address().to_string();
}

void read_certificate(SSL* ssl, open_report& report) {
  report.tls_version = SSL_get_version(ssl);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
      char* data = nullptr;
      const long size = BIO_get_mem_data(bio, &data);
      if (size > 0) report.cert_subject.assign(data, static_cast<std::size_t>(size));
    }
    BIO_free(bio);
  }
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
    report.cert_not_after = std::chrono::system_clock::from_time_t(timegm(&tm));
  }
}

}  // namespace

// The read that is pending while the connection idles. Shared with its coroutine, which
// may finish after the connection is gone (owner is then null).
struct http_connection::idle_watch {
  explicit idle_watch(const asio::any_io_executor& ex, std::shared_ptr<mail_stream> s)
      : stream(std::move(s)), done(ex, steady::time_point::max()) {}
  std::shared_ptr<mail_stream> stream;
  asio::steady_timer done;  // cancelled when the read completes: wakes stop_idle_watch()
  http_connection* owner = nullptr;
  bool finished = false;
  bool stopping = false;  // we cancelled it ourselves
  error_code ec;
  std::size_t bytes = 0;
  std::array<char, 256> buffer{};
};

http_connection::http_connection(asio::any_io_executor executor, http_endpoint endpoint,
                                 http_connection_options options, std::shared_ptr<http_authenticator> auth)
    : executor_(std::move(executor)),
      endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      auth_(std::move(auth)),
      cookies_(endpoint_.host) {}

http_connection::~http_connection() {
  if (watch_) watch_->owner = nullptr;
  close_stream();
}

std::uint64_t http_connection::bytes_in() const { return retired_in_ + (stream_ ? stream_->bytes_in() : 0); }
std::uint64_t http_connection::bytes_out() const { return retired_out_ + (stream_ ? stream_->bytes_out() : 0); }

bool http_connection::is_open() const { return stream_ && stream_->is_open(); }

void http_connection::close() {
  if (busy_) closed_by_user_ = true;
  if (watch_) {
    watch_->owner = nullptr;
    watch_->stopping = true;
    watch_.reset();
  }
  close_stream();
}

void http_connection::close_stream() {
  if (stream_) stream_->close();
  in_.clear();
  reused_ = false;
}

awaitable<result<open_report>> http_connection::open() {
  if (busy_) co_return failure(errc::failed_precondition, "a request is in progress on this connection");
  busy_ = true;
  closed_by_user_ = false;
  co_await stop_idle_watch();
  close_stream();
  auto report = co_await open_stream();
  busy_ = false;
  co_return report;
}

awaitable<result<open_report>> http_connection::open_stream() {
  if (endpoint_.host.empty()) co_return error{errc::invalid_argument, "http_endpoint.host is empty"};
  if (endpoint_.tls && !options_.tls) {
    co_return failure(errc::invalid_argument, "an https endpoint needs a TLS context (http_connection_options.tls)");
  }
  if (options_.connect_timeout.count() <= 0 || options_.request_timeout.count() <= 0) {
    co_return failure(errc::invalid_argument, "connect_timeout and request_timeout must be positive");
  }
  if (stream_) {
    retired_in_ += stream_->bytes_in();
    retired_out_ += stream_->bytes_out();
  }
  close_stream();
  stream_ = std::make_shared<mail_stream>(executor_, options_.tls);
  if (options_.trace) stream_->set_trace(options_.trace);
  stream_->set_dead_peer_timeout(options_.dead_peer_timeout);
  const auto deadline = steady::now() + options_.connect_timeout;
  // mail_stream reports some of its timeouts as unavailable ("... timed out"); our
  // contract says deadline_exceeded for every one.
  auto failed = [&](error e) {
    close_stream();
    if (e.code == errc::unavailable && steady::now() >= deadline) e.code = errc::deadline_exceeded;
    e.message = endpoint_.origin() + ": " + e.message;
    return e;
  };

  open_report report;
  const std::string& connect_host = options_.connect_host.empty() ? endpoint_.host : options_.connect_host;
  const std::uint16_t connect_port = options_.connect_port != 0 ? options_.connect_port : endpoint_.port;
  if (auto e = co_await stream_->connect(connect_host, connect_port, options_.connect_timeout); !e.ok()) {
    co_return failed(std::move(e));
  }
  report.dns = stream_->resolve_time();
  report.tcp = stream_->connect_time();
  report.peer_address = peer_address(stream_->native_handle());

  if (endpoint_.tls) {
    const auto started = steady::now();
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - started);
    if (remaining.count() <= 0) co_return failed(error{errc::deadline_exceeded, "connect_timeout expired before TLS"});
    auto e = co_await stream_->start_tls(endpoint_.host, options_.verify_host, remaining);
    if (!e.ok()) {
      // With verify_host off mail_stream reports a bad chain as a handshake failure;
      // an untrusted certificate is failed_precondition whatever the host check.
      SSL* ssl = stream_->tls_handle();
      const long verdict = ssl != nullptr ? SSL_get_verify_result(ssl) : X509_V_OK;
      if (e.code == errc::unavailable && verdict != X509_V_OK && steady::now() < deadline) {
        e = error{errc::failed_precondition, std::string("the server's TLS certificate does not verify: ") +
                                                 X509_verify_cert_error_string(verdict)};
      }
      co_return failed(std::move(e));
    }
    report.tls = micros_since(started);
    read_certificate(stream_->tls_handle(), report);
  }
  if (auth_) auth_->reset();
  co_return report;
}

awaitable<result<http_response>> http_connection::send(http_request request) {
  return exchange(std::move(request), nullptr);
}

awaitable<result<http_response>> http_connection::send_streaming(http_request request, body_sink on_data) {
  // on_data lives in this frame while exchange() runs.
  auto response = co_await exchange(std::move(request), &on_data);
  co_return response;
}

awaitable<result<http_response>> http_connection::exchange(http_request request, body_sink* on_data) {
  if (busy_) co_return failure(errc::failed_precondition, "another request is in progress on this connection");
  // Checked before anything touches the network.
  if (auto head = build_request_head(request, endpoint_, {options_.user_agent, {}, {}}); !head) co_return head.err();
  busy_ = true;
  closed_by_user_ = false;
  struct not_busy {
    bool& flag;
    ~not_busy() { flag = false; }
  } release{busy_};

  co_await stop_idle_watch();
  bool may_reopen = true;  // once per request, and only for an idle connection found dead
  if (!is_open()) {
    auto opened = co_await open_stream();
    if (!opened) co_return opened.err();
    may_reopen = false;
  }

  const bool head_request = request.method == "HEAD";
  std::string authorization;
  bool answer_ready = false;  // `authorization` is the authenticator's answer to a 401
  int legs = 0;
  for (;;) {
    if (auth_ && !answer_ready) {
      auto value = auth_->authorization();
      if (!value) co_return value.err();
      authorization = std::move(*value);
    }
    answer_ready = false;
    const std::string cookie = cookies_.cookie_header(request.target, endpoint_.tls, std::chrono::system_clock::now());
    auto head = build_request_head(request, endpoint_, {options_.user_agent, authorization, cookie});
    if (!head) co_return head.err();

    const auto deadline = steady::now() + options_.request_timeout;
    if (auto e = co_await write_request(std::move(*head), request.body, deadline); !e.ok()) {
      const bool idle_one_was_dead = reused_ && e.code == errc::unavailable;
      close_stream();
      if (closed_by_user_) co_return failure(errc::cancelled, "the connection was closed while sending the request");
      if (idle_one_was_dead && may_reopen) {
        // The server dropped the idle connection just before we wrote: no request was
        // delivered whole, so sending it again cannot run it twice.
        may_reopen = false;
        auto opened = co_await open_stream();
        if (!opened) co_return opened.err();
        legs = 0;
        continue;
      }
      co_return e;
    }
    ++requests_sent_;

    bool keep_alive = false;
    auto response = co_await read_response(head_request, on_data, deadline, keep_alive);
    if (!response) {
      close_stream();
      co_return response.err();
    }
    for (const auto& value : response->headers_named("Set-Cookie")) {
      cookies_.store(value, request.target, std::chrono::system_clock::now());
    }
    if (in_.capacity() > 2 * read_chunk_bytes) std::string().swap(in_);  // idle connections stay small
    if (keep_alive && in_.empty() && is_open()) {
      reused_ = true;
    } else {
      // Connection: close, a body delimited by the close, a stopped stream, or bytes
      // after the response that no request asked for.
      close_stream();
    }

    const auto challenges = response->headers_named("WWW-Authenticate");
    if (response->status == 401 && auth_ && !challenges.empty()) {
      if (legs >= max_auth_legs) {
        close_stream();
        co_return failure(errc::unauthenticated, auth_->scheme() + ": the server still answers 401 after " +
                                                     std::to_string(max_auth_legs) + " authentication steps");
      }
      auto answer = auth_->respond(challenges);
      if (!answer) co_return failure(answer.err().code, answer.err().message);
      if (!is_open()) {
        co_return failure(errc::unavailable, auth_->scheme() +
                                                 ": the server closed the connection in the middle of the "
                                                 "authentication handshake (it must keep the connection open)");
      }
      authorization = std::move(*answer);
      answer_ready = true;
      ++legs;
      continue;
    }
    if (is_open()) start_idle_watch();
    co_return response;
  }
}

awaitable<error> http_connection::write_request(std::string head, const std::string& body, steady::time_point deadline) {
  const auto remaining = deadline - steady::now();
  error_code ec;
  if (body.size() <= coalesce_body_bytes) {
    head += body;
    co_await stream_->write(head, remaining, ec);
  } else {
    co_await stream_->write(head, remaining, ec);
    if (!ec) co_await stream_->write(body, deadline - steady::now(), ec);
  }
  if (!ec) co_return error::none();
  if (ec == asio::error::timed_out && steady::now() >= deadline) {
    co_return failure(errc::deadline_exceeded, "timed out sending the request (request_timeout " +
                                                   std::to_string(options_.request_timeout.count()) + " ms)");
  }
  co_return failure(errc::unavailable, "cannot send the request: " + ec.message());
}

awaitable<std::size_t> http_connection::read_more(steady::time_point deadline, error_code& ec, bool& expired) {
  const std::size_t old_size = in_.size();
  in_.resize(old_size + read_chunk_bytes);
  std::size_t n = 0;
  {
    // Closing the stream aborts the read; the guard is disarmed when it goes out of scope.
    deadline_guard guard(executor_, deadline - steady::now(), [stream = stream_] { stream->close(); });
    n = co_await stream_->read_some(asio::buffer(in_.data() + old_size, read_chunk_bytes), ec);
    expired = guard.expired();
  }
  in_.resize(old_size + n);
  co_return n;
}

awaitable<result<http_response>> http_connection::read_response(bool head_request, body_sink* on_data,
                                                                steady::time_point deadline, bool& keep_alive) {
  const http_response_limits limits{options_.max_header_bytes, options_.max_body_bytes};
  for (int interim = 0;; ++interim) {
    http_response_parser parser(limits);
    if (head_request) parser.expect_no_body();
    bool body_routed = false;
    bool streaming = false;
    for (;;) {
      error_code ec = http::error::need_more;
      if (!in_.empty()) {
        const std::size_t used = parser.put(in_, ec);
        in_.erase(0, used);
        if (!ec && used == 0) ec = http::error::need_more;  // no progress: never spin
      }
      if (parser.header_done() && !body_routed) {
        body_routed = true;
        const int status = parser.status();
        if (on_data != nullptr && status >= 200 && status < 300 && !head_request) {
          parser.stream_body_to(*on_data);
          streaming = true;
        }
      }
      if (parser.sink_stopped()) {
        close_stream();
        keep_alive = false;
        http_response out;
        out.status = parser.status();
        out.headers = std::move(parser.headers());
        co_return out;
      }
      if (ec == http::error::header_limit) {
        co_return failure(errc::unavailable, "the response header is larger than " +
                                                 std::to_string(options_.max_header_bytes) + " bytes or has more than " +
                                                 std::to_string(max_response_header_fields) + " fields");
      }
      if (ec == http::error::body_limit) {
        co_return failure(errc::unavailable,
                          std::string(streaming ? "a chunk of the streamed response body" : "the response body") +
                              " is larger than max_body_bytes (" + std::to_string(options_.max_body_bytes) +
                              " bytes)");
      }
      if (ec && ec != http::error::need_more) {
        co_return failure(errc::unavailable, "malformed HTTP response: " + ec.message());
      }
      if (parser.done()) break;
      if (!ec) continue;  // the header just completed: parse the body next
      if (in_.size() >= options_.max_header_bytes) {
        co_return failure(errc::unavailable, "a line of the response (chunk size or trailer) is longer than " +
                                                 std::to_string(options_.max_header_bytes) + " bytes");
      }
      const auto read_deadline = streaming ? steady::now() + options_.request_timeout : deadline;
      bool expired = false;
      co_await read_more(read_deadline, ec, expired);
      if (!ec) continue;
      if (expired) {
        co_return failure(errc::deadline_exceeded,
                          std::string(streaming ? "no data from the streamed response" : "no complete response") +
                              " within request_timeout (" + std::to_string(options_.request_timeout.count()) +
                              " ms)");
      }
      if (closed_by_user_) co_return failure(errc::cancelled, "the connection was closed while waiting for the response");
      if (is_drop(ec) && parser.got_some() && parser.need_eof()) {
        error_code eof_ec;
        parser.put_eof(eof_ec);  // a body delimited by the close is complete now
        if (!eof_ec) break;
      }
      co_return failure(errc::aborted, "the connection dropped after the request was sent and before the response "
                                       "was complete (" + ec.message() + "); the outcome is unknown");
    }
    const int status = parser.status();
    if (status >= 100 && status < 200 && status != 101) {
      if (interim + 1 >= max_interim_responses) co_return failure(errc::unavailable, "too many 1xx interim responses");
      continue;
    }
    keep_alive = parser.keep_alive() && !parser.need_eof();
    http_response out;
    out.status = status;
    out.headers = std::move(parser.headers());
    if (!streaming) out.body = std::move(parser.body());
    co_return out;
  }
}

void http_connection::start_idle_watch() {
  auto watch = std::make_shared<idle_watch>(executor_, stream_);
  watch->owner = this;
  watch_ = watch;
  asio::co_spawn(
      executor_,
      [watch]() -> awaitable<void> {
        // co_spawn only queues this coroutine: a send() may have come first.
        if (watch->stopping) {
          watch->ec = asio::error::operation_aborted;
        } else {
          watch->bytes = co_await watch->stream->read_some(asio::buffer(watch->buffer), watch->ec);
        }
        watch->finished = true;
        watch->done.cancel();
        if (watch->stopping || watch->owner == nullptr) co_return;
        watch->owner->idle_watch_finished(watch);
      },
      asio::detached);
}

void http_connection::idle_watch_finished(const std::shared_ptr<idle_watch>& watch) {
  watch_.reset();
  watch->owner = nullptr;
  close_stream();
  std::string cause;
  if (watch->bytes > 0) {
    cause = "the server sent bytes on the idle connection that no request asked for; closed it";
  } else if (watch->ec == asio::error::eof || watch->ec == asio::ssl::error::stream_truncated) {
    cause = "the server closed the idle connection";
  } else {
    cause = "the idle connection failed: " + watch->ec.message();
  }
  // Last: the callback may destroy this connection.
  auto callback = on_lost_;
  if (callback) callback(failure(errc::unavailable, cause));
}

awaitable<void> http_connection::stop_idle_watch() {
  auto watch = std::move(watch_);
  if (!watch) co_return;
  watch->stopping = true;
  if (!watch->finished) {
    watch->stream->cancel();
    error_code ignored;
    // finished is checked again: the read may have completed while cancel() ran.
    if (!watch->finished) co_await watch->done.async_wait(redirect_error(use_awaitable, ignored));
  }
  watch->owner = nullptr;
  // Anything but our own cancellation means the connection is gone (or talking out of
  // turn): the caller opens a new one.
  if (watch->bytes > 0 || watch->ec != asio::error::operation_aborted) close_stream();
}

}  // namespace mailbroker::net
