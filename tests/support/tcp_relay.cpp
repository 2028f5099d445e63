#include "support/tcp_relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace mailbroker::testing {

struct tcp_relay::pair {
  int client = -1, server = -1;
  std::shared_ptr<std::atomic<int>> server_delay_ms;
  ~pair() {
    if (client >= 0) ::close(client);
    if (server >= 0) ::close(server);
  }
  void shut() {
    ::shutdown(client, SHUT_RDWR);
    ::shutdown(server, SHUT_RDWR);
  }
};

namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

tcp_relay::tcp_relay(std::uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("tcp_relay: socket: " + std::string(std::strerror(errno)));
  auto a = loopback(0);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("tcp_relay: cannot listen: " + std::string(std::strerror(errno)));
  }
  port_ = ntohs(a.sin_port);
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("tcp_relay: pipe: " + std::string(std::strerror(errno)));
  }
  acceptor_ = std::thread([this] { accept_loop(); });
}

tcp_relay::~tcp_relay() {
  const char stop = 'x';
  (void)::write(stop_pipe_[1], &stop, 1);
  acceptor_.join();
  cut();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void tcp_relay::cut() {
  std::lock_guard lock(mutex_);
  for (auto& p : pairs_) p->shut();
  pairs_.clear();
}

std::size_t tcp_relay::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

void tcp_relay::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    auto p = std::make_shared<pair>();
    p->client = client;
    p->server_delay_ms = server_delay_ms_;
    p->server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto target = loopback(target_port_);
    if (p->server < 0 || ::connect(p->server, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) continue;
    std::lock_guard lock(mutex_);
    ++accepted_;
    pairs_.push_back(p);
    threads_.emplace_back([p] { pump(p); });
  }
}

void tcp_relay::pump(const std::shared_ptr<pair>& p) {
  char buffer[16384];
  for (;;) {
    pollfd fds[2] = {{p->client, POLLIN, 0}, {p->server, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bool ok = true;
    for (int i = 0; i < 2 && ok; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (n > 0 && i == 1) {
        if (const int ms = p->server_delay_ms->load(); ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      }
      ok = n > 0 && write_all(fds[1 - i].fd, buffer, static_cast<std::size_t>(n));
    }
    if (!ok) break;
  }
  p->shut();
}

}  // namespace mailbroker::testing
