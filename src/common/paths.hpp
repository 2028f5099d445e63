#pragma once
#include <string>

namespace mailbroker {

// Where mailbrokerd listens by default and the CLI looks first:
// $XDG_RUNTIME_DIR/mailbroker/mailbrokerd.sock, else /run/mailbroker/mailbrokerd.sock
// for root, else /tmp/mailbroker-$UID/mailbrokerd.sock.
std::string default_socket_path();

}  // namespace mailbroker
