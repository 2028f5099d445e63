#include "common/paths.hpp"

#include <unistd.h>

#include <cstdlib>

namespace mailbroker {

std::string default_socket_path() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/mailbroker/mailbrokerd.sock";
  }
  if (::geteuid() == 0) return "/run/mailbroker/mailbrokerd.sock";
  return "/tmp/mailbroker-" + std::to_string(::geteuid()) + "/mailbrokerd.sock";
}

}  // namespace mailbroker
