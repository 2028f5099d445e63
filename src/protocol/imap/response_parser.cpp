#include "protocol/imap/response_parser.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

namespace mailbroker::imap {
namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = to_upper(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_upper(x) == to_upper(y);
         });
}

bool is_status_word(std::string_view w) {
  return iequals(w, "OK") || iequals(w, "NO") || iequals(w, "BAD") || iequals(w, "BYE") || iequals(w, "PREAUTH");
}

// Characters an atom may contain in server output. Wider than RFC ATOM-CHAR on purpose:
// flags ("\Seen", "\*"), sequence sets ("1:*") and astrings with ']' arrive as atoms.
bool is_atom_char(char c) { return c > ' ' && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"'; }
bool is_tag_char(char c) { return is_atom_char(c) && c != '+' && c != '*' && c != '%' && c != '\\'; }
bool is_name_char(char c) { return is_tag_char(c) && c != '[' && c != ']'; }

// A printable rendering of one byte for error messages, so that server bytes never reach
// logs unescaped.
std::string describe(char c) {
  if (c > ' ' && c < 0x7f) return std::string("'") + c + "'";
  static constexpr char hex[] = "0123456789abcdef";
  const auto u = static_cast<unsigned char>(c);
  return std::string("0x") + hex[u >> 4] + hex[u & 0xf];
}

// Literals may only follow lines of data responses: a status or continuation line that
// happens to end in "{5}" is human text.
bool is_data_line(std::string_view line) {
  if (!line.empty() && line.front() == '+') return false;
  const std::size_t sp = line.find(' ');
  if (sp == npos) return true;
  std::size_t start = line.find_first_not_of(' ', sp);
  if (start == npos) return true;
  const std::size_t end = line.find(' ', start);
  return !is_status_word(line.substr(start, end == npos ? npos : end - start));
}

// Upper bound of the values a line of a data response makes: each '(' and each token
// start outside quoted strings (the tag and name count too; spaces inside [...]
// sections overcount a little, which is safe for an upper bound).
std::size_t count_tokens(std::string_view line) {
  std::size_t tokens = 0;
  bool quoted = false;
  char prev = ' ';
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      prev = c;
      continue;
    }
    if (c == '(') {
      ++tokens;
    } else if (c != ' ' && c != ')' && (prev == ' ' || prev == '(' || prev == ')')) {
      ++tokens;
      quoted = c == '"';
    }
    prev = c;
  }
  return tokens;
}

}  // namespace

// Recursive-descent parser over one framed response (buf_ plus its literal positions).
class response_parser::syntax {
 public:
  syntax(std::string_view in, const std::vector<literal_span>& literals, std::size_t max_depth)
      : in_(in), literals_(literals), max_depth_(max_depth) {}

  bool parse(response& out) {
    if (at('+')) return parse_continuation(out);
    const std::string_view tag = word();
    if (tag.empty()) return fail("missing tag");
    if (!skip_spaces()) return fail("expected SP after tag, found " + current());
    if (tag == "*") {
      out.type = response_type::untagged;
    } else {
      if (auto bad = std::find_if_not(tag.begin(), tag.end(), is_tag_char); bad != tag.end()) {
        return fail("invalid character " + describe(*bad) + " in tag");
      }
      out.type = response_type::tagged;
      out.tag = tag;
    }
    std::string_view keyword = word();
    if (keyword.empty()) return fail("missing response keyword");
    if (is_status_word(keyword)) {
      out.status = upper(keyword);
      return parse_status_rest(out);
    }
    if (out.type == response_type::tagged) return fail("tagged response must be OK, NO, BAD, BYE or PREAUTH");
    if (std::all_of(keyword.begin(), keyword.end(), is_digit)) {
      std::uint64_t n = 0;
      for (char c : keyword) {
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
        if (n > std::numeric_limits<std::uint32_t>::max()) return fail("number out of range");
      }
      out.number = static_cast<std::uint32_t>(n);
      if (!skip_spaces()) return fail("expected response name after number");
      keyword = word();
      if (keyword.empty()) return fail("expected response name after number");
      if (is_status_word(keyword)) return fail("status response must not start with a number");
    }
    if (auto bad = std::find_if_not(keyword.begin(), keyword.end(), is_name_char); bad != keyword.end()) {
      return fail("invalid character " + describe(*bad) + " in response name");
    }
    out.name = upper(keyword);
    const bool ok = parse_data(out);
    out.truncated = truncated_;
    return ok;
  }

  const std::string& error() const { return error_; }

 private:
  bool fail(const std::string& what) {
    error_ = "at byte " + std::to_string(pos_) + ": " + what;
    return false;
  }

  bool at(char c) const { return pos_ < in_.size() && in_[pos_] == c; }

  std::string current() const {
    if (pos_ >= in_.size()) return "end of input";
    if (at_eol()) return "end of line";
    return describe(in_[pos_]);
  }

  bool at_eol() const {
    return pos_ < in_.size() &&
           (in_[pos_] == '\n' || (in_[pos_] == '\r' && pos_ + 1 < in_.size() && in_[pos_ + 1] == '\n'));
  }

  // Returns whether at least one SP was skipped.
  bool skip_spaces() {
    const std::size_t start = pos_;
    while (at(' ')) ++pos_;
    return pos_ > start;
  }

  std::string_view word() {
    const std::size_t start = pos_;
    while (pos_ < in_.size() && in_[pos_] != ' ' && in_[pos_] != '\r' && in_[pos_] != '\n') ++pos_;
    return in_.substr(start, pos_ - start);
  }

  // The line break must be the last bytes: framing ended the response there.
  bool expect_end() {
    if (!at_eol()) return fail("expected end of line, found " + current());
    const std::size_t eol = in_[pos_] == '\r' ? 2 : 1;
    if (pos_ + eol != in_.size() || next_literal_ != literals_.size()) return fail("unexpected line break");
    return true;
  }

  bool parse_text(std::string& out) {
    const std::size_t start = pos_;
    while (pos_ < in_.size() && !at_eol()) {
      if (in_[pos_] == '\0' || in_[pos_] == '\r' || in_[pos_] == '\n') {
        return fail(describe(in_[pos_]) + " in text");
      }
      ++pos_;
    }
    out.assign(in_.substr(start, pos_ - start));
    return expect_end();
  }

  bool parse_continuation(response& out) {
    out.type = response_type::continuation;
    ++pos_;
    if (at(' ')) ++pos_;
    return parse_text(out.text);
  }

  bool parse_status_rest(response& out) {
    if (at_eol()) return expect_end();
    if (!at(' ')) return fail("expected SP after status, found " + current());
    ++pos_;
    if (at('[')) {
      if (!parse_code(out)) return false;
      if (at(' ')) ++pos_;
    }
    return parse_text(out.text);
  }

  // "[" name [SP args] "]"; args are kept raw. Only brackets decide where the code ends
  // (parentheses in args are not checked): a tagged reply dropped over an odd code
  // would leave its command waiting forever.
  bool parse_code(response& out) {
    ++pos_;
    const std::size_t name_start = pos_;
    while (pos_ < in_.size() && is_name_char(in_[pos_])) ++pos_;
    if (pos_ == name_start) return fail("empty response code");
    out.code = upper(in_.substr(name_start, pos_ - name_start));
    if (!at(']')) {
      if (!at(' ')) return fail("invalid character " + current() + " in response code");
      const std::size_t args_start = ++pos_;
      std::size_t depth = 0;
      for (;;) {
        if (pos_ >= in_.size() || at_eol()) return fail("unterminated response code");
        const char c = in_[pos_];
        if (c == '"') {
          std::string ignored;
          if (!parse_quoted(ignored)) return false;
          continue;
        }
        if (c == '[') {
          if (++depth > max_depth_) return fail("response code nested deeper than max_depth");
        } else if (c == ']') {
          if (depth == 0) break;
          --depth;
        } else if (c == '\0' || c == '\r') {
          return fail(describe(c) + " in response code");
        }
        ++pos_;
      }
      out.code_text.assign(in_.substr(args_start, pos_ - args_start));
    }
    ++pos_;
    return true;
  }

  bool parse_data(response& out) {
    for (;;) {
      const bool spaced = skip_spaces();
      if (pos_ >= in_.size() || at_eol()) return expect_end();
      if (!spaced) return fail("expected SP, found " + current());
      if (!parse_value(out.data, 0)) return false;
    }
  }

  bool parse_value(std::vector<value>& out, std::size_t depth) {
    value& v = out.emplace_back();
    const char c = in_[pos_];
    if (c == '(') return parse_list(v, depth);
    if (c == '"') {
      v.type = value::kind::quoted;
      return parse_quoted(v.text);
    }
    if (c == '{' || (c == '~' && pos_ + 1 < in_.size() && in_[pos_ + 1] == '{')) {
      v.type = value::kind::literal;
      return parse_literal(&v.text);
    }
    if (!parse_atom(v.text, depth)) return false;
    if (iequals(v.text, "NIL")) {
      v.type = value::kind::nil;
      v.text.clear();
    }
    return true;
  }

  bool parse_list(value& v, std::size_t depth) {
    v.type = value::kind::list;
    if (depth + 1 > max_depth_) return skip_list();
    ++pos_;
    for (;;) {
      const bool spaced = skip_spaces();
      if (at(')')) {
        ++pos_;
        return true;
      }
      if (pos_ >= in_.size() || at_eol()) return fail("unterminated list");
      // Two lists may touch, as in BODYSTRUCTURE "((...)(...) "MIXED")"; others need SP.
      if (!v.items.empty() && !spaced && !(v.items.back().type == value::kind::list && at('('))) {
        return fail("expected SP or ')' in list, found " + current());
      }
      if (!parse_value(v.items, depth + 1)) return false;
    }
  }

  // Steps over a list (at its '(') nested too deeply to keep: quoted strings and
  // literals are skipped whole, so their parentheses do not count.
  bool skip_list() {
    truncated_ = true;
    std::size_t open = 0;
    for (;;) {
      if (pos_ >= in_.size() || at_eol()) return fail("unterminated list");
      const char c = in_[pos_];
      if (c == '(') {
        ++open;
        ++pos_;
      } else if (c == ')') {
        ++pos_;
        if (--open == 0) return true;
      } else if (c == '"') {
        std::string ignored;
        if (!parse_quoted(ignored)) return false;
      } else if (at_literal_marker()) {
        if (!parse_literal(nullptr)) return false;
      } else {
        ++pos_;
      }
    }
  }

  // "{n}", "{n+}" or "~{n}" ending the line at pos_.
  bool at_literal_marker() const {
    std::size_t p = pos_;
    if (p < in_.size() && in_[p] == '~') ++p;
    if (p >= in_.size() || in_[p] != '{') return false;
    const std::size_t digits = ++p;
    while (p < in_.size() && is_digit(in_[p])) ++p;
    if (p == digits) return false;
    if (p < in_.size() && in_[p] == '+') ++p;
    if (p >= in_.size() || in_[p] != '}') return false;
    ++p;
    return p < in_.size() && (in_[p] == '\n' || (in_[p] == '\r' && p + 1 < in_.size() && in_[p + 1] == '\n'));
  }

  bool parse_quoted(std::string& out) {
    ++pos_;
    for (;;) {
      if (pos_ >= in_.size() || in_[pos_] == '\r' || in_[pos_] == '\n') {
        return fail("unterminated quoted string");
      }
      const char c = in_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\0') return fail("NUL in quoted string");
      if (c == '\\') {
        const char escaped = pos_ + 1 < in_.size() ? in_[pos_ + 1] : '\0';
        if (escaped != '"' && escaped != '\\') return fail("invalid escape in quoted string");
        out += escaped;
        pos_ += 2;
        continue;
      }
      out += c;
      ++pos_;
    }
  }

  // Copies the literal's data to *out, or skips it when out is null.
  bool parse_literal(std::string* out) {
    if (at('~')) ++pos_;
    ++pos_;
    const std::size_t digits_start = pos_;
    std::uint64_t size = 0;
    bool overflow = false;
    while (pos_ < in_.size() && is_digit(in_[pos_])) {
      const auto digit = static_cast<std::uint64_t>(in_[pos_] - '0');
      if (size > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) overflow = true;
      if (!overflow) size = size * 10 + digit;
      ++pos_;
    }
    if (pos_ == digits_start) return fail("invalid literal length");
    if (at('+')) ++pos_;
    if (!at('}')) return fail("invalid literal marker");
    ++pos_;
    if (!at_eol()) return fail("literal marker must end the line");
    pos_ += in_[pos_] == '\r' ? 2u : 1u;
    // Framing decided where literal data lies; a marker it did not see is not honoured.
    if (next_literal_ >= literals_.size() || literals_[next_literal_].offset != pos_ || overflow ||
        literals_[next_literal_].size != size) {
      return fail("literal marker in an unexpected place");
    }
    if (out != nullptr) out->assign(in_.substr(pos_, literals_[next_literal_].size));
    pos_ += literals_[next_literal_].size;
    ++next_literal_;
    return true;
  }

  // An atom, with attached [...] sections kept verbatim: "BODY[HEADER.FIELDS (FROM)]<0>".
  bool parse_atom(std::string& out, std::size_t depth) {
    const std::size_t start = pos_;
    std::size_t brackets = 0;
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (brackets > 0 && c == '"') {
        std::string ignored;
        if (!parse_quoted(ignored)) return false;
        continue;
      }
      if (c == '[') {
        if (depth + ++brackets > max_depth_) return fail("sections nested deeper than max_depth");
      } else if (brackets > 0) {
        if (c == ']') {
          --brackets;
        } else if (c == '\r' || c == '\n') {
          return fail("unterminated '[' in atom");
        } else if (c < ' ' || c >= 0x7f) {
          return fail("invalid character " + describe(c) + " in atom section");
        }
      } else if (!is_atom_char(c)) {
        break;
      }
      ++pos_;
    }
    if (pos_ == start) return fail("unexpected " + current());
    out.assign(in_.substr(start, pos_ - start));
    return true;
  }

  std::string_view in_;
  const std::vector<literal_span>& literals_;
  std::size_t max_depth_;
  std::size_t pos_ = 0;
  std::size_t next_literal_ = 0;
  bool truncated_ = false;
  std::string error_;
};

response_parser::response_parser(parser_limits limits) : limits_(limits) { start_response(); }

void response_parser::start_response() {
  buf_.clear();
  // A huge literal should not pin its buffer for the rest of the connection.
  if (buf_.capacity() > 1024 * 1024) std::string().swap(buf_);
  literals_.clear();
  line_start_ = 0;
  literal_left_ = 0;
  literals_allowed_ = false;
  cost_ = response_cost;
}

bool response_parser::charge(std::size_t bytes) {
  // Ordered so that cost_ never exceeds the limit: no overflow.
  if (bytes > limits_.max_parsed_bytes || cost_ > limits_.max_parsed_bytes - bytes) {
    set_fatal("response would take more than max_parsed_bytes (" + std::to_string(limits_.max_parsed_bytes) +
              ") once parsed");
    return false;
  }
  cost_ += bytes;
  return true;
}

void response_parser::reset() {
  start_response();
  fatal_ = false;
  ready_.reset();
  error_.clear();
}

void response_parser::set_fatal(std::string message) {
  start_response();
  fatal_ = true;
  error_ = std::move(message);
}

response response_parser::take() {
  response out = ready_ ? std::move(*ready_) : response{};
  ready_.reset();
  return out;
}

parse_result response_parser::feed(std::string_view bytes) {
  if (fatal_) return {parse_status::fatal_error, 0};
  ready_.reset();
  error_.clear();
  std::size_t used = 0;
  while (used < bytes.size()) {
    if (literal_left_ > 0) {
      const std::size_t n = std::min(literal_left_, bytes.size() - used);
      buf_.append(bytes.substr(used, n));
      used += n;
      literal_left_ -= n;
      if (literal_left_ == 0) line_start_ = buf_.size();
      continue;
    }
    const std::string_view rest = bytes.substr(used);
    const std::size_t lf = rest.find('\n');
    const std::size_t take = lf == npos ? rest.size() : lf + 1;
    // Checked before the line is complete so a server can't make us buffer without bound.
    if (buf_.size() - line_start_ + take > limits_.max_line_bytes) {
      set_fatal("line longer than max_line_bytes (" + std::to_string(limits_.max_line_bytes) + ")");
      return {parse_status::fatal_error, used};
    }
    if (buf_.size() + take > limits_.max_response_bytes) {
      set_fatal("response longer than max_response_bytes (" + std::to_string(limits_.max_response_bytes) + ")");
      return {parse_status::fatal_error, used};
    }
    buf_.append(rest.substr(0, take));
    used += take;
    if (lf == npos) break;

    switch (end_of_line()) {
      case line_action::fatal:
        return {parse_status::fatal_error, used};
      case line_action::literal_follows:
        continue;
      case line_action::end_of_response:
        break;
    }
    response r;
    syntax parser(buf_, literals_, limits_.max_depth);
    const bool ok = parser.parse(r);
    const std::size_t cost = cost_;
    start_response();
    if (!ok) {
      error_ = parser.error();
      return {parse_status::recoverable_error, used};
    }
    ready_ = std::move(r);
    last_cost_ = cost;
    return {parse_status::complete, used};
  }
  return {parse_status::need_more, used};
}

// Called with a complete line (ending in LF) at the end of buf_: decides whether literal
// data follows it.
response_parser::line_action response_parser::end_of_line() {
  std::string_view line(buf_);
  line.remove_prefix(line_start_);
  line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line_start_ == 0) literals_allowed_ = is_data_line(line);
  // Status and continuation lines are kept as text: no tokens.
  const std::size_t tokens = literals_allowed_ ? count_tokens(line) : 0;
  if (!charge(2 * (buf_.size() - line_start_)) || !charge(tokens * token_cost)) return line_action::fatal;
  if (!literals_allowed_ || line.empty() || line.back() != '}') return line_action::end_of_response;

  // Find the last '{' outside quoted strings, the same way the syntax pass reads them.
  bool quoted = false;
  std::size_t brace = npos;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (quoted) {
      if (line[i] == '\\') {
        ++i;
      } else if (line[i] == '"') {
        quoted = false;
      }
    } else if (line[i] == '"') {
      quoted = true;
    } else if (line[i] == '{') {
      brace = i;
    }
  }
  // '}' is a valid atom character, so "a}" ends no literal; '{' is not, so "{x}" is an
  // invalid literal marker rather than an atom.
  if (quoted || brace == npos) return line_action::end_of_response;

  std::string_view digits = line.substr(brace + 1, line.size() - brace - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), is_digit)) {
    set_fatal("invalid literal length");
    return line_action::fatal;
  }
  const std::size_t max = limits_.max_literal_bytes;
  std::size_t size = 0;
  for (char c : digits) {
    const auto digit = static_cast<std::size_t>(c - '0');
    // Ordered so that size never exceeds max, whatever max is: no overflow.
    if (size > max / 10 || digit > max - size * 10) {
      set_fatal("literal larger than max_literal_bytes (" + std::to_string(max) + ")");
      return line_action::fatal;
    }
    size = size * 10 + digit;
  }
  if (buf_.size() + size > limits_.max_response_bytes) {
    set_fatal("response longer than max_response_bytes (" + std::to_string(limits_.max_response_bytes) + ")");
    return line_action::fatal;
  }
  if (!charge(size)) return line_action::fatal;
  literals_.push_back({buf_.size(), size});
  literal_left_ = size;
  if (size == 0) line_start_ = buf_.size();
  return line_action::literal_follows;
}

}  // namespace mailbroker::imap
