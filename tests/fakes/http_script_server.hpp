#pragma once
// An HTTP(S) server on 127.0.0.1:0 whose connections are played by test code: for a
// persistent client (net::http_connection) it serves many requests per connection,
// counts TCP connections, and misbehaves on demand (closes an idle connection, drops
// after reading a request, stalls, floods, streams with pauses).
//
// Each accepted connection runs `handler(peer)` on its own thread with blocking I/O
// (after the TLS handshake, unless plain). The handler reads requests and writes raw
// response bytes; when it returns the connection is closed (a FIN; no close_notify).
// The destructor shuts every socket down, which unblocks the handlers, and joins them.
//
// Certificates: test_pki (fakes/https_test_server.hpp).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes/https_test_server.hpp"
#include "net/asio.hpp"

namespace mailbroker::testing {

struct script_request {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case, in order
  int connection = 0;                                        // 1 = the first connection accepted

  // First value of `name` (lower case), "" when absent; has() tells the two apart.
  std::string header(const std::string& name) const;
  bool has(const std::string& name) const;
};

// One accepted connection, as the handler sees it. Blocking; every call returns false /
// nullopt once the client is gone.
class http_peer {
 public:
  virtual ~http_peer() = default;
  // The next request (headers and Content-Length body), or nullopt at EOF or error.
  virtual std::optional<script_request> read_request() = 0;
  virtual bool write(const std::string& bytes) = 0;
  // Writes `unit` `times` times (no big buffer); the bytes written before the client left.
  virtual std::uint64_t flood(const std::string& unit, std::uint64_t times) = 0;
  // Blocks until the client closes the connection (or the server shuts down).
  virtual void wait_for_client_close() = 0;
  // Sends a FIN now (the handler may then return, or wait_for_client_close()).
  virtual void close_send() = 0;
  virtual int connection() const = 0;
};

class http_script_server {
 public:
  using handler = std::function<void(http_peer&)>;
  struct options {
    bool tls = true;
    https_test_server::certificate cert = https_test_server::certificate::localhost_and_ip;
  };

  explicit http_script_server(handler h) : http_script_server(std::move(h), options{}) {}
  http_script_server(handler h, options opts);
  ~http_script_server();
  http_script_server(const http_script_server&) = delete;
  http_script_server& operator=(const http_script_server&) = delete;

  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }  // accepted, TLS failures included
  std::vector<script_request> requests() const;

  // "HTTP/1.1 <status> X\r\nContent-Length: n\r\n<extra>\r\n<body>"; `extra` lines end in CRLF.
  static std::string response(int status, const std::string& body, const std::string& extra_headers = {});
  // A chunked response with these chunks (and the last chunk).
  static std::string chunked_response(int status, const std::vector<std::string>& chunks);

 private:
  void accept_loop();
  void serve(int number, asio::ip::tcp::socket socket);

  handler handler_;
  options options_;
  asio::io_context io_;  // only for the sockets' sake: all I/O here is blocking
  asio::ssl::context tls_{asio::ssl::context::tls_server};
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<script_request> requests_;
  std::vector<int> fds_;  // sockets to shut down on destruction
  std::vector<std::thread> threads_;
  std::thread acceptor_thread_;

 public:
  // For the http_peer implementation (the .cpp).
  void record(script_request request);
};

}  // namespace mailbroker::testing
