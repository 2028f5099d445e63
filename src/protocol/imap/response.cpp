#include "protocol/imap/response.hpp"

#include <algorithm>
#include <string_view>

namespace mailbroker::imap {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

std::vector<std::string> capabilities_of(const response& r) {
  std::vector<std::string> caps;
  if (r.type == response_type::untagged && r.status.empty() && r.name == "CAPABILITY") {
    for (const auto& v : r.data) {
      if (v.type == value::kind::atom) caps.push_back(upper(v.text));
    }
  } else if (!r.status.empty() && r.code == "CAPABILITY") {
    // code_text is raw: tolerate runs of spaces rather than yield empty capabilities.
    const std::string_view text = r.code_text;
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t end = std::min(text.find(' ', pos), text.size());
      if (end > pos) caps.push_back(upper(text.substr(pos, end - pos)));
      pos = end + 1;
    }
  }
  return caps;
}

}  // namespace mailbroker::imap
