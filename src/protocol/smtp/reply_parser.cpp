#include "protocol/smtp/reply_parser.hpp"

#include <utility>

namespace mailbroker::smtp {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "d.d{1,3}.d{1,3}" at the start of `text`, ending at SP or the end; returns its length.
std::size_t enhanced_prefix(std::string_view text, char klass, enhanced_code& out) {
  if (text.size() < 5 || text[0] != klass || text[1] != '.') return 0;
  std::size_t pos = 2;
  int parts[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    const std::size_t start = pos;
    while (pos < text.size() && is_digit(text[pos]) && pos - start < 4) parts[i] = parts[i] * 10 + (text[pos++] - '0');
    const std::size_t digits = pos - start;
    if (digits == 0 || digits > 3) return 0;
    if (i == 0) {
      if (pos >= text.size() || text[pos] != '.') return 0;
      ++pos;
    }
  }
  if (pos < text.size() && text[pos] != ' ') return 0;
  out = {klass - '0', parts[0], parts[1]};
  return pos;
}

}  // namespace

reply_parser::reply_parser(parser_limits limits) : limits_(limits) {}

void reply_parser::set_fatal(std::string message) {
  fatal_ = true;
  error_ = std::move(message);
}

parse_result reply_parser::feed(std::string_view bytes) {
  if (fatal_) return {parse_status::fatal_error, 0};
  error_.clear();
  ready_.reset();
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t lf = bytes.find('\n', pos);
    const std::size_t end = lf == std::string_view::npos ? bytes.size() : lf;
    const std::size_t with_lf = end - pos + (lf == std::string_view::npos ? 0 : 1);
    if (line_.size() + with_lf > limits_.max_line_bytes) {
      set_fatal("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
      return {parse_status::fatal_error, pos};
    }
    line_.append(bytes.substr(pos, end - pos));
    if (lf == std::string_view::npos) return {parse_status::need_more, bytes.size()};
    pos = lf + 1;
    switch (end_of_line()) {
      case line_result::more: break;
      case line_result::done: return {parse_status::complete, pos};
      case line_result::invalid: return {parse_status::recoverable_error, pos};
      case line_result::fatal: return {parse_status::fatal_error, pos};
    }
  }
  return {parse_status::need_more, pos};
}

reply_parser::line_result reply_parser::end_of_line() {
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  const std::string_view line = line_;
  const std::size_t number = current_.lines.size() + 1;
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) {
    set_fatal("line " + std::to_string(number) + " does not start with a 3-digit code");
    return line_result::fatal;
  }
  const bool last = line.size() == 3 || line[3] == ' ';
  if (!last && line[3] != '-') {
    set_fatal("line " + std::to_string(number) + ": expected '-' or SP after the code");
    return line_result::fatal;
  }
  if (number > limits_.max_lines) {
    set_fatal("reply longer than " + std::to_string(limits_.max_lines) + " lines");
    return line_result::fatal;
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (number == 1)
    current_.code = code;
  else if (code != current_.code)
    mismatch_ = true;
  current_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
  line_.clear();
  if (!last) return line_result::more;

  reply r = std::exchange(current_, {});
  const bool mismatch = std::exchange(mismatch_, false);
  if (mismatch) {
    error_ = "lines of one reply have different codes";
    return line_result::invalid;
  }
  if (r.code < 200 || r.code > 599) {
    error_ = "reply code " + std::to_string(r.code) + " out of range 200..599";
    return line_result::invalid;
  }
  finish(r);
  ready_ = std::move(r);
  return line_result::done;
}

void reply_parser::finish(reply& r) {
  if (!enhanced_) return;
  enhanced_code ec;
  const char klass = static_cast<char>('0' + r.code / 100);
  if (klass == '3') return;  // RFC 3463 has classes 2, 4 and 5 only
  const std::size_t len = enhanced_prefix(r.lines.front(), klass, ec);
  if (len == 0) return;
  const std::string prefix = r.lines.front().substr(0, len);
  for (auto& l : r.lines) {
    if (l.compare(0, len, prefix) == 0 && (l.size() == len || l[len] == ' ')) {
      l.erase(0, l.size() == len ? len : len + 1);
    }
  }
  r.enhanced = ec;
}

reply reply_parser::take() {
  if (!ready_) return {};
  reply r = std::move(*ready_);
  ready_.reset();
  return r;
}

void reply_parser::reset() {
  line_.clear();
  current_ = {};
  mismatch_ = false;
  ready_.reset();
  fatal_ = false;
  error_.clear();
}

}  // namespace mailbroker::smtp
