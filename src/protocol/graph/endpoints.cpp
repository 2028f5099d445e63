#include "protocol/graph/endpoints.hpp"

#include <array>

#include "auth/url.hpp"

namespace mailbroker::graph {
namespace {

constexpr std::size_t max_link_bytes = 16 * 1024;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

error bad_base(std::string_view why) {
  return error{errc::invalid_argument, "graph base URL " + std::string(why)};
}

// The custom base checked and without a trailing '/'. Never echoes the URL (userinfo).
result<std::string> custom_base_checked(std::string_view base, bool allow_http) {
  if (base.empty()) return bad_base("is empty: a custom cloud needs one (e.g. https://127.0.0.1:8443)");
  auto url = auth::parse_url(base, allow_http);
  if (!url) return bad_base(": " + url.err().message);
  if (!url->userinfo.empty()) return bad_base("must not carry a user name or password");
  if (url->target.find('?') != std::string::npos) return bad_base("must not have a query");
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

constexpr std::array<std::string_view, 17> well_known = {
    "archive",    "clutter",  "conflicts",     "conversationhistory",       "deleteditems", "drafts",
    "inbox",      "junkemail", "localfailures", "msgfolderroot",             "outbox",       "recoverableitemsdeletions",
    "scheduled",  "searchfolders", "sentitems", "serverfailures",            "syncissues"};

error bad_id(std::string_view field, std::string_view why) {
  return error{errc::invalid_argument, std::string(field) + " " + std::string(why)};
}

}  // namespace

result<std::string> service_root(cloud c, std::string_view custom_base, bool allow_http) {
  switch (c) {
    case cloud::global:
    case cloud::us_gov_high:
      if (!custom_base.empty()) return bad_base("is only for the custom cloud (Global and US GCC High have fixed URLs)");
      return std::string(c == cloud::global ? global_base : us_gov_high_base) + std::string(api_version);
    case cloud::custom: {
      auto base = custom_base_checked(custom_base, allow_http);
      if (!base) return base.err();
      return base.value() + std::string(api_version);
    }
  }
  return bad_base("names an unknown cloud");
}

result<std::string> default_scope(cloud c, std::string_view custom_base, bool allow_http) {
  if (c != cloud::custom) {
    auto root = service_root(c, custom_base, allow_http);
    if (!root) return root.err();
    return std::string(c == cloud::global ? global_base : us_gov_high_base) + "/.default";
  }
  auto base = custom_base_checked(custom_base, allow_http);
  if (!base) return base.err();
  auto url = auth::parse_url(base.value(), allow_http);
  if (!url) return bad_base(": " + url.err().message);
  return url->scheme + "://" + auth::url_authority(url.value()) + "/.default";
}

result<std::string> mailbox_root(std::string_view user) {
  if (user.empty()) return std::string("/me");
  if (user.size() > max_user_bytes) {
    return error{errc::invalid_argument, "graph mailbox: at most " + std::to_string(max_user_bytes) + " bytes"};
  }
  for (char c : user) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ' ' || c == '/' || c == '\\') {
      return error{errc::invalid_argument,
                   "graph mailbox: a user principal name, SMTP address or object id without spaces, control "
                   "characters, '/' or '\\'"};
    }
  }
  return "/users/" + percent_encode(user);
}

std::string percent_encode(std::string_view bytes) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 4);
  for (char c : bytes) {
    if (unreserved(c)) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0x0F];
    }
  }
  return out;
}

std::string_view well_known_folder(std::string_view name) {
  for (std::string_view w : well_known) {
    if (iequals(w, name)) return w;
  }
  return {};
}

result<std::string> folder_path(std::string_view mailbox_root, std::string_view folder, std::string_view field) {
  if (folder.empty()) return bad_id(field, "is empty: give a folder id or a well-known name such as inbox");
  if (folder.size() > max_id_bytes) return bad_id(field, "is longer than " + std::to_string(max_id_bytes) + " bytes");
  const std::string_view known = well_known_folder(folder);
  return std::string(mailbox_root) + "/mailFolders/" + (known.empty() ? percent_encode(folder) : std::string(known));
}

result<std::string> message_path(std::string_view mailbox_root, std::string_view item_id, std::string_view field) {
  if (item_id.empty()) return bad_id(field, "is empty: give the message's id");
  if (item_id.size() > max_id_bytes) return bad_id(field, "is longer than " + std::to_string(max_id_bytes) + " bytes");
  return std::string(mailbox_root) + "/messages/" + percent_encode(item_id);
}

result<std::string> relative_link(std::string_view service_root, std::string_view link, std::string_view what) {
  const auto refuse = [&](std::string_view why) {
    return error{errc::failed_precondition, "Graph " + std::string(what) + " " + std::string(why)};
  };
  if (link.size() > max_link_bytes) return refuse("is longer than 16 KiB");
  if (link.size() <= service_root.size() || !iequals(link.substr(0, service_root.size()), service_root) ||
      link[service_root.size()] != '/') {
    return refuse("points outside the service root " + std::string(service_root) +
                  ": not followed, so the token goes nowhere else");
  }
  std::string out;
  out.reserve(link.size() - service_root.size());
  for (char c : link.substr(service_root.size())) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return refuse("contains a control character");
    if (c == '#') return refuse("contains a fragment");
    // Bytes a URL may not carry literally are encoded rather than refused: the link is
    // the server's, and encoding them is what a browser would send.
    if (c == ' ' || u >= 0x80 || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' ||
        c == '|' || c == '}') {
      out += percent_encode(std::string_view(&c, 1));
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace mailbroker::graph
