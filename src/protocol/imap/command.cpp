#include "protocol/imap/command.hpp"

#include <algorithm>
#include <cstdio>
#include <initializer_list>

namespace mailbroker::imap {
namespace {

char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_upper(x) == to_upper(y);
         });
}

// RFC 3501 ATOM-CHAR: any CHAR except atom-specials. ']' (resp-specials) is excluded
// although ASTRING-CHAR allows it, which costs nothing and avoids server quirks.
bool is_atom_char(char c) {
  if (c <= ' ' || c >= 0x7f) return false;  // CTL, SP and 8-bit (char may be signed)
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
      return false;
    default:
      return true;
  }
}

}  // namespace

std::optional<std::string> quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0' || static_cast<unsigned char>(c) >= 0x80) return std::nullopt;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::optional<std::string> astring(std::string_view s) {
  if (!s.empty() && !iequals(s, "NIL") && std::all_of(s.begin(), s.end(), is_atom_char)) return std::string(s);
  return quote(s);
}

std::string tag_generator::next() {
  ++n_;
  char buf[16];
  std::snprintf(buf, sizeof buf, "A%04lu", static_cast<unsigned long>(n_));
  return buf;
}

bool has_capability(const std::vector<std::string>& caps, std::string_view cap) {
  return std::any_of(caps.begin(), caps.end(), [cap](const std::string& c) { return iequals(c, cap); });
}

bool changes_mailbox(std::string_view command) {
  auto word = [&command]() {
    const auto end = std::min(command.find(' '), command.size());
    std::string_view w = command.substr(0, end);
    command.remove_prefix(end == command.size() ? end : end + 1);
    return w;
  };
  std::string_view verb = word();
  if (iequals(verb, "UID")) verb = word();
  for (std::string_view m : {"STORE", "COPY", "MOVE", "EXPUNGE", "APPEND", "CREATE", "DELETE", "RENAME"}) {
    if (iequals(verb, m)) return true;
  }
  return false;
}

}  // namespace mailbroker::imap
