#pragma once
#include <string>

namespace mailbroker {

// Where mailbrokerd listens by default and the CLI looks first:
// $XDG_RUNTIME_DIR/mailbroker/mailbrokerd.sock, else /run/mailbroker/mailbrokerd.sock
// for root, else /tmp/mailbroker-$UID/mailbrokerd.sock.
std::string default_socket_path();

// Where mailbrokerd keeps its store and vault key by default: $STATE_DIRECTORY (set by
// systemd's StateDirectory=), else /var/lib/mailbroker for root, else
// $XDG_STATE_HOME/mailbroker, else $HOME/.local/state/mailbroker.
std::string default_state_dir();

}  // namespace mailbroker
