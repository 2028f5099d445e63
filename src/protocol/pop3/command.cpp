#include "protocol/pop3/command.hpp"

#include "common/base64.hpp"

namespace mailbroker::pop3 {
namespace {

error invalid(std::string message) { return {errc::invalid_argument, std::move(message)}; }

bool breaks_line(char c) { return c == '\r' || c == '\n' || c == '\0'; }

// Control characters other than the line breakers are refused too where a word is
// expected: they have no business in a user name and confuse server logs.
std::optional<error> check_word(std::string_view value, const char* field) {
  if (value.empty()) return invalid(std::string(field) + " is empty");
  for (char c : value) {
    if (breaks_line(c)) return invalid(std::string(field) + " contains CR, LF or NUL");
    if (c == ' ') return invalid(std::string(field) + " contains a space");
    if ((c > 0 && c < ' ') || c == 0x7f) return invalid(std::string(field) + " contains a control character");
  }
  return std::nullopt;
}

result<std::string> line(std::string text, const char* field) {
  text += "\r\n";
  if (text.size() > max_command_bytes) {
    return invalid(std::string(field) + " makes the command longer than " + std::to_string(max_command_bytes) +
                   " bytes");
  }
  return text;
}

result<std::string> with_message(const char* verb, std::uint32_t message) {
  if (message == 0) return invalid("message number 0: messages are numbered from 1");
  return std::string(verb) + " " + std::to_string(message) + "\r\n";
}

}  // namespace

result<std::string> user_command(std::string_view name) {
  if (auto e = check_word(name, "user name")) return *e;
  return line("USER " + std::string(name), "user name");
}

result<std::string> pass_command(std::string_view password) {
  if (password.empty()) return invalid("password is empty");
  for (char c : password) {
    if (breaks_line(c)) return invalid("password contains CR, LF or NUL");
  }
  return line("PASS " + std::string(password), "password");
}

result<std::string> auth_command(std::string_view mechanism, std::optional<std::string_view> initial_response) {
  if (mechanism.empty() || mechanism.size() > 20) return invalid("SASL mechanism must be 1 to 20 characters");
  std::string text = "AUTH ";
  for (char c : mechanism) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return invalid("SASL mechanism contains a character other than A-Z 0-9 - _");
    text += c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  }
  if (initial_response) {
    text += ' ';
    text += initial_response->empty() ? std::string("=") : base64_encode(*initial_response);
    if (text.size() + 2 > max_command_bytes) {
      return error{errc::failed_precondition,
                   "initial response makes AUTH longer than 255 bytes: send it after the challenge"};
    }
  }
  return text + "\r\n";
}

std::string sasl_response(std::string_view response) { return base64_encode(response) + "\r\n"; }
std::string sasl_cancel() { return "*\r\n"; }

std::string stat_command() { return "STAT\r\n"; }
std::string list_command() { return "LIST\r\n"; }
result<std::string> list_command(std::uint32_t message) { return with_message("LIST", message); }
std::string uidl_command() { return "UIDL\r\n"; }
result<std::string> uidl_command(std::uint32_t message) { return with_message("UIDL", message); }

result<std::string> top_command(std::uint32_t message, std::uint32_t lines) {
  auto cmd = with_message("TOP", message);
  if (!cmd) return cmd;
  cmd->insert(cmd->size() - 2, " " + std::to_string(lines));
  return cmd;
}

result<std::string> retr_command(std::uint32_t message) { return with_message("RETR", message); }
result<std::string> dele_command(std::uint32_t message) { return with_message("DELE", message); }
std::string noop_command() { return "NOOP\r\n"; }
std::string rset_command() { return "RSET\r\n"; }
std::string quit_command() { return "QUIT\r\n"; }
std::string capa_command() { return "CAPA\r\n"; }
std::string stls_command() { return "STLS\r\n"; }

}  // namespace mailbroker::pop3
