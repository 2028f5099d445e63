#include "sasl/oauth.hpp"

#include <nlohmann/json.hpp>

#include "common/base64.hpp"
#include "common/text.hpp"

namespace mailbroker::sasl {
namespace {

constexpr std::size_t max_described_field = 200;

// RFC 5801 saslname: ',' and '=' must be escaped in the GS2 authzid.
std::string escape_saslname(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view blanks = " \t\r\n";
  const auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

std::string string_field(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

std::string status_field(const nlohmann::json& object) {
  const auto it = object.find("status");
  if (it == object.end()) return {};
  if (it->is_string()) return it->get_ref<const std::string&>();
  if (it->is_number_unsigned()) return std::to_string(it->get<std::uint64_t>());
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  return {};
}

}  // namespace

std::string xoauth2_initial_response(std::string_view user, std::string_view access_token) {
  std::string message;
  message.reserve(user.size() + access_token.size() + 22);
  message.append("user=").append(user);
  message.append("\x01" "auth=Bearer ").append(access_token);
  message.append("\x01\x01");
  return base64_encode(message);
}

std::string oauthbearer_initial_response(std::string_view user, std::string_view access_token,
                                         std::string_view host, std::uint16_t port) {
  std::string message = "n,";
  if (!user.empty()) message.append("a=").append(escape_saslname(user));
  message += ',';
  if (!host.empty()) message.append("\x01" "host=").append(host);
  if (port != 0) message.append("\x01" "port=").append(std::to_string(port));
  message.append("\x01" "auth=Bearer ").append(access_token);
  message.append("\x01\x01");
  return base64_encode(message);
}

result<oauth_error_challenge> parse_oauth_error_challenge(std::string_view base64_text) {
  const std::string_view text = trim(base64_text);
  if (text.size() > max_oauth_challenge_bytes) {
    return error{errc::invalid_argument, "oauth challenge: longer than 64 KiB"};
  }
  const auto decoded = base64_decode(text);
  if (!decoded) return error{errc::invalid_argument, "oauth challenge: invalid base64"};
  try {
    const auto json = nlohmann::json::parse(*decoded, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) return error{errc::invalid_argument, "oauth challenge: not JSON"};
    if (!json.is_object()) return error{errc::invalid_argument, "oauth challenge: not a JSON object"};
    oauth_error_challenge out;
    out.status = status_field(json);
    out.scope = string_field(json, "scope");
    out.schemes = string_field(json, "schemes");
    out.openid_configuration = string_field(json, "openid-configuration");
    return out;
  } catch (const std::exception&) {  // nlohmann::json::exception, std::bad_alloc
    return error{errc::invalid_argument, "oauth challenge: not JSON"};
  }
}

std::string describe(const oauth_error_challenge& challenge) {
  const std::string status = clean_text(challenge.status, max_described_field);
  std::string out = "status ";
  out += status.empty() ? "unknown" : status;
  std::string details;
  const auto add = [&details](std::string_view label, const std::string& value) {
    if (value.empty()) return;
    if (!details.empty()) details += "; ";
    details.append(label).append(": ").append(clean_text(value, max_described_field));
  };
  add("scope", challenge.scope);
  add("schemes", challenge.schemes);
  add("openid-configuration", challenge.openid_configuration);
  if (!details.empty()) out.append(" (").append(details).append(")");
  return out;
}

}  // namespace mailbroker::sasl
