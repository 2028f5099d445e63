#include "protocol/pop3/reply_parser.hpp"

#include <utility>

namespace mailbroker::pop3 {
namespace {

char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool istarts_with(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (to_upper(s[i]) != prefix[i]) return false;
  }
  return true;
}

// RFC 2449 3: resp-code = "[" resp-level *("/" resp-level) "]", resp-level = 1*rchar,
// rchar = printable ASCII except "/" and "]". When `text` starts with one, moves it
// (upper-cased, brackets dropped) to `code`, with one SP after it; otherwise the
// brackets are just text.
void take_code(std::string_view& text, std::string& code) {
  if (text.size() < 3 || text.front() != '[') return;
  const std::size_t close = text.find(']');
  if (close == std::string_view::npos) return;
  const std::string_view inside = text.substr(1, close - 1);
  if (inside.empty() || inside.front() == '/' || inside.back() == '/' || inside.find("//") != std::string_view::npos) {
    return;
  }
  for (char c : inside) {
    if (c <= ' ' || c >= 0x7f) return;
  }
  for (char c : inside) code += to_upper(c);
  text.remove_prefix(close + 1);
  if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
}

}  // namespace

reply_parser::reply_parser(parser_limits limits) : limits_(limits) {}

bool reply_parser::expect(reply_kind kind) {
  if (started_) return false;
  kind_ = kind;
  return true;
}

void reply_parser::set_fatal(std::string message) {
  fatal_ = true;
  error_ = std::move(message);
}

parse_result reply_parser::feed(std::string_view bytes) {
  if (fatal_) return {parse_status::fatal_error, 0};
  error_.clear();
  ready_.reset();
  chunk_.clear();
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t lf = bytes.find('\n', pos);
    const std::size_t end = lf == std::string_view::npos ? bytes.size() : lf;
    const std::size_t with_lf = end - pos + (lf == std::string_view::npos ? 0 : 1);
    // Checked before appending so that a server cannot make us buffer past the limit.
    if (line_.size() + with_lf > limits_.max_line_bytes) {
      set_fatal("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
      return {parse_status::fatal_error, pos};
    }
    line_.append(bytes.substr(pos, end - pos));
    started_ = true;
    if (lf == std::string_view::npos) {
      pos = bytes.size();
      break;
    }
    pos = lf + 1;
    switch (end_of_line()) {
      case line_result::more:
        if (chunk_.size() >= limits_.max_chunk_bytes) return {parse_status::body_chunk, pos};
        break;
      case line_result::done: return {parse_status::complete, pos};
      case line_result::invalid: return {parse_status::recoverable_error, pos};
      case line_result::fatal: return {parse_status::fatal_error, pos};
    }
  }
  if (!chunk_.empty()) return {parse_status::body_chunk, pos};
  return {parse_status::need_more, pos};
}

reply_parser::line_result reply_parser::end_of_line() {
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  if (!in_body_) return status_line();

  line_result result = line_result::more;
  if (line_ == ".") {
    result = line_result::done;
  } else {
    const std::string_view data =
        !line_.empty() && line_.front() == '.' ? std::string_view(line_).substr(1) : std::string_view(line_);
    if (kind_ == reply_kind::multi_line_streamed) {
      chunk_.append(data);
      chunk_.append("\r\n");
    } else {
      // What the kept line costs in memory, not on the wire: an empty line is 2 bytes
      // on the wire but a whole std::string here (a flood of them must stay bounded).
      body_bytes_ += data.size() + 2 + sizeof(std::string);
      if (body_bytes_ > limits_.max_multiline_bytes) {
        set_fatal("multi-line reply longer than " + std::to_string(limits_.max_multiline_bytes) + " bytes");
        return line_result::fatal;
      }
      current_.lines.emplace_back(data);
    }
  }
  line_.clear();
  if (result == line_result::done) {
    ready_ = std::move(current_);
    current_ = {};
    in_body_ = false;
    started_ = false;
    body_bytes_ = 0;
    kind_ = reply_kind::single_line;
  }
  return result;
}

reply_parser::line_result reply_parser::status_line() {
  const std::string_view line = line_;
  reply r;
  std::string_view rest;
  bool valid = true;
  if (istarts_with(line, "+OK") && (line.size() == 3 || line[3] == ' ')) {
    r.type = reply_type::ok;
    rest = line.substr(line.size() == 3 ? 3 : 4);
    take_code(rest, r.code);
  } else if (istarts_with(line, "-ERR") && (line.size() == 4 || line[4] == ' ')) {
    r.type = reply_type::err;
    rest = line.substr(line.size() == 4 ? 4 : 5);
    take_code(rest, r.code);
  } else if (line == "+" || (line.size() >= 2 && line[0] == '+' && line[1] == ' ')) {
    r.type = reply_type::continuation;
    rest = line.substr(line.size() == 1 ? 1 : 2);
  } else {
    valid = false;
  }

  if (!valid) {
    const bool multi = kind_ != reply_kind::single_line;
    std::string what =
        line.empty() ? std::string("empty status line") : "status line does not start with +OK, -ERR or +";
    line_.clear();
    if (multi) {
      set_fatal(what + " where a multi-line reply was expected");
      return line_result::fatal;
    }
    error_ = std::move(what);
    started_ = false;
    kind_ = reply_kind::single_line;
    return line_result::invalid;
  }

  r.text = rest;
  line_.clear();
  if (r.type == reply_type::ok && kind_ != reply_kind::single_line) {
    current_ = std::move(r);
    in_body_ = true;
    return line_result::more;
  }
  ready_ = std::move(r);
  started_ = false;
  kind_ = reply_kind::single_line;
  return line_result::done;
}

reply reply_parser::take() {
  if (!ready_) return {};
  reply r = std::move(*ready_);
  ready_.reset();
  return r;
}

std::string reply_parser::take_chunk() { return std::exchange(chunk_, {}); }

void reply_parser::reset() {
  kind_ = reply_kind::single_line;
  line_.clear();
  in_body_ = false;
  started_ = false;
  body_bytes_ = 0;
  current_ = {};
  ready_.reset();
  chunk_.clear();
  fatal_ = false;
  error_.clear();
}

}  // namespace mailbroker::pop3
