#include "trust/policy.hpp"

#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <charconv>

#include "common/text.hpp"

namespace mailbroker::trust {
namespace {

constexpr std::uint32_t bit(permission p) { return 1u << static_cast<unsigned>(p); }

constexpr std::uint32_t bot_permissions = bit(permission::attach) | bit(permission::read) | bit(permission::modify) |
                                          bit(permission::send) | bit(permission::claim) | bit(permission::watch);
constexpr std::uint32_t all_permissions = (1u << permission_count) - 1;
// What `admin` on a session implies.
constexpr std::uint32_t session_permissions =
    all_permissions & ~(bit(permission::vault_write) | bit(permission::vault_list) | bit(permission::vault_use));

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

std::vector<std::string_view> words_of(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    const auto start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::string joined(const std::vector<std::string_view>& words) {
  std::string out;
  for (auto w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::optional<std::uint32_t> parse_id(std::string_view s) {
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

const char* const accepted_principals =
    "uid:N, user:NAME, gid:N, group:NAME, cert:PATTERN, token:NAME, unix:any or tcp:anonymous";

result<principal_matcher> parse_principal(std::string_view text) {
  const auto colon = text.find(':');
  const auto kind = text.substr(0, colon);
  const auto value = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  auto bad = [&](const std::string& why) {
    return error{errc::invalid_argument, "principal '" + clean_text(text, 200) + "': " + why};
  };
  if (colon == std::string_view::npos || value.empty()) return bad(std::string("expected ") + accepted_principals);
  principal_matcher m;
  if (kind == "uid" || kind == "gid") {
    auto id = parse_id(value);
    if (!id) return bad("not a number");
    m.k = kind == "uid" ? principal_matcher::kind::uid : principal_matcher::kind::gid;
    m.id = *id;
  } else if (kind == "user") {
    const std::string name(value);
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
      return bad("no such user on this machine");
    }
    m.k = principal_matcher::kind::uid;
    m.id = found->pw_uid;
  } else if (kind == "group") {
    const std::string name(value);
    group gr{};
    group* found = nullptr;
    std::vector<char> buf(65536);
    if (::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
      return bad("no such group on this machine");
    }
    m.k = principal_matcher::kind::gid;
    m.id = found->gr_gid;
  } else if (kind == "cert") {
    m.k = principal_matcher::kind::cert;
    m.pattern = value;
  } else if (kind == "token") {
    m.k = principal_matcher::kind::token;
    m.pattern = value;
  } else if (kind == "unix" && value == "any") {
    m.k = principal_matcher::kind::any_unix;
  } else if (kind == "tcp" && value == "anonymous") {
    m.k = principal_matcher::kind::anonymous_tcp;
  } else {
    return bad(std::string("expected ") + accepted_principals);
  }
  return m;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view name) {
  const std::string p(pattern), n(name);
  return ::fnmatch(p.c_str(), n.c_str(), 0) == 0;
}

result<rule> parse_rule(std::string_view text) {
  const std::string usage =
      "expected `allow = PRINCIPALS PERMISSIONS TARGETS`, e.g. `allow = group:rpa bot shared-*`";
  const auto words = words_of(text);
  if (words.size() != 3) {
    return error{errc::invalid_argument, "allow '" + clean_text(text, 200) + "': " + usage};
  }
  rule r;
  r.text = joined(words);
  for (auto p : split(words[0], ',')) {
    auto m = parse_principal(p);
    if (!m) return error{errc::invalid_argument, "allow '" + r.text + "': " + m.err().message};
    r.who.push_back(std::move(m.value()));
  }
  for (auto name : split(words[1], ',')) {
    if (name == "all") {
      r.permissions |= all_permissions;
    } else if (name == "bot") {
      r.permissions |= bot_permissions;
    } else if (auto p = permission_from_name(name)) {
      r.permissions |= bit(*p);
    } else {
      std::string known = "all, bot";
      for (std::size_t i = 0; i < permission_count; ++i) {
        known += ", ";
        known += permission_name(static_cast<permission>(i));
      }
      return error{errc::invalid_argument,
                   "allow '" + r.text + "': unknown permission '" + clean_text(name, 64) + "' (known: " + known + ")"};
    }
  }
  for (auto t : split(words[2], ',')) {
    if (t.empty()) return error{errc::invalid_argument, "allow '" + r.text + "': empty target pattern"};
    r.targets.emplace_back(t);
  }
  return r;
}

policy::policy(std::uint32_t owner_uid, std::vector<rule> rules) : owner_uid_(owner_uid), rules_(std::move(rules)) {}

bool policy::matches(const principal_matcher& m, const principal& who) const {
  using K = principal_matcher::kind;
  const bool unix_peer = who.k == principal::kind::unix_peer;
  switch (m.k) {
    case K::uid: return unix_peer && who.uid == m.id;
    case K::gid:
      return unix_peer && (who.gid == m.id || std::find(who.groups.begin(), who.groups.end(), m.id) != who.groups.end());
    case K::cert: return who.k == principal::kind::certificate && glob_match(m.pattern, who.name);
    case K::token: return who.k == principal::kind::token && who.name == m.pattern;
    case K::any_unix: return unix_peer;
    case K::anonymous_tcp: return who.k == principal::kind::anonymous_tcp;
  }
  return false;
}

bool policy::allows(const principal& who, permission what, std::string_view target) const {
  if (who.k == principal::kind::unix_peer && (who.uid == owner_uid_ || who.uid == 0)) return true;
  for (const auto& r : rules_) {
    std::uint32_t granted = r.permissions;
    if (!targets_vault(what) && (granted & bit(permission::admin)) != 0) granted |= session_permissions;
    if ((granted & bit(what)) == 0) continue;
    if (std::none_of(r.who.begin(), r.who.end(), [&](const auto& m) { return matches(m, who); })) continue;
    if (std::any_of(r.targets.begin(), r.targets.end(), [&](const auto& t) { return glob_match(t, target); })) {
      return true;
    }
  }
  return false;
}

bool policy::allows_some(const principal& who, permission what) const {
  if (who.k == principal::kind::unix_peer && (who.uid == owner_uid_ || who.uid == 0)) return true;
  return std::any_of(rules_.begin(), rules_.end(), [&](const rule& r) {
    std::uint32_t granted = r.permissions;
    if (!targets_vault(what) && (granted & bit(permission::admin)) != 0) granted |= session_permissions;
    return (granted & bit(what)) != 0 &&
           std::any_of(r.who.begin(), r.who.end(), [&](const auto& m) { return matches(m, who); });
  });
}

}  // namespace mailbroker::trust
