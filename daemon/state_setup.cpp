#include "daemon/state_setup.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "daemon/store_adapters.hpp"
#include "store/secret_key.hpp"

namespace mailbroker::daemon {

result<daemon_state> open_daemon_state(const daemon_config& config) {
  daemon_state state;
  const std::string dir = effective_state_dir(config);
  if (dir.empty()) {
    spdlog::warn("state-dir none: no vault; refresh tokens and sessions live in memory only");
    state.tokens = std::make_shared<auth::token_cache>();
    return state;
  }
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return error{errc::failed_precondition, "state-dir: cannot create " + dir + ": " + ec.message()};
    ::chmod(dir.c_str(), 0700);  // it will hold the key file and the store
  }

  result<store::secret_key> key = error{};
  if (const char* env = std::getenv("MAILBROKER_VAULT_KEY"); env != nullptr && *env != '\0') {
    key = store::parse_key_text(env, "MAILBROKER_VAULT_KEY");
  } else {
    key = store::load_or_create_key_file(effective_vault_key_file(config));
  }
  if (!key) return key.err();
  auto opened = store::state_store::open(effective_store_path(config), std::move(key.value()));
  if (!opened) return opened.err();
  state.store = std::shared_ptr<store::state_store>(std::move(opened.value()));
  spdlog::info("store: {} (key id {})", state.store->path(), state.store->key_id());
  auto vault = std::make_shared<store_vault_reader>(state.store);
  state.vault = vault;
  state.watch_positions = std::make_shared<watch_position_store>(state.store);
  state.tokens = std::make_shared<auth::token_cache>(auth::token_cache_settings{},
                                                     std::make_shared<store_refresh_tokens>(state.store), vault);
  return state;
}

}  // namespace mailbroker::daemon
