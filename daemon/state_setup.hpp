#pragma once
// Opens the daemon's durable state at start: the state directory (created 0700), the
// vault key (MAILBROKER_VAULT_KEY, else the key file, created 0600 on first start) and
// the SQLite store; builds the token cache, vault reader and watch positions over it.
#include <memory>

#include "auth/token_cache.hpp"
#include "common/error.hpp"
#include "daemon/daemon_config.hpp"
#include "daemon/watch_position_store.hpp"
#include "store/state_store.hpp"

namespace mailbroker::daemon {

struct daemon_state {
  std::shared_ptr<store::state_store> store;  // null with state-dir none
  std::shared_ptr<auth::token_cache> tokens;
  std::shared_ptr<const secrets::vault_reader> vault;  // null with state-dir none
  // Graph watches' delta links across restarts; null with state-dir none (watches then
  // always start from now on).
  std::shared_ptr<watch_position_store> watch_positions;
};

// Errors: failed_precondition (directory not creatable, key file unreadable or too
// open, a key that does not open the store: the message names both key ids),
// invalid_argument (malformed MAILBROKER_VAULT_KEY), internal.
result<daemon_state> open_daemon_state(const daemon_config& config);

}  // namespace mailbroker::daemon
