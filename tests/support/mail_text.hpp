#pragma once
// Small text helpers for tests that plant messages.
#include <string>

namespace mailbroker::testing {

// LF line ends to CRLF, as IMAP and POP3 return stored messages: a fetched message
// then equals the planted file byte for byte.
inline std::string crlf(const std::string& lf) {
  std::string out;
  out.reserve(lf.size() + lf.size() / 32);
  for (char c : lf) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

}  // namespace mailbroker::testing
