#pragma once
// A TCP relay for tests: listens on 127.0.0.1 (a free port) and copies bytes both ways to
// 127.0.0.1:target_port, so a test can cut every connection through it at once, as a
// network failure would (TLS passes through untouched: the client still talks to the
// real server). Threads, no Asio: one accept thread, one thread per relayed connection.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace mailbroker::testing {

class tcp_relay {
 public:
  // Throws std::runtime_error when it cannot listen.
  explicit tcp_relay(std::uint16_t target_port);
  ~tcp_relay();
  tcp_relay(const tcp_relay&) = delete;
  tcp_relay& operator=(const tcp_relay&) = delete;

  std::uint16_t port() const { return port_; }
  // Closes (RST-free shutdown, both sides) every connection relayed so far; later ones
  // are relayed as before.
  void cut();
  // Connections accepted so far.
  std::size_t accepted() const;
  // From now on each chunk the server sends reaches the client this much later (chunks
  // one after another: a slow link, for making a response take a while). 0: none.
  void set_server_delay(std::chrono::milliseconds delay) { server_delay_ms_->store(static_cast<int>(delay.count())); }

 private:
  struct pair;
  void accept_loop();
  static void pump(const std::shared_ptr<pair>& p);

  std::shared_ptr<std::atomic<int>> server_delay_ms_ = std::make_shared<std::atomic<int>>(0);
  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<pair>> pairs_;
  std::vector<std::thread> threads_;
  std::size_t accepted_ = 0;
  std::thread acceptor_;
};

}  // namespace mailbroker::testing
