#include "protocol/smtp/reply.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace mailbroker::smtp {
namespace {

char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = to_upper(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return to_upper(x) == to_upper(y); });
}

bool is_keyword_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

error invalid(std::string message) { return {errc::invalid_argument, std::move(message)}; }

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t end = s.find(' ', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

void add_mechanisms(std::vector<std::string>& auth, const std::vector<std::string_view>& params) {
  for (auto m : params) {
    std::string name = upper(m);
    if (std::find(auth.begin(), auth.end(), name) == auth.end()) auth.push_back(std::move(name));
  }
}

}  // namespace

bool ehlo_capabilities::has_auth(std::string_view mechanism) const {
  return std::any_of(auth.begin(), auth.end(), [mechanism](const std::string& m) { return iequals(m, mechanism); });
}

result<ehlo_capabilities> parse_ehlo(const reply& r) {
  if (r.code != 250) return invalid("EHLO reply code is " + std::to_string(r.code) + ", not 250");
  ehlo_capabilities caps;
  if (!r.lines.empty()) caps.domain = r.lines.front().substr(0, r.lines.front().find(' '));
  for (std::size_t i = 1; i < r.lines.size(); ++i) {
    const std::string where = "EHLO line " + std::to_string(i + 1);
    std::string_view line = r.lines[i];
    // "AUTH=PLAIN LOGIN": the pre-RFC 4954 form; '=' ends the keyword there.
    const std::size_t end = line.find_first_of(" =");
    const std::string_view word = line.substr(0, end);
    if (word.empty()) return invalid(where + " has no keyword");
    if (!std::all_of(word.begin(), word.end(), is_keyword_char)) {
      return invalid(where + ": keyword has characters other than A-Z 0-9 -");
    }
    const std::string keyword = upper(word);
    const bool old_auth = end != std::string_view::npos && line[end] == '=';
    if (old_auth && keyword != "AUTH") return invalid(where + ": '=' after a keyword other than AUTH");
    const auto params = words(end == std::string_view::npos ? std::string_view() : line.substr(end + 1));
    if (keyword == "AUTH") {
      add_mechanisms(caps.auth, params);
      if (old_auth) continue;  // not a keyword of its own
    } else if (keyword == "SIZE") {
      std::uint64_t n = 0;
      if (!params.empty()) {
        for (char c : params.front()) {
          if (c < '0' || c > '9') return invalid(where + ": SIZE parameter is not a number");
          const auto digit = static_cast<std::uint64_t>(c - '0');
          if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
            return invalid(where + ": SIZE parameter out of range");
          }
          n = n * 10 + digit;
        }
      }
      caps.size = n;
    } else if (keyword == "STARTTLS") {
      caps.starttls = true;
    } else if (keyword == "8BITMIME") {
      caps.eightbitmime = true;
    } else if (keyword == "SMTPUTF8") {
      caps.smtputf8 = true;
    } else if (keyword == "PIPELINING") {
      caps.pipelining = true;
    } else if (keyword == "ENHANCEDSTATUSCODES") {
      caps.enhanced_status_codes = true;
    } else if (keyword == "CHUNKING") {
      caps.chunking = true;
    }
    if (std::find(caps.keywords.begin(), caps.keywords.end(), keyword) == caps.keywords.end()) {
      caps.keywords.push_back(keyword);
    }
  }
  return caps;
}

}  // namespace mailbroker::smtp
