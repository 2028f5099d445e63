#include "protocol/imap/command_routing.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <string>

namespace mailbroker::imap {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

std::string_view next_word(std::string_view& rest) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const auto end = rest.find(' ');
  std::string_view word = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return word;
}

std::optional<std::uint32_t> uid_number(std::string_view s) {
  if (s == "*") return std::numeric_limits<std::uint32_t>::max();
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

// "1:3,7,9:*" → ranges; an unreadable set gives nothing (then any FETCH matches).
std::vector<std::pair<std::uint32_t, std::uint32_t>> parse_set(std::string_view set) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  while (!set.empty()) {
    const auto comma = set.find(',');
    std::string_view part = set.substr(0, comma);
    set.remove_prefix(comma == std::string_view::npos ? set.size() : comma + 1);
    const auto colon = part.find(':');
    auto first = uid_number(part.substr(0, colon));
    auto last = colon == std::string_view::npos ? first : uid_number(part.substr(colon + 1));
    if (!first || !last) return {};
    out.emplace_back(std::min(*first, *last), std::max(*first, *last));
  }
  return out;
}

bool is_selected_state_news(const response& r) {
  // What SELECT/EXAMINE answer with besides the tagged OK (RFC 3501 6.3.1).
  if (!r.status.empty()) return r.status == "OK" || r.status == "NO";
  return r.name == "EXISTS" || r.name == "RECENT" || r.name == "FLAGS";
}

}  // namespace

bool command_route::asks_for(const response& r) const {
  if (r.type != response_type::untagged) return false;
  switch (type) {
    case kind::select: return is_selected_state_news(r);
    case kind::search: return r.name == "SEARCH" || r.name == "ESEARCH";
    case kind::list: return r.name == "LIST";
    case kind::copy_or_move: return r.status == "OK" && r.code == "COPYUID";
    case kind::fetch: {
      if (r.name != "FETCH") return false;
      if (uids.empty()) return true;
      auto uid = fetch_uid(r);
      if (!uid) return false;
      return std::any_of(uids.begin(), uids.end(), [&](const auto& range) {
        return *uid >= range.first && *uid <= range.second;
      });
    }
    case kind::other: return false;
  }
  return false;
}

command_route route_of(std::string_view command) {
  std::string_view rest = command;
  std::string_view word = next_word(rest);
  const bool uid = iequals(word, "UID");
  if (uid) word = next_word(rest);
  command_route route;
  if (iequals(word, "SELECT") || iequals(word, "EXAMINE")) {
    route.type = command_route::kind::select;
  } else if (iequals(word, "SEARCH")) {
    route.type = command_route::kind::search;
  } else if (iequals(word, "LIST") || iequals(word, "LSUB")) {
    route.type = command_route::kind::list;
  } else if (iequals(word, "COPY") || iequals(word, "MOVE")) {
    route.type = command_route::kind::copy_or_move;
  } else if (iequals(word, "FETCH") && uid) {
    route.type = command_route::kind::fetch;
    route.uids = parse_set(next_word(rest));
  } else if (iequals(word, "FETCH")) {
    route.type = command_route::kind::fetch;  // by sequence number: any FETCH
  }
  return route;
}

bool answers_could_mix(const command_route& a, const command_route& b) {
  if (a.type != b.type || a.type == command_route::kind::other) return false;
  if (a.type != command_route::kind::fetch) return true;
  if (a.uids.empty() || b.uids.empty()) return true;  // a FETCH of any message
  for (const auto& x : a.uids) {
    for (const auto& y : b.uids) {
      if (x.first <= y.second && y.first <= x.second) return true;
    }
  }
  return false;
}

std::optional<std::uint32_t> fetch_uid(const response& r) {
  if (r.name != "FETCH" || r.data.empty() || r.data.front().type != value::kind::list) return std::nullopt;
  const auto& items = r.data.front().items;
  for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i].type == value::kind::atom && iequals(items[i].text, "UID")) return uid_number(items[i + 1].text);
  }
  return std::nullopt;
}

std::size_t route_response(const response& r, const std::vector<const command_route*>& in_flight) {
  for (std::size_t i = 0; i < in_flight.size(); ++i) {
    if (in_flight[i]->asks_for(r)) return i;
  }
  return 0;
}

}  // namespace mailbroker::imap
