#pragma once
// The unix-socket listener that knows who is calling. gRPC's own unix listener does not
// expose the peer's credentials, so the daemon accepts connections itself, asks the
// kernel who the peer is (SO_PEERCRED: uid, gid, pid; supplementary groups from the
// user database), remembers that by file descriptor, and hands the connection to gRPC
// (AddInsecureChannelFromFd). gRPC then names the call's peer "fd:N", which
// principal_of() maps back. A descriptor number is reused only after gRPC closed the
// connection, and the table is written before the new connection is handed over, so a
// live call always finds its own peer.
#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/error.hpp"
#include "trust/principal.hpp"

namespace grpc {
class Server;
}

namespace mailbroker::daemon {

class unix_peer_listener {
 public:
  unix_peer_listener() = default;
  ~unix_peer_listener();
  unix_peer_listener(const unix_peer_listener&) = delete;
  unix_peer_listener& operator=(const unix_peer_listener&) = delete;

  // Binds `path` (mode `mode`) and starts accepting into `server`, which must be built
  // and outlive stop(). The directory must already be checked (socket_directory.hpp).
  // Errors: failed_precondition naming the path and errno text.
  error start(grpc::Server* server, const std::string& path, mode_t mode);
  // Stops accepting (connections already handed over stay with gRPC); unlinks the socket.
  void stop();

  // The principal of a call whose gRPC peer string is `peer` ("fd:N"), if it came in here.
  std::optional<trust::principal> principal_of(const std::string& peer) const;

 private:
  void accept_loop();

  grpc::Server* server_ = nullptr;
  std::string path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop() wakes the accept loop
  std::thread thread_;
  mutable std::mutex mutex_;
  std::unordered_map<int, trust::principal> peers_;  // guarded by mutex_
};

}  // namespace mailbroker::daemon
