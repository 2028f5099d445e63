#pragma once
// A one-connection TLS server on 127.0.0.1:0 for transport tests: it accepts, does the
// TLS handshake with a test_pki certificate, then runs a test-supplied script with
// blocking OpenSSL calls on its own thread — so a test can send a KeyUpdate, start a
// renegotiation, stall, flood or close at an exact point, which HTTP or IMAP servers
// cannot be asked to do. The destructor stops it wherever it is (the client going away
// unblocks the script; the listening and connected sockets are shut down).
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <openssl/ssl.h>

namespace mailbroker::testing {

// The server side of the accepted connection, for the script (blocking calls).
class tls_script_connection {
 public:
  explicit tls_script_connection(SSL* ssl) : ssl_(ssl) {}
  SSL* ssl() { return ssl_; }
  // Reads up to and including "\n"; returns what it has (maybe without "\n") at EOF/error.
  std::string read_line();
  // Reads exactly `n` bytes unless the connection ends first.
  std::string read_exact(std::size_t n);
  // Writes all of `data`; false on error.
  bool write(const std::string& data);
  // Blocks until the client closes (or sends something, which is discarded).
  void wait_for_close();

 private:
  SSL* ssl_;
  std::string pending_;  // bytes read past the last line
};

class tls_script_server {
 public:
  struct options {
    int max_version = 0;  // e.g. TLS1_2_VERSION to allow a renegotiation; 0 = newest
    bool close_notify = true;  // after the script: send close_notify (else just close TCP)
  };
  using script = std::function<void(tls_script_connection&)>;

  explicit tls_script_server(script s) : tls_script_server(std::move(s), options{}) {}
  tls_script_server(script s, options opts);
  ~tls_script_server();
  tls_script_server(const tls_script_server&) = delete;
  tls_script_server& operator=(const tls_script_server&) = delete;

  std::uint16_t port() const { return port_; }
  // The SNI the client sent ("" for none), once the handshake is done.
  std::string sni() const;
  // Whether the handshake succeeded and the script finished.
  bool script_done() const { return script_done_.load(); }
  // Handshake messages received from the client, by type (1 = ClientHello, 24 = KeyUpdate).
  int handshake_messages_received(int type) const;

 private:
  void serve();
  static void on_message(int write_p, int version, int content_type, const void* buf, std::size_t len, SSL* ssl,
                         void* arg);

  script script_;
  options options_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  std::atomic<int> conn_fd_{-1};
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::string sni_;
  int received_[256] = {};
  std::atomic<bool> script_done_{false};
  std::thread thread_;
};

}  // namespace mailbroker::testing
