#include "protocol/smtp/dot_stuffer.hpp"

namespace mailbroker::smtp {

void dot_stuffer::feed(std::string_view bytes, std::string& out) {
  for (char c : bytes) {
    if (c == '\n') {
      // A CR just before was already written as CRLF.
      if (!after_cr_) out += "\r\n";
      after_cr_ = false;
      at_line_start_ = true;
      continue;
    }
    after_cr_ = false;
    if (c == '\r') {
      out += "\r\n";
      after_cr_ = true;
      at_line_start_ = true;
      continue;
    }
    if (at_line_start_ && c == '.') out += '.';
    at_line_start_ = false;
    out += c;
  }
}

void dot_stuffer::finish(std::string& out) {
  if (!at_line_start_) out += "\r\n";
  out += ".\r\n";
  reset();
}

void dot_stuffer::reset() {
  at_line_start_ = true;
  after_cr_ = false;
}

}  // namespace mailbroker::smtp
