#include "fakes/http_script_server.hpp"

#include <boost/beast/http.hpp>

#include <sys/socket.h>

#include <algorithm>

namespace mailbroker::testing {
namespace {

namespace http = beast::http;

std::string lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

template <class Stream>
class peer_impl final : public http_peer {
 public:
  peer_impl(Stream& stream, int number, http_script_server& server)
      : stream_(stream), number_(number), server_(server) {}

  std::optional<script_request> read_request() override {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    error_code ec;
    http::read(stream_, buffer_, parser, ec);
    if (ec) return std::nullopt;
    const auto& message = parser.get();
    script_request out;
    out.method = std::string(message.method_string());
    out.target = std::string(message.target());
    for (const auto& field : message) {
      out.headers.emplace_back(lower(std::string(field.name_string())), std::string(field.value()));
    }
    out.body = message.body();
    out.connection = number_;
    server_.record(out);
    return out;
  }

  bool write(const std::string& bytes) override {
    error_code ec;
    asio::write(stream_, asio::buffer(bytes), ec);
    return !ec;
  }

  std::uint64_t flood(const std::string& unit, std::uint64_t times) override {
    std::string block;
    while (block.size() < 64 * 1024 && times > 0) {
      block += unit;
      --times;
    }
    std::uint64_t sent = 0;
    for (;;) {
      error_code ec;
      sent += asio::write(stream_, asio::buffer(block), ec);
      if (ec || times == 0) return sent;
      const std::uint64_t units = std::min<std::uint64_t>(times, block.size() / unit.size());
      block.resize(units * unit.size());
      times -= units;
    }
  }

  void wait_for_client_close() override {
    char byte = 0;
    error_code ec;
    while (!ec) stream_.read_some(asio::buffer(&byte, 1), ec);
  }

  void close_send() override {
    error_code ignored;
    beast::get_lowest_layer(stream_).shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }

  int connection() const override { return number_; }

 private:
  Stream& stream_;
  beast::flat_buffer buffer_;
  int number_;
  http_script_server& server_;
};

}  // namespace

std::string script_request::header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return {};
}

bool script_request::has(const std::string& name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
}

std::string http_script_server::response(int status, const std::string& body, const std::string& extra_headers) {
  return "HTTP/1.1 " + std::to_string(status) + " Scripted\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra_headers + "\r\n" + body;
}

std::string http_script_server::chunked_response(int status, const std::vector<std::string>& chunks) {
  static const char* hex = "0123456789abcdef";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " Scripted\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const auto& chunk : chunks) {
    std::string size;
    for (std::size_t n = chunk.size(); n > 0; n /= 16) size.insert(size.begin(), hex[n % 16]);
    out += size + "\r\n" + chunk + "\r\n";
  }
  return out + "0\r\n\r\n";
}

http_script_server::http_script_server(handler h, options opts)
    : handler_(std::move(h)),
      options_(opts),
      acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  if (options_.tls) {
    const auto& pki = test_pki::get();
    const bool ip_only = options_.cert == https_test_server::certificate::ip_only;
    const bool names = options_.cert == https_test_server::certificate::example_names;
    const std::string& cert = ip_only ? pki.ip_only_cert_pem : names ? pki.names_cert_pem : pki.server_cert_pem;
    const std::string& key = ip_only ? pki.ip_only_key_pem : names ? pki.names_key_pem : pki.server_key_pem;
    tls_.use_certificate_chain(asio::buffer(cert));
    tls_.use_private_key(asio::buffer(key), asio::ssl::context::pem);
  }
  acceptor_thread_ = std::thread([this] { accept_loop(); });
}

http_script_server::~http_script_server() {
  stopping_ = true;
  // shutdown() wakes a blocking accept() or read() on Linux; close() would not.
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  acceptor_thread_.join();
  {
    std::lock_guard lock(mutex_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
}

std::vector<script_request> http_script_server::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void http_script_server::record(script_request request) {
  std::lock_guard lock(mutex_);
  requests_.push_back(std::move(request));
}

void http_script_server::accept_loop() {
  for (;;) {
    error_code ec;
    asio::ip::tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (ec || stopping_) return;
    const int number = ++connections_;
    socket.set_option(asio::ip::tcp::no_delay(true), ec);  // no Nagle + delayed-ACK stalls between writes
    std::lock_guard lock(mutex_);
    fds_.push_back(socket.native_handle());
    threads_.emplace_back([this, number, s = std::make_shared<asio::ip::tcp::socket>(std::move(socket))]() mutable {
      serve(number, std::move(*s));
    });
  }
}

void http_script_server::serve(int number, asio::ip::tcp::socket socket) {
  const int fd = socket.native_handle();
  auto forget = [&] {
    std::lock_guard lock(mutex_);
    fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
  };
  if (!options_.tls) {
    peer_impl<asio::ip::tcp::socket> peer(socket, number, *this);
    handler_(peer);
    peer.close_send();
    forget();
    return;
  }
  asio::ssl::stream<asio::ip::tcp::socket&> stream(socket, tls_);
  error_code ec;
  stream.handshake(asio::ssl::stream_base::server, ec);
  if (!ec) {
    peer_impl<asio::ssl::stream<asio::ip::tcp::socket&>> peer(stream, number, *this);
    handler_(peer);
    peer.close_send();
  }
  forget();
}

}  // namespace mailbroker::testing
