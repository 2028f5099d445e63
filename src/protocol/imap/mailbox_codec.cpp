#include "protocol/imap/mailbox_codec.hpp"

#include <algorithm>

#include "protocol/imap/codec_detail.hpp"
#include "protocol/imap/command.hpp"
#include "protocol/imap/date_time.hpp"

namespace mailbroker::imap {
namespace {

using detail::invalid;

constexpr std::string_view b64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int b64_index(char c) {
  const auto pos = b64_alphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// Reads one code point at s[i] and advances i; false for invalid UTF-8 (RFC 3629).
bool next_code_point(std::string_view s, std::size_t& i, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  char32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (s.size() - i < len) return false;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return false;
    cp = cp << 6 | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  i += len;
  return true;
}

bool valid_utf8(std::string_view s) {
  char32_t cp = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (!next_code_point(s, i, cp)) return false;
  }
  return true;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

bool printable_ascii(char32_t cp) { return cp >= 0x20 && cp <= 0x7e; }

// '&' + modified base64 of the UTF-16BE code units + '-'.
void flush_section(std::string& out, std::u16string& units) {
  if (units.empty()) return;
  out += '&';
  std::uint32_t bits = 0;
  int nbits = 0;
  for (char16_t u : units) {
    for (int shift : {8, 0}) {
      bits = bits << 8 | ((u >> shift) & 0xff);
      nbits += 8;
      while (nbits >= 6) {
        nbits -= 6;
        out += b64_alphabet[(bits >> nbits) & 0x3f];
      }
    }
  }
  if (nbits > 0) out += b64_alphabet[(bits << (6 - nbits)) & 0x3f];
  out += '-';
  units.clear();
}

// Decodes one section's base64 (without '&' and '-') to UTF-8 appended to out.
error decode_section(std::string_view b64, std::string& out) {
  std::u16string units;
  std::uint32_t bits = 0;
  int nbits = 0;
  int pending_bytes = 0;
  char16_t unit = 0;
  for (char c : b64) {
    const int v = b64_index(c);
    if (v < 0) return invalid("mailbox name: invalid modified base64 character");
    bits = (bits << 6 | static_cast<std::uint32_t>(v)) & 0xffff;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      unit = static_cast<char16_t>(unit << 8 | ((bits >> nbits) & 0xff));
      if (++pending_bytes == 2) {
        units.push_back(unit);
        unit = 0;
        pending_bytes = 0;
      }
    }
  }
  if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) {
    return invalid("mailbox name: modified base64 with leftover bits");
  }
  if (pending_bytes != 0) return invalid("mailbox name: odd number of UTF-16 bytes");
  for (std::size_t i = 0; i < units.size(); ++i) {
    char32_t cp = units[i];
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (i + 1 >= units.size() || units[i + 1] < 0xdc00 || units[i + 1] > 0xdfff) {
        return invalid("mailbox name: unpaired UTF-16 surrogate");
      }
      cp = 0x10000 + ((cp - 0xd800) << 10) + (units[++i] - 0xdc00);
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      return invalid("mailbox name: unpaired UTF-16 surrogate");
    }
    if (printable_ascii(cp)) return invalid("mailbox name: '&' section encodes printable ASCII");
    append_utf8(out, cp);
  }
  return error::none();
}

// Appends a SEARCH string argument: quoted when ASCII, else a LITERAL+ literal.
error append_search_string(std::string& out, std::string_view field, std::string_view s, bool literal_plus) {
  if (s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return invalid(std::string(field) + " contains CR, LF or NUL");
  }
  if (const auto q = quote(s)) {
    out += *q;
    return error::none();
  }
  if (!valid_utf8(s)) return invalid(std::string(field) + " is not valid UTF-8");
  if (!literal_plus) {
    return {errc::invalid_argument,
            std::string(field) + ": non-ASCII search needs the server's LITERAL+ capability"};
  }
  out += '{' + std::to_string(s.size()) + "+}\r\n";
  out += s;
  return error::none();
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

result<std::string> encode_mailbox_name(std::string_view utf8) {
  std::string out;
  std::u16string units;
  for (std::size_t i = 0; i < utf8.size();) {
    char32_t cp = 0;
    if (!next_code_point(utf8, i, cp)) return invalid("mailbox name is not valid UTF-8");
    if (printable_ascii(cp)) {
      flush_section(out, units);
      out += static_cast<char>(cp);
      if (cp == '&') out += '-';
    } else if (cp >= 0x10000) {
      units.push_back(static_cast<char16_t>(0xd800 + ((cp - 0x10000) >> 10)));
      units.push_back(static_cast<char16_t>(0xdc00 + ((cp - 0x10000) & 0x3ff)));
    } else {
      units.push_back(static_cast<char16_t>(cp));
    }
  }
  flush_section(out, units);
  return out;
}

result<std::string> decode_mailbox_name(std::string_view mutf7) {
  std::string out;
  std::size_t section_end = std::string_view::npos;  // index just after the last section
  for (std::size_t i = 0; i < mutf7.size();) {
    const char c = mutf7[i];
    if (!printable_ascii(static_cast<unsigned char>(c))) {
      return invalid("mailbox name: byte outside printable ASCII in modified UTF-7");
    }
    if (c != '&') {
      out += c;
      ++i;
      continue;
    }
    const auto end = mutf7.find('-', i + 1);
    if (end == std::string_view::npos) return invalid("mailbox name: unterminated '&' section");
    const std::string_view b64 = mutf7.substr(i + 1, end - i - 1);
    if (b64.empty()) {
      out += '&';
    } else {
      if (i == section_end) return invalid("mailbox name: adjacent '&' sections");
      if (error e = decode_section(b64, out); !e.ok()) return e;
      section_end = end + 1;
    }
    i = end + 1;
  }
  return out;
}

result<folder_entry> parse_list_response(const response& r) {
  if (r.type != response_type::untagged || (r.name != "LIST" && r.name != "LSUB")) {
    return invalid("not a LIST response");
  }
  if (r.data.size() < 3) return invalid("LIST response: missing fields");
  folder_entry entry;
  const value& attrs = r.data[0];
  if (attrs.type != value::kind::list) return invalid("LIST response: attributes are not a list");
  for (const value& a : attrs.items) {
    if (a.type != value::kind::atom) return invalid("LIST response: attribute is not an atom");
    entry.attributes.push_back(a.text);
  }
  const value& delim = r.data[1];
  if (delim.type == value::kind::quoted && delim.text.size() == 1) {
    entry.delimiter = delim.text;
  } else if (delim.type != value::kind::nil) {
    return invalid("LIST response: delimiter is neither one character nor NIL");
  }
  const value& name = r.data[2];
  if (name.type != value::kind::atom && !detail::is_string(name)) {
    return invalid("LIST response: mailbox name is not a string");
  }
  auto decoded = decode_mailbox_name(name.text);
  if (!decoded) return decoded.err();
  entry.name_utf8 = std::move(*decoded);
  return entry;
}

std::string format_uid_set(std::vector<std::uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::string out;
  std::size_t i = uids.empty() || uids[0] != 0 ? 0 : 1;
  while (i < uids.size()) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(uids[i]);
    if (j > i) out += ':' + std::to_string(uids[j]);
    i = j + 1;
  }
  return out;
}

result<std::vector<std::uint32_t>> parse_uid_set(std::string_view set, std::size_t max_uids) {
  struct range {
    std::uint32_t lo, hi;
  };
  std::vector<range> ranges;
  std::uint64_t total = 0;
  if (set.empty()) return invalid("uid set is empty");
  while (true) {
    const auto comma = set.find(',');
    const std::string_view element = set.substr(0, comma);
    const auto colon = element.find(':');
    const auto a = detail::parse_u32(element.substr(0, colon));
    const auto b = colon == std::string_view::npos ? a : detail::parse_u32(element.substr(colon + 1));
    if (element.find('*') != std::string_view::npos) return invalid("uid set: '*' is not allowed here");
    if (!a || !b) return invalid("uid set: element is not a uid or a uid range");
    if (*a == 0 || *b == 0) return invalid("uid set: uid 0 is not valid");
    const range rg{std::min(*a, *b), std::max(*a, *b)};
    total += std::uint64_t{rg.hi} - rg.lo + 1;
    if (total > max_uids) return invalid("uid set: more than " + std::to_string(max_uids) + " uids");
    ranges.push_back(rg);
    if (comma == std::string_view::npos) break;
    set.remove_prefix(comma + 1);
  }
  std::vector<std::uint32_t> out;
  out.reserve(static_cast<std::size_t>(total));
  for (const range& rg : ranges) {
    for (std::uint64_t u = rg.lo; u <= rg.hi; ++u) out.push_back(static_cast<std::uint32_t>(u));
  }
  return out;
}

result<copyuid> parse_copyuid(std::string_view code_text) {
  std::vector<std::string_view> fields;
  while (!code_text.empty()) {
    const auto start = code_text.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    code_text.remove_prefix(start);
    const auto end = code_text.find(' ');
    fields.push_back(code_text.substr(0, end));
    if (end == std::string_view::npos) break;
    code_text.remove_prefix(end);
  }
  if (fields.size() != 3) return invalid("COPYUID: expected uidvalidity, source set and destination set");
  copyuid out;
  const auto validity = detail::parse_u32(fields[0]);
  if (!validity || *validity == 0) return invalid("COPYUID: invalid uidvalidity");
  out.uid_validity = *validity;
  auto source = parse_uid_set(fields[1]);
  if (!source) return error{errc::invalid_argument, "COPYUID source: " + source.err().message};
  auto dest = parse_uid_set(fields[2]);
  if (!dest) return error{errc::invalid_argument, "COPYUID destination: " + dest.err().message};
  if (source->size() != dest->size()) return invalid("COPYUID: source and destination sets differ in size");
  out.source = std::move(*source);
  out.dest = std::move(*dest);
  return out;
}

result<std::string> build_uid_search(const search_criteria& c, bool literal_plus) {
  std::string keys;
  const auto add = [&keys](std::string_view k) {
    if (!keys.empty()) keys += ' ';
    keys += k;
  };
  if (c.read == search_criteria::read_state::unread) add("UNSEEN");
  if (c.read == search_criteria::read_state::read) add("SEEN");
  const std::pair<std::string_view, const std::string*> strings[] = {{"FROM", &c.from_contains},
                                                                     {"SUBJECT", &c.subject_contains}};
  for (const auto& [key, s] : strings) {
    if (s->empty()) continue;
    add(key);
    keys += ' ';
    const std::string_view field = key == "FROM" ? "from_contains" : "subject_contains";
    if (error e = append_search_string(keys, field, *s, literal_plus); !e.ok()) return e;
  }
  const std::pair<std::string_view, const std::optional<std::chrono::sys_days>*> dates[] = {
      {"SINCE", &c.since}, {"BEFORE", &c.before}};
  for (const auto& [key, d] : dates) {
    if (!d->has_value()) continue;
    const auto text = format_search_date(**d);
    if (!text) return invalid(std::string(key == "SINCE" ? "since" : "before") + ": year outside 0-9999");
    add(key);
    keys += ' ' + *text;
  }
  if (c.after_uid == UINT32_MAX) return invalid("after_uid: no uid can follow 4294967295");
  if (c.after_uid > 0) add("UID " + std::to_string(c.after_uid + 1) + ":*");
  if (keys.empty()) keys = "ALL";
  const bool utf8 = !is_ascii(c.from_contains) || !is_ascii(c.subject_contains);
  return std::string(utf8 ? "UID SEARCH CHARSET UTF-8 " : "UID SEARCH ") + keys;
}

std::vector<std::uint32_t> parse_search_response(const std::vector<response>& untagged) {
  std::vector<std::uint32_t> out;
  for (const response& r : untagged) {
    if (r.type != response_type::untagged || r.name != "SEARCH") continue;
    for (const value& v : r.data) {
      if (v.type != value::kind::atom) continue;
      if (const auto n = detail::parse_u32(v.text); n && *n != 0) out.push_back(*n);
    }
  }
  return out;
}

std::string selected_state::version() const {
  if (!complete()) return {};
  return std::to_string(uid_validity) + "/" + std::to_string(uid_next) + "/" + std::to_string(exists) + "/" +
         std::to_string(highest_modseq);
}

selected_state parse_selected_state(const std::vector<response>& untagged) {
  selected_state out;
  for (const response& r : untagged) {
    if (r.type != response_type::untagged) continue;
    if (r.name == "EXISTS" && r.number) {
      out.exists = *r.number;
      out.exists_seen = true;
    } else if (r.status == "OK" && r.code == "UIDVALIDITY") {
      out.uid_validity = detail::parse_u32(r.code_text).value_or(0);
    } else if (r.status == "OK" && r.code == "UIDNEXT") {
      out.uid_next = detail::parse_u32(r.code_text).value_or(0);
    } else if (r.status == "OK" && r.code == "HIGHESTMODSEQ") {
      out.highest_modseq = detail::parse_number(r.code_text, UINT64_MAX).value_or(0);
    } else if (r.status == "OK" && r.code == "NOMODSEQ") {
      out.highest_modseq = 0;
    }
  }
  return out;
}

}  // namespace mailbroker::imap
