#pragma once
// The one place that answers "may this caller do this?" (DESIGN.md, Trust). Every
// handler asks it before any work starts:
//   identify()   who is calling: the unix peer's kernel credentials, the TCP peer's
//                verified client certificate or configured bearer token;
//   require()    PERMISSION_DENIED naming the permission and the session, audited;
//   check_lease() the lease belongs to the caller (or the caller is an admin of its
//                session), and the permission holds on that session;
//   check_spec() a Connect's spec sends no daemon-side secret anywhere it is not bound
//                to, never over plaintext or unverified TLS, reads no file outside the
//                allowed directories, and uses allow_plaintext / insecure_skip_verify only
//                with those permissions. For EWS by Autodiscover the mail server is not
//                known yet: the secret must be allowed to one Autodiscover host of the
//                address's domain, and check_destination() decides each host at run time.
// Rules are swapped whole on reload (SIGHUP): a call sees one consistent policy.
#include <grpcpp/server_context.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "daemon/audit_log.hpp"
#include "daemon/daemon_config.hpp"
#include "session/session_registry.hpp"
#include "store/state_store.hpp"
#include "trust/policy.hpp"
#include "trust/principal.hpp"
#include "trust/secret_destinations.hpp"

namespace mailbroker::daemon {

class unix_peer_listener;

// The trust config compiled: what access_gate decides with.
struct access_rules {
  trust::policy policy{0};
  std::map<std::string, std::string> token_names_by_hash;  // lower-case hex SHA-256 → name
  struct secret_hosts_rule {
    std::string ref_pattern;  // "env:NAME" or "file:GLOB"
    std::vector<std::string> hosts;
  };
  std::vector<secret_hosts_rule> secret_hosts;
  std::vector<std::string> secret_file_dirs;  // canonical, each ending in '/'
  std::vector<std::string> identity_order;    // "uri", "dns", "cn"
  std::map<std::string, std::vector<std::string>> managed_hosts;  // connection → allowed hosts

  // Errors: invalid_argument as finish_config() reports them.
  static result<std::shared_ptr<const access_rules>> compile(const daemon_config& config, std::uint32_t owner_uid);
};

class access_gate {
 public:
  // `unix_peers` names unix callers (nullptr: no unix socket); `insecure_tcp`: TCP callers
  // without certificate or token are tcp:anonymous instead of refused. `protected_files`
  // (the vault key, the store) can never be read through a file: reference.
  access_gate(std::shared_ptr<const access_rules> rules, const unix_peer_listener* unix_peers, bool insecure_tcp,
              std::shared_ptr<store::state_store> store, std::vector<std::string> protected_files,
              std::unique_ptr<audit_log> audit);

  void install(std::shared_ptr<const access_rules> rules);
  std::shared_ptr<const access_rules> rules() const;

  // Errors: unauthenticated (a TCP caller with neither a verified certificate nor a
  // known bearer token; a unix caller the listener does not know).
  result<trust::principal> identify(const grpc::ServerContextBase& context) const;

  // PERMISSION_DENIED "`call`: PRINCIPAL lacks permission 'P' on session 'S'" (or on
  // vault entry), audited as denied. Allowed calls are not audited here (see note()).
  error require(const trust::principal& who, trust::permission what, std::string_view target, std::string_view call);
  // The same question without audit (for filtering lists).
  bool may(const trust::principal& who, trust::permission what, std::string_view target) const;
  // May `who` do `what` to some target (then filter with may())?
  bool may_some(const trust::principal& who, trust::permission what) const;

  // The lease's session when `who` may use `lease_id` with `what`. Errors: not_found
  // (unknown lease), permission_denied (someone else's lease; permission lacking).
  result<session::session_registry::lease_holder> check_lease(const session::session_registry& registry,
                                                              const trust::principal& who, const std::string& lease_id,
                                                              trust::permission what, std::string_view call);

  // See the header comment. `spec` is normalised. Errors: permission_denied naming the
  // field, the secret (by reference) and the destination, with the fix.
  // `creating`: the call may create the session, so naming a vault entry also needs
  // `vault-use` on it (attaching to a live session reuses its login and needs no more).
  error check_spec(const trust::principal& who, std::string_view session, const session::session_spec& spec,
                   bool creating, std::string_view call);

  // The run-time half of check_spec() for a session whose mail server is only known as
  // it runs (EWS by Autodiscover, session/ews_discovery.hpp): every daemon-side secret
  // `spec` sends to the mail server, sent to `host`:`port` over TLS. `owner` is the
  // principal id that created the session ("" when restored at start), for the audit
  // log. Errors as check_spec (permission_denied naming field, secret and host; audited).
  error check_destination(const std::string& owner, std::string_view session, const session::session_spec& spec,
                          const std::string& host, std::uint16_t port);

  // One daemon-side secret (`ref`; inline ones pass) sent to the endpoint `url` (a token
  // endpoint, for BeginAuthorization): bound there, never over http. Errors as check_spec.
  error check_secret_to(const trust::principal& who, std::string_view target, const secrets::secret_ref& ref,
                        const std::string& field, const std::string& url, std::string_view call);

  // An allowed action worth an audit line (connect, attach, force, mutation, send, vault).
  void note(const trust::principal& who, std::string_view call, std::string_view session,
            trust::permission what, std::string_view outcome, std::string_view detail = {});

 private:
  error check_use(const access_rules& rules, const trust::principal& who, std::string_view session,
                  const trust::secret_use& use, bool creating, std::string_view call);
  std::vector<std::string> allowed_hosts_of(const access_rules& r, const trust::secret_use& use, error& why) const;

  mutable std::mutex mutex_;
  std::shared_ptr<const access_rules> rules_;  // guarded by mutex_ (the pointer; rules are immutable)
  const unix_peer_listener* unix_peers_;
  bool insecure_tcp_;
  std::shared_ptr<store::state_store> store_;
  std::vector<std::string> protected_files_;
  std::unique_ptr<audit_log> audit_;
};

}  // namespace mailbroker::daemon
