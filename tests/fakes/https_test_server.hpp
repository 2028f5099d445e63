#pragma once
// An HTTP(S) server on 127.0.0.1:0 for HTTP client tests. It serves a fixed list of
// canned exchanges, one connection each, in order: accept, TLS handshake (unless
// plain), read one request, then answer with canned bytes — a full response, a partial
// one, garbage, or nothing at all. It records what it received. Runs its own
// io_context on its own thread; the destructor stops it wherever it is.
//
// The certificates come from test_pki: a throwaway CA and leaves generated in memory
// with OpenSSL's C API once per test process (EC P-256, valid for a day).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/asio.hpp"

namespace mailbroker::testing {

struct test_pki {
  std::string ca_file;        // PEM of the CA that signed both leaves, in a temp file
  std::string other_ca_file;  // PEM of an unrelated CA (nothing here is signed by it)
  std::string server_cert_pem, server_key_pem;    // SAN DNS:localhost, IP:127.0.0.1
  std::string ip_only_cert_pem, ip_only_key_pem;  // SAN IP:127.0.0.1 only
  // SAN example.test, autodiscover.example.test, mail.example.test and the same under
  // other.test: Autodiscover tests connect to 127.0.0.1 under these names.
  std::string names_cert_pem, names_key_pem;

  // Generated on first use; the temp files are removed at process exit. Throws
  // std::runtime_error if OpenSSL fails.
  static const test_pki& get();
};

struct canned_exchange {
  std::string response;  // bytes written once the request has been read
  bool answer = true;    // false: after reading the request, send nothing and wait for the client to leave

  // A complete response with Content-Length and Connection: close. `extra_headers`
  // are full lines, each ending in "\r\n".
  static canned_exchange respond(int status, std::string content_type, std::string body,
                                 std::string extra_headers = {});
  // Exactly these bytes (a partial response, chunked encoding, garbage...), then the
  // server closes its side (TCP FIN, no TLS close_notify).
  static canned_exchange raw(std::string bytes);
  // Reads the request and never answers.
  static canned_exchange silent();
};

struct received_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string sni;  // the TLS server name the client sent; "" for none or plain http

  // The header's value, or "" when absent. `name` in lower case.
  std::string header(const std::string& name) const;
};

class https_test_server {
 public:
  enum class certificate { localhost_and_ip, ip_only, example_names };
  struct options {
    bool tls = true;  // false: plain http
    certificate cert = certificate::localhost_and_ip;
  };

  explicit https_test_server(std::vector<canned_exchange> exchanges)
      : https_test_server(std::move(exchanges), options{}) {}
  https_test_server(std::vector<canned_exchange> exchanges, options opts);
  ~https_test_server();
  https_test_server(const https_test_server&) = delete;
  https_test_server& operator=(const https_test_server&) = delete;

  std::uint16_t port() const { return port_; }
  // Requests read so far, in order (exchanges whose handshake or read failed have none).
  std::vector<received_request> requests() const;
  // Connections accepted so far, including those whose TLS handshake failed.
  int connections() const;

 private:
  awaitable<void> serve();
  template <class Stream>
  awaitable<void> serve_one(Stream& stream, const canned_exchange& exchange, std::string sni);

  std::vector<canned_exchange> exchanges_;
  options options_;
  // Declared before io_: coroutine frames still holding SSL objects are destroyed with
  // io_, and must not outlive the context.
  asio::ssl::context tls_{asio::ssl::context::tls_server};
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<received_request> requests_;
  int connections_ = 0;
  std::thread thread_;
};

}  // namespace mailbroker::testing
