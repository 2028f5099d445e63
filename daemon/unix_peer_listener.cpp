#include "daemon/unix_peer_listener.hpp"

#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <spdlog/spdlog.h>

namespace mailbroker::daemon {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

// Supplementary groups of `uid`'s user (its primary `gid` included); just `gid` when
// the user database does not know the uid.
std::vector<std::uint32_t> groups_of(uid_t uid, gid_t gid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return {gid};
  int n = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (::getgrouplist(found->pw_name, gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(found->pw_name, gid, groups.data(), &n) < 0) return {gid};
  }
  groups.resize(static_cast<std::size_t>(n));
  return {groups.begin(), groups.end()};
}

}  // namespace

unix_peer_listener::~unix_peer_listener() { stop(); }

error unix_peer_listener::start(grpc::Server* server, const std::string& path, mode_t mode) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return {errc::invalid_argument, "socket: path '" + path + "' is longer than " +
                                        std::to_string(sizeof(addr.sun_path) - 1) + " bytes"};
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return {errc::failed_precondition, "socket: cannot create a unix socket: " + errno_text(errno)};
  ::unlink(path.c_str());  // a stale socket of a dead daemon (a live one was detected before)
  // The socket is created with no permissions for anyone else, then opened up to `mode`:
  // no window in which another user can connect before the mode is set.
  const mode_t old_mask = ::umask(0777);
  const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0 || ::listen(fd, 1024) != 0) {
    const int e = bound != 0 ? bind_errno : errno;
    ::close(fd);
    return {errc::failed_precondition, "socket: cannot listen on " + path + ": " + errno_text(e)};
  }
  if (::chmod(path.c_str(), mode) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return {errc::failed_precondition, "socket: cannot set the mode of " + path + ": " + errno_text(e)};
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    ::close(fd);
    return {errc::failed_precondition, "socket: eventfd: " + errno_text(errno)};
  }
  server_ = server;
  path_ = path;
  listen_fd_ = fd;
  thread_ = std::thread([this] { accept_loop(); });
  return error::none();
}

void unix_peer_listener::stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
  ::unlink(path_.c_str());
}

void unix_peer_listener::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("socket: poll failed: {}; no longer accepting bots on {}", errno_text(errno), path_);
      return;
    }
    if (fds[1].revents != 0) return;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      // EMFILE/ENFILE: back off briefly instead of spinning; the peer waits in the backlog.
      spdlog::warn("socket: accept failed: {}", errno_text(errno));
      ::poll(nullptr, 0, 100);
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      spdlog::warn("socket: SO_PEERCRED failed ({}); connection refused", errno_text(errno));
      ::close(fd);
      continue;
    }
    trust::principal p;
    p.k = trust::principal::kind::unix_peer;
    p.uid = cred.uid;
    p.gid = cred.gid;
    p.pid = static_cast<std::uint32_t>(cred.pid);
    p.groups = groups_of(cred.uid, cred.gid);
    {
      std::lock_guard lock(mutex_);
      peers_[fd] = std::move(p);
    }
    grpc::AddInsecureChannelFromFd(server_, fd);
  }
}

std::optional<trust::principal> unix_peer_listener::principal_of(const std::string& peer) const {
  if (peer.rfind("fd:", 0) != 0) return std::nullopt;
  int fd = -1;
  try {
    fd = std::stoi(peer.substr(3));
  } catch (...) {
    return std::nullopt;
  }
  std::lock_guard lock(mutex_);
  auto it = peers_.find(fd);
  if (it == peers_.end()) return std::nullopt;
  return it->second;
}

}  // namespace mailbroker::daemon
