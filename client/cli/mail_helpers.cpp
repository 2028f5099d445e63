#include "client/cli/mail_helpers.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace mailbroker::cli {
namespace {

constexpr std::size_t max_filename_bytes = 200;  // well under NAME_MAX (255) for " (123)"
constexpr std::size_t max_kept_extension = 16;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

error bad_address(std::string_view text, std::string_view why) {
  return {errc::invalid_argument, "'" + std::string(text) + "' is not an address (" + std::string(why) +
                                      "): use a@example.com or \"Name <a@example.com>\""};
}

// local@domain, one '@', nothing that would need quoting or break a header.
std::optional<std::string_view> address_problem(std::string_view a) {
  if (a.empty()) return "empty";
  for (char c : a) {
    if (is_space(c) || is_control(c)) return "spaces or control characters";
    if (c == '<' || c == '>' || c == ',' || c == ';' || c == '"') return "one of < > , ; \"";
  }
  const auto at = a.find('@');
  if (at == std::string_view::npos) return "no '@'";
  if (a.find('@', at + 1) != std::string_view::npos) return "more than one '@'";
  if (at == 0) return "nothing before '@'";
  if (at + 1 == a.size()) return "nothing after '@'";
  return std::nullopt;
}

// Cuts `s` to at most `n` bytes without splitting a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string clean_component(std::string_view name) {
  const auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  name = trim(name);
  while (!name.empty() && (name.front() == '.' || is_space(name.front()))) name.remove_prefix(1);
  std::string out(name);
  std::replace_if(out.begin(), out.end(), is_control, '_');
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Position of the extension's dot, or npos. A dot at position 0 is not one (".bashrc").
std::size_t extension_dot(std::string_view name) {
  const auto dot = name.rfind('.');
  return dot == 0 || dot == std::string_view::npos ? std::string_view::npos : dot;
}

}  // namespace

result<mail_address> parse_address(std::string_view text) {
  const std::string_view s = trim(text);
  mail_address out;
  std::string_view addr = s;
  if (!s.empty() && s.front() == '"') {
    std::size_t i = 1;
    for (; i < s.size() && s[i] != '"'; ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out.name += s[i];
    }
    if (i >= s.size()) return bad_address(text, "unterminated quoted name");
    addr = trim(s.substr(i + 1));
    if (!addr.starts_with('<')) return bad_address(text, "a quoted name needs <address> after it");
  } else if (const auto lt = s.find('<'); lt != std::string_view::npos) {
    out.name = std::string(trim(s.substr(0, lt)));
    addr = s.substr(lt);
  }
  if (addr.starts_with('<')) {
    if (!addr.ends_with('>')) return bad_address(text, "missing '>'");
    addr = addr.substr(1, addr.size() - 2);
  }
  if (auto problem = address_problem(addr)) return bad_address(text, *problem);
  if (std::any_of(out.name.begin(), out.name.end(), is_control)) return bad_address(text, "control characters in the name");
  out.address = std::string(addr);
  return out;
}

std::string safe_filename(std::string_view name, std::string_view part_id) {
  std::string out = clean_component(name);
  if (out.size() > max_filename_bytes) {
    const auto dot = extension_dot(out);
    const bool keep_ext = dot != std::string::npos && out.size() - dot <= max_kept_extension;
    const std::string ext = keep_ext ? out.substr(dot) : std::string();
    const std::string_view stem = std::string_view(out).substr(0, keep_ext ? dot : out.size());
    out = std::string(utf8_prefix(stem, max_filename_bytes - ext.size())) + ext;
  }
  if (!out.empty()) return out;
  std::string id = clean_component(part_id);
  return "part-" + std::string(utf8_prefix(id.empty() ? "unknown" : id, 32));
}

std::string numbered_filename(std::string_view name, std::size_t n) {
  if (n <= 1) return std::string(name);
  const std::string suffix = " (" + std::to_string(n) + ")";
  const auto dot = extension_dot(name);
  if (dot == std::string_view::npos) return std::string(name) + suffix;
  return std::string(name.substr(0, dot)) + suffix + std::string(name.substr(dot));
}

std::string guess_content_type(std::string_view filename) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 27> types = {{
      {"pdf", "application/pdf"},
      {"txt", "text/plain"},
      {"csv", "text/csv"},
      {"htm", "text/html"},
      {"html", "text/html"},
      {"xml", "application/xml"},
      {"json", "application/json"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"svg", "image/svg+xml"},
      {"zip", "application/zip"},
      {"gz", "application/gzip"},
      {"tar", "application/x-tar"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xls", "application/vnd.ms-excel"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"ppt", "application/vnd.ms-powerpoint"},
      {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {"odt", "application/vnd.oasis.opendocument.text"},
      {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
      {"eml", "message/rfc822"},
      {"ics", "text/calendar"},
      {"md", "text/markdown"},
  }};
  const auto slash = filename.find_last_of("/\\");
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  const auto dot = extension_dot(filename);
  if (dot != std::string_view::npos) {
    const std::string ext = lower(filename.substr(dot + 1));
    for (const auto& [e, type] : types) {
      if (e == ext) return std::string(type);
    }
  }
  return "application/octet-stream";
}

}  // namespace mailbroker::cli
