#include "common/paths.hpp"

#include <unistd.h>

#include <cstdlib>

namespace mailbroker {

std::string default_socket_path() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/mailbroker/mailbrokerd.sock";
  }
  if (::geteuid() == 0) return "/run/mailbroker/mailbrokerd.sock";
  // Never a fixed /tmp path: another user could create it first and take the socket over.
  return default_state_dir() + "/mailbrokerd.sock";
}

std::string default_state_dir() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
  };
  if (auto systemd = env("STATE_DIRECTORY"); !systemd.empty()) return systemd.substr(0, systemd.find(':'));
  if (::geteuid() == 0) return "/var/lib/mailbroker";
  if (auto xdg = env("XDG_STATE_HOME"); !xdg.empty()) return xdg + "/mailbroker";
  if (auto home = env("HOME"); !home.empty()) return home + "/.local/state/mailbroker";
  return "/tmp/mailbroker-state-" + std::to_string(::geteuid());
}

}  // namespace mailbroker
