#pragma once
// The permissions of the trust policy and their config-file names.
#include <cstdint>
#include <optional>
#include <string_view>

namespace mailbroker::trust {

enum class permission : std::uint8_t {
  connect,               // create a session (Connect that creates, Authorize)
  attach,                // Connect to an existing session (get a lease)
  read,                  // list folders / messages, read messages, parts, attachments
  modify,                // flags, move, copy, delete
  send,                  // send, reply, forward
  claim,                 // claim / ack / release
  watch,                 // WatchMessages, WatchStatus and Status of the session
  admin,                 // force disconnect, replace, others' leases, Status of everything
  plaintext,             // a spec with allow_plaintext
  insecure_skip_verify,  // a spec with insecure_skip_verify
  vault_write,           // vault put / delete (targets: entry names)
  vault_list,            // vault list (target: entry names shown)
  vault_use,             // create a session whose spec names the vault entry (target: entry name)
};
inline constexpr std::size_t permission_count = 13;

// "connect", "vault-write", "insecure-skip-verify", ...
std::string_view permission_name(permission p);
std::optional<permission> permission_from_name(std::string_view name);

// True for permissions whose target is a vault entry name, not a session name.
inline bool targets_vault(permission p) {
  return p == permission::vault_write || p == permission::vault_list || p == permission::vault_use;
}

}  // namespace mailbroker::trust
