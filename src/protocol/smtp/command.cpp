#include "protocol/smtp/command.hpp"

#include "common/base64.hpp"

namespace mailbroker::smtp {
namespace {

error invalid(std::string_view field, std::string_view what) {
  return {errc::invalid_argument, std::string(field) + " " + std::string(what)};
}

bool is_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool iequals_postmaster(std::string_view s) {
  constexpr std::string_view p = "postmaster";
  if (s.size() != p.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
    if (c != p[i]) return false;
  }
  return true;
}

error check_domain(std::string_view domain) {
  constexpr std::string_view field = "domain";
  if (domain.empty()) return invalid(field, "is empty");
  if (domain.size() > 255) return invalid(field, "is longer than 255 characters");
  if (domain.front() == '[') {
    if (domain.size() < 3 || domain.back() != ']') return invalid(field, "address literal is not closed by ']'");
    for (char c : domain.substr(1, domain.size() - 2)) {
      if (c <= ' ' || c >= 0x7f || c == '[' || c == ']' || c == '\\') {
        return invalid(field, "address literal contains an invalid character");
      }
    }
    return error::none();
  }
  std::size_t label = 0;
  for (std::size_t i = 0; i < domain.size(); ++i) {
    const char c = domain[i];
    if (c == '.') {
      if (label == 0) return invalid(field, "has an empty label");
      if (domain[i - 1] == '-') return invalid(field, "has a label ending in '-'");
      label = 0;
    } else if (is_alnum(c) || c == '-') {
      if (c == '-' && label == 0) return invalid(field, "has a label starting with '-'");
      ++label;
    } else {
      return invalid(field, "contains a character other than A-Z a-z 0-9 - .");
    }
  }
  if (label == 0) return invalid(field, "ends with '.'");
  if (domain.back() == '-') return invalid(field, "has a label ending in '-'");
  return error::none();
}

result<std::string> greeting(const char* verb, std::string_view domain) {
  if (error e = check_domain(domain); !e.ok()) return e;
  return std::string(verb) + " " + std::string(domain) + "\r\n";
}

}  // namespace

error check_address(std::string_view address, bool smtputf8, std::string_view field) {
  if (address.empty()) return invalid(field, "is empty");
  for (char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n' || c == '\0') return invalid(field, "contains CR, LF or NUL");
    if (u < 0x20 || u == 0x7f) return invalid(field, "contains a control character");
    if (c == ' ') return invalid(field, "contains a space");
    if (c == '<' || c == '>') return invalid(field, "contains '<' or '>'");
    if (u >= 0x80 && !smtputf8) return invalid(field, "contains non-ASCII characters but SMTPUTF8 is not used");
  }
  if (address.size() + 2 > 256) return invalid(field, "is longer than 254 characters");
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) {
    if (iequals_postmaster(address)) return error::none();
    return invalid(field, "has no '@'");
  }
  if (at == 0) return invalid(field, "has an empty local part");
  if (at > 64) return invalid(field, "has a local part longer than 64 characters");
  if (at + 1 == address.size()) return invalid(field, "has an empty domain");
  return error::none();
}

result<std::string> ehlo_command(std::string_view domain) { return greeting("EHLO", domain); }
result<std::string> helo_command(std::string_view domain) { return greeting("HELO", domain); }
std::string starttls_command() { return "STARTTLS\r\n"; }

result<std::string> auth_command(std::string_view mechanism, std::optional<std::string_view> initial_response) {
  if (mechanism.empty() || mechanism.size() > 20) return invalid("SASL mechanism", "must be 1 to 20 characters");
  std::string text = "AUTH ";
  for (char c : mechanism) {
    if (!is_alnum(c) && c != '-' && c != '_') {
      return invalid("SASL mechanism", "contains a character other than A-Z 0-9 - _");
    }
    text += c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  }
  if (initial_response) {
    text += ' ';
    text += initial_response->empty() ? std::string("=") : base64_encode(*initial_response);
  }
  text += "\r\n";
  if (text.size() > 12288) return invalid("initial response", "makes AUTH longer than 12288 bytes");
  return text;
}

std::string sasl_response(std::string_view response) { return base64_encode(response) + "\r\n"; }
std::string sasl_cancel() { return "*\r\n"; }

result<std::string> mail_command(std::string_view reverse_path, const mail_parameters& params) {
  if (!reverse_path.empty()) {
    if (error e = check_address(reverse_path, params.smtputf8, "sender"); !e.ok()) return e;
  }
  std::string text = "MAIL FROM:<" + std::string(reverse_path) + ">";
  if (params.size) text += " SIZE=" + std::to_string(*params.size);
  if (params.body_8bitmime) text += " BODY=8BITMIME";
  if (params.smtputf8) text += " SMTPUTF8";
  return text + "\r\n";
}

result<std::string> rcpt_command(std::string_view forward_path, bool smtputf8, std::string_view field) {
  if (error e = check_address(forward_path, smtputf8, field); !e.ok()) return e;
  return "RCPT TO:<" + std::string(forward_path) + ">\r\n";
}

std::string data_command() { return "DATA\r\n"; }
std::string rset_command() { return "RSET\r\n"; }
std::string noop_command() { return "NOOP\r\n"; }
std::string quit_command() { return "QUIT\r\n"; }

}  // namespace mailbroker::smtp
