#pragma once
// The authorization policy: which principal may do what to which session (or vault
// entry). Pure: parsed from config lines, asked by daemon/access_gate before any work
// starts; handlers never decide alone.
//
// A rule is one config line `allow = PRINCIPALS PERMISSIONS TARGETS`:
//   PRINCIPALS  comma-separated: uid:N, user:NAME, gid:N, group:NAME (primary or
//               supplementary group of a unix peer), cert:PATTERN, token:NAME,
//               unix:any (every local peer), tcp:anonymous (insecure loopback TCP)
//   PERMISSIONS comma-separated names (permission.hpp), or the aliases
//               `bot` = attach,read,modify,send,claim,watch and `all` = every permission
//   TARGETS     comma-separated glob patterns (`*`, `?`, `[...]`) on session names, or on
//               vault entry names for vault-write / vault-list
// e.g.  allow = group:rpa bot shared-*
//       allow = cert:spiffe://corp/bots/* connect,bot bots-*
// `admin` on a session implies every session permission on it (not the vault ones).
//
// Built in, before any configured rule: the daemon's own uid and root may do everything
// on the unix socket. Everyone else may do nothing until a rule says so.
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "trust/permission.hpp"
#include "trust/principal.hpp"

namespace mailbroker::trust {

struct principal_matcher {
  enum class kind { uid, gid, cert, token, any_unix, anonymous_tcp };
  kind k = kind::uid;
  std::uint32_t id = 0;   // uid / gid
  std::string pattern;    // cert pattern, token name
};

struct rule {
  std::vector<principal_matcher> who;
  std::uint32_t permissions = 0;  // bit (1 << permission)
  std::vector<std::string> targets;
  std::string text;               // the config line, for messages
};

// Parses the value of one `allow` line. user:/group: names are resolved to ids here
// (getpwnam/getgrnam), so a typo fails at start or reload, not at the first call.
// Errors: invalid_argument naming the bad part and the accepted forms.
result<rule> parse_rule(std::string_view text);

// True when `pattern` (glob) matches `name`.
bool glob_match(std::string_view pattern, std::string_view name);

class policy {
 public:
  // `owner_uid`: the daemon's effective uid (gets the built-in everything rule, as root does).
  explicit policy(std::uint32_t owner_uid, std::vector<rule> rules = {});

  // May `who` do `what` to `target` (a session name, or a vault entry name)?
  bool allows(const principal& who, permission what, std::string_view target) const;
  // May `who` do `what` to at least one target (e.g. vault list: then filter by entry)?
  bool allows_some(const principal& who, permission what) const;

  const std::vector<rule>& rules() const { return rules_; }

 private:
  bool matches(const principal_matcher& m, const principal& who) const;
  std::uint32_t owner_uid_;
  std::vector<rule> rules_;
};

}  // namespace mailbroker::trust
