#include "trust/permission.hpp"

#include <array>

namespace mailbroker::trust {
namespace {

constexpr std::array<std::string_view, permission_count> names = {
    "connect", "attach",    "read",                 "modify",      "send",       "claim",
    "watch",   "admin",     "plaintext",            "insecure-skip-verify",       "vault-write", "vault-list", "vault-use"};

}  // namespace

std::string_view permission_name(permission p) { return names[static_cast<std::size_t>(p)]; }

std::optional<permission> permission_from_name(std::string_view name) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<permission>(i);
  }
  return std::nullopt;
}

}  // namespace mailbroker::trust
