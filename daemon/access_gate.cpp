#include "daemon/access_gate.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "daemon/unix_peer_listener.hpp"
#include "auth/url.hpp"
#include "metrics/denials.hpp"
#include "session/ews_discovery.hpp"
#include "trust/secret_destinations.hpp"

namespace mailbroker::daemon {
namespace {

using trust::permission;
using trust::principal;

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const auto comma = s.find(',');
    auto item = s.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

std::string canonical_or_empty(const std::string& path) {
  std::error_code ec;
  auto c = std::filesystem::canonical(path, ec);
  return ec ? std::string() : c.string();
}

std::string target_word(permission p) { return trust::targets_vault(p) ? "vault entry" : "session"; }

// A use bound for the mail server of a spec that finds it at run time (Autodiscover):
// secret_uses() gives it the spec's empty host.
bool bound_for_unknown_server(const session::session_spec& spec, const trust::secret_use& use) {
  return session::uses_autodiscover(spec) && use.host.empty() && use.port == 0;
}

// The hosts Autodiscover sends the credentials to first (autodiscover_policy.hpp).
std::vector<std::string> first_autodiscover_hosts(const session::session_spec& spec) {
  const auto& email = spec.ews->autodiscover_email;
  const auto domain = email.substr(email.rfind('@') + 1);  // lower case after normalise()
  return {domain, "autodiscover." + domain};
}

// The principal behind a lease owner id, for the audit log of run-time checks.
principal principal_of_owner(const std::string& owner) {
  principal p;
  if (owner.rfind("uid:", 0) == 0) {
    p.k = principal::kind::unix_peer;
    p.uid = static_cast<std::uint32_t>(std::strtoul(owner.c_str() + 4, nullptr, 10));
  } else if (owner.rfind("cert:", 0) == 0) {
    p.k = principal::kind::certificate;
    p.name = owner.substr(5);
  } else if (owner.rfind("token:", 0) == 0) {
    p.k = principal::kind::token;
    p.name = owner.substr(6);
  } else if (!owner.empty() && owner != "tcp:anonymous") {
    p.k = principal::kind::token;
    p.name = owner;
  } else if (owner.empty()) {
    // Restored at daemon start: no caller; the audit line says so.
    p.k = principal::kind::token;
    p.name = "(restored session)";
  }
  return p;
}

}  // namespace

result<std::shared_ptr<const access_rules>> access_rules::compile(const daemon_config& config, std::uint32_t owner_uid) {
  auto r = std::make_shared<access_rules>();
  std::vector<trust::rule> rules;
  for (const auto& line : config.trust.allow) {
    auto rule = trust::parse_rule(line);
    if (!rule) return rule.err();
    rules.push_back(std::move(rule.value()));
  }
  r->policy = trust::policy(owner_uid, std::move(rules));
  for (const auto& line : config.trust.tokens) {
    if (auto e = check_token_line(line); !e.ok()) return e;
    const auto space = line.find(' ');
    auto hash = line.substr(space + 1);
    hash.erase(0, hash.find_first_not_of(' '));
    r->token_names_by_hash[lower(hash.substr(7))] = line.substr(0, space);
  }
  for (const auto& line : config.trust.secret_hosts) {
    if (auto e = check_secret_hosts_line(line); !e.ok()) return e;
    const auto space = line.find(' ');
    r->secret_hosts.push_back({line.substr(0, space), split_list(std::string_view(line).substr(space + 1))});
  }
  for (const auto& dir : config.trust.secret_file_dirs) {
    auto c = canonical_or_empty(dir);
    if (c.empty()) return error{errc::invalid_argument, "secret-file-dir: '" + dir + "' does not exist"};
    if (c.back() != '/') c += '/';
    r->secret_file_dirs.push_back(std::move(c));
  }
  r->identity_order = split_list(config.trust.client_identity);
  for (const auto& [name, conn] : config.registry.oauth2_connections) r->managed_hosts[name] = conn.allowed_hosts;
  return std::shared_ptr<const access_rules>(std::move(r));
}

access_gate::access_gate(std::shared_ptr<const access_rules> rules, const unix_peer_listener* unix_peers,
                         bool insecure_tcp, std::shared_ptr<store::state_store> store,
                         std::vector<std::string> protected_files, std::unique_ptr<audit_log> audit)
    : rules_(std::move(rules)),
      unix_peers_(unix_peers),
      insecure_tcp_(insecure_tcp),
      store_(std::move(store)),
      audit_(std::move(audit)) {
  for (const auto& f : protected_files) {
    if (f.empty()) continue;
    auto c = canonical_or_empty(f);
    protected_files_.push_back(c.empty() ? f : c);
  }
}

void access_gate::install(std::shared_ptr<const access_rules> rules) {
  std::lock_guard lock(mutex_);
  rules_ = std::move(rules);
}

std::shared_ptr<const access_rules> access_gate::rules() const {
  std::lock_guard lock(mutex_);
  return rules_;
}

result<principal> access_gate::identify(const grpc::ServerContextBase& context) const {
  const auto peer = context.peer();
  if (unix_peers_ != nullptr) {
    if (auto p = unix_peers_->principal_of(peer)) return std::move(*p);
  }
  if (peer.rfind("fd:", 0) == 0 || peer.rfind("unix:", 0) == 0) {
    return error{errc::unauthenticated, "the daemon does not know this unix-socket peer; reconnect"};
  }
  const auto r = rules();
  if (auto auth = context.auth_context(); auth && auth->IsPeerAuthenticated()) {
    for (const auto& which : r->identity_order) {
      const char* property = which == "uri" ? "peer_uri" : which == "dns" ? "peer_dns" : "x509_common_name";
      auto values = auth->FindPropertyValues(property);
      if (values.empty()) continue;
      principal p;
      p.k = principal::kind::certificate;
      p.name.assign(values.front().data(), values.front().size());
      return p;
    }
    return error{errc::unauthenticated, "the client certificate has none of the names tls-client-identity asks for (" +
                                            [&] {
                                              std::string s;
                                              for (const auto& w : r->identity_order) s += (s.empty() ? "" : ",") + w;
                                              return s;
                                            }() + ")"};
  }
  const auto& md = context.client_metadata();
  if (auto it = md.find("authorization"); it != md.end()) {
    const std::string_view value(it->second.data(), it->second.size());
    constexpr std::string_view scheme = "Bearer ";
    if (value.size() > scheme.size() && value.substr(0, scheme.size()) == scheme) {
      const auto hash = sha256_hex(value.substr(scheme.size()));
      for (const auto& [known, name] : r->token_names_by_hash) {
        if (known.size() == hash.size() && CRYPTO_memcmp(known.data(), hash.data(), hash.size()) == 0) {
          principal p;
          p.k = principal::kind::token;
          p.name = name;
          return p;
        }
      }
    }
    return error{errc::unauthenticated, "authorization: the bearer token is not one the daemon knows (token = NAME "
                                        "sha256:HEX in its config)"};
  }
  if (insecure_tcp_) return principal{};  // tcp:anonymous
  return error{errc::unauthenticated,
               "this TCP listener needs a client certificate (mailbroker --cert/--key) or a bearer token "
               "(--token-file) that the daemon's config knows"};
}

bool access_gate::may(const principal& who, permission what, std::string_view target) const {
  return rules()->policy.allows(who, what, target);
}

bool access_gate::may_some(const principal& who, permission what) const {
  return rules()->policy.allows_some(who, what);
}

error access_gate::require(const principal& who, permission what, std::string_view target, std::string_view call) {
  if (may(who, what, target)) return error::none();
  note(who, call, trust::targets_vault(what) ? std::string_view{} : target, what, "denied",
       trust::targets_vault(what) ? "vault entry " + std::string(target) : std::string());
  return {errc::permission_denied, std::string(call) + ": " + who.id() + " lacks permission '" +
                                       std::string(trust::permission_name(what)) + "' on " + target_word(what) + " '" +
                                       std::string(target) + "' (the daemon's policy: `allow` lines in its config)"};
}

result<session::session_registry::lease_holder> access_gate::check_lease(const session::session_registry& registry,
                                                                         const principal& who,
                                                                         const std::string& lease_id, permission what,
                                                                         std::string_view call) {
  if (lease_id.empty()) return error{errc::invalid_argument, "lease_id is required (returned by Connect)"};
  auto holder = registry.holder_of_lease(lease_id);
  if (!holder) return error{errc::not_found, "lease_id: no such lease (expired, released or never granted)"};
  const auto& name = holder->s->name();
  if (holder->owner != who.id() && !may(who, permission::admin, name)) {
    note(who, call, name, what, "denied", "lease of " + (holder->owner.empty() ? std::string("nobody") : holder->owner));
    return error{errc::permission_denied, std::string(call) + ": lease_id belongs to another caller; only its holder "
                                          "(or an admin of session '" + name + "') may use it: Connect to get your own"};
  }
  if (auto e = require(who, what, name, call); !e.ok()) return e;
  return std::move(*holder);
}

std::vector<std::string> access_gate::allowed_hosts_of(const access_rules& r, const trust::secret_use& use,
                                                       error& why) const {
  using K = trust::secret_use::kind;
  switch (use.k) {
    case K::vault: {
      if (!store_) {
        why = {errc::failed_precondition, use.field + ": the daemon runs without a store, so it has no vault"};
        return {};
      }
      auto entry = store_->get_secret_entry(use.name);
      if (!entry) {
        why = {entry.err().code == errc::not_found ? errc::failed_precondition : entry.err().code,
               use.field + ".vault: " + entry.err().message};
        return {};
      }
      return std::move(entry->allowed_hosts);
    }
    case K::managed_connection: {
      auto it = r.managed_hosts.find(use.name);
      return it == r.managed_hosts.end() ? std::vector<std::string>{} : it->second;
    }
    case K::env:
    case K::file: {
      const auto ref = use.k == K::env ? use.ref() : "file:" + canonical_or_empty(use.name);
      std::vector<std::string> out;
      for (const auto& rule : r.secret_hosts) {
        if (trust::glob_match(rule.ref_pattern, ref)) out.insert(out.end(), rule.hosts.begin(), rule.hosts.end());
      }
      return out;
    }
  }
  return {};
}

error access_gate::check_spec(const principal& who, std::string_view session, const session::session_spec& spec,
                              bool creating, std::string_view call) {
  const bool plaintext = spec.allow_plaintext || (spec.smtp && spec.smtp->allow_plaintext);
  const bool skip_verify = spec.insecure_skip_verify || (spec.smtp && spec.smtp->insecure_skip_verify);
  if (plaintext) {
    if (auto e = require(who, permission::plaintext, session, call); !e.ok()) return e;
  }
  if (skip_verify) {
    if (auto e = require(who, permission::insecure_skip_verify, session, call); !e.ok()) return e;
  }
  const auto r = rules();
  for (auto use : trust::secret_uses(spec)) {
    if (!bound_for_unknown_server(spec, use)) {
      if (auto e = check_use(*r, who, session, use, creating, call); !e.ok()) return e;
      continue;
    }
    // Autodiscover: the first requests go to these hosts, so a secret allowed to none of
    // them could never be used; the later hosts are checked as the session runs.
    const auto hosts = first_autodiscover_hosts(spec);
    use.port = 443;
    use.host = hosts.front();
    for (const auto& h : hosts) {
      error why = error::none();
      if (trust::destination_allowed(allowed_hosts_of(*r, use, why), h, 443) && why.ok()) {
        use.host = h;
        break;
      }
    }
    if (auto e = check_use(*r, who, session, use, creating, call); !e.ok()) {
      e.message += " (Autodiscover for " + spec.ews->autodiscover_email + " sends it first to " + hosts[0] +
                   ":443 or " + hosts[1] + ":443)";
      return e;
    }
  }
  return error::none();
}

error access_gate::check_destination(const std::string& owner, std::string_view session,
                                     const session::session_spec& spec, const std::string& host, std::uint16_t port) {
  const auto r = rules();
  const auto who = principal_of_owner(owner);
  for (auto use : trust::secret_uses(spec)) {
    if (!bound_for_unknown_server(spec, use)) continue;  // checked at Connect
    use.host = lower(host);
    use.port = port;
    if (auto e = check_use(*r, who, session, use, /*creating=*/false, "Autodiscover"); !e.ok()) return e;
  }
  return error::none();
}

error access_gate::check_secret_to(const principal& who, std::string_view target, const secrets::secret_ref& ref,
                                   const std::string& field, const std::string& url, std::string_view call) {
  using S = secrets::secret_ref::source;
  trust::secret_use use;
  switch (ref.kind) {
    case S::vault: use.k = trust::secret_use::kind::vault; break;
    case S::env: use.k = trust::secret_use::kind::env; break;
    case S::file: use.k = trust::secret_use::kind::file; break;
    default: return error::none();  // inline or none: the caller's own
  }
  use.name = ref.value;
  use.field = field;
  if (auto parsed = auth::parse_url(url, /*allow_http=*/true)) {
    use.host = parsed->host;
    use.port = parsed->port;
    use.plaintext = parsed->scheme == "http";
  }
  return check_use(*rules(), who, target, use, /*creating=*/true, call);
}

error access_gate::check_use(const access_rules& rules, const principal& who, std::string_view session,
                             const trust::secret_use& use, bool creating, std::string_view call) {
  auto deny = [&](const std::string& why) {
    note(who, call, session, permission::connect, "denied", use.field + ": " + use.ref() + " to " + use.destination());
    return error{errc::permission_denied,
                 use.field + ": the daemon-side secret " + use.ref() + " (bound for " + use.destination() + ") " + why};
  };
  if (use.k == trust::secret_use::kind::vault && creating) {
    if (auto e = require(who, permission::vault_use, use.name, call); !e.ok()) {
      return {e.code, use.field + ": " + e.message};
    }
  }
  if (use.k == trust::secret_use::kind::file) {
    const auto real = canonical_or_empty(use.name);
    if (rules.secret_file_dirs.empty()) {
      return deny("is a file: reference, and this daemon reads secret files only under `secret-file-dir` "
                  "directories (none configured); use a vault entry or configure one");
    }
    const bool inside = !real.empty() && std::any_of(rules.secret_file_dirs.begin(), rules.secret_file_dirs.end(),
                                                     [&](const std::string& d) { return real.rfind(d, 0) == 0; });
    if (!inside) return deny("is outside the directories the daemon reads secrets from (secret-file-dir)");
    if (std::find(protected_files_.begin(), protected_files_.end(), real) != protected_files_.end()) {
      return deny("is the daemon's own key or store, which is never sent anywhere");
    }
  }
  if (use.plaintext) {
    return deny("would be sent without TLS to " + use.destination() +
                "; daemon-side secrets travel only over verified TLS (or give the secret inline)");
  }
  if (use.skip_verify) {
    return deny("would be sent to " + use.destination() +
                " over TLS whose certificate is not verified (insecure_skip_verify); give the server's CA file "
                "instead, or the secret inline");
  }
  error why = error::none();
  const auto hosts = allowed_hosts_of(rules, use, why);
  if (!why.ok()) return why;
  if (!trust::destination_allowed(hosts, use.host, use.port)) {
    std::string list;
    for (const auto& h : hosts) list += (list.empty() ? "" : ", ") + h;
    std::string fix;
    switch (use.k) {
      case trust::secret_use::kind::vault:
        fix = "`mailbroker vault put " + use.name + " --allow-host " + use.destination() + "` binds it there";
        break;
      case trust::secret_use::kind::managed_connection:
        fix = "the daemon's config binds it with oauth2-connection." + use.name + ".allowed-hosts";
        break;
      default: fix = "the daemon's config binds it with `secret-hosts = " + use.ref() + " HOST:PORT`"; break;
    }
    return deny("may not be sent to " + use.destination() + " (it is bound to " + (list.empty() ? "no host" : list) +
                "); " + fix);
  }
  return error::none();
}

void access_gate::note(const principal& who, std::string_view call, std::string_view session, permission what,
                       std::string_view outcome, std::string_view detail) {
  if (outcome == "denied") metrics::count_denial(trust::permission_name(what));
  if (audit_) audit_->record(who, call, session, trust::permission_name(what), outcome, detail);
}

}  // namespace mailbroker::daemon
