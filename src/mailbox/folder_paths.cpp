#include "mailbox/folder_paths.hpp"

#include <algorithm>
#include <regex>

namespace mailbroker::mailbox::folder_paths {

bool is_inbox(std::string_view path) {
  if (path.size() != 5) return path.empty();
  return std::equal(path.begin(), path.end(), "inbox", [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  });
}

std::string canonical(std::string path) {
  if (is_inbox(path)) return "INBOX";
  if (path.size() > 6 && is_inbox(std::string_view(path).substr(0, 5)) && path[5] == '/') return "INBOX" + path.substr(5);
  return path;
}

bool matches(std::string_view pattern, std::string_view name) {
  if (pattern.empty()) return name.empty();
  if (pattern[0] == '*' || pattern[0] == '%') {
    for (std::size_t i = 0; i <= name.size(); ++i) {
      if (matches(pattern.substr(1), name.substr(i))) return true;
      if (i < name.size() && pattern[0] == '%' && name[i] == '/') break;
    }
    return false;
  }
  return !name.empty() && pattern[0] == name[0] && matches(pattern.substr(1), name.substr(1));
}

result<std::vector<folder>> filter(const std::vector<named_folder>& folders, std::string pattern,
                                   const std::string& regex) {
  std::regex re;
  if (!regex.empty()) {
    try {
      re = std::regex(regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return error{errc::invalid_argument, std::string("regex: ") + e.what()};
    }
  }
  if (pattern.empty()) pattern = "*";
  if (pattern.size() > 1024 ||
      std::count(pattern.begin(), pattern.end(), '*') + std::count(pattern.begin(), pattern.end(), '%') > 8) {
    return error{errc::invalid_argument, "pattern: at most 1024 bytes and 8 wildcards"};
  }
  std::vector<folder> out;
  for (const auto& f : folders) {
    if (!matches(pattern, f.path)) continue;
    if (!regex.empty() && !std::regex_search(f.path, re)) continue;
    out.push_back({f.path, "/", {f.has_children ? "\\HasChildren" : "\\HasNoChildren"}});
  }
  return out;
}

}  // namespace mailbroker::mailbox::folder_paths
