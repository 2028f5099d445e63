#include "auth/token_response.hpp"
#include "common/text.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace mailbroker::auth {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_error_code_bytes = 100;
constexpr std::size_t max_content_type_bytes = 64;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The media type of a Content-Type value, without parameters or surrounding blanks.
std::string_view media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  const auto first = content_type.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = content_type.find_last_not_of(" \t");
  return content_type.substr(first, last - first + 1);
}

// Never throws: parse errors give a discarded value; bad_alloc is caught too.
json parse_json(std::string_view body) {
  try {
    return json::parse(body.data(), body.data() + body.size(), nullptr, /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    return json(json::value_t::discarded);
  }
}

std::string http_status_message(int http_status) {
  return "token endpoint answered HTTP " + std::to_string(http_status);
}

error field_error(std::string_view field, std::string_view problem) {
  std::string message = "token endpoint response: ";
  message.append(field).append(" ").append(problem);
  return error{errc::failed_precondition, std::move(message)};
}

errc code_for(std::string_view oauth_error, int http_status) {
  for (std::string_view e : {"invalid_client", "invalid_grant", "unauthorized_client", "access_denied"}) {
    if (oauth_error == e) return errc::unauthenticated;
  }
  for (std::string_view e : {"invalid_request", "invalid_scope", "unsupported_grant_type"}) {
    if (oauth_error == e) return errc::invalid_argument;
  }
  if (oauth_error == "server_error" || oauth_error == "temporarily_unavailable") return errc::unavailable;
  if (http_status == 401 || http_status == 403) return errc::unauthenticated;
  return errc::failed_precondition;
}

error oauth_error(const token_error& e, int http_status) {
  std::string code = clean_text(e.error, max_error_code_bytes);
  if (code.empty()) code = "unknown error";
  std::string message = "token endpoint: " + code;
  const std::string description = clean_text(e.error_description, max_error_description_bytes);
  if (!description.empty()) message.append(": ").append(description);
  return error{code_for(e.error, http_status), std::move(message)};
}

std::optional<token_error> token_error_from(const json& object) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find("error");
  if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return std::nullopt;
  token_error out;
  out.error = it->get_ref<const std::string&>();
  for (auto [key, target] : {std::pair{"error_description", &out.error_description},
                             std::pair{"error_uri", &out.error_uri}}) {
    const auto field = object.find(key);
    if (field != object.end() && field->is_string()) *target = field->get_ref<const std::string&>();
  }
  return out;
}

// An optional string field: absent and null leave `out` empty.
std::optional<error> optional_string(const json& object, const char* key, std::string& out) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return field_error(key, "is not a string");
  out = it->get_ref<const std::string&>();
  return std::nullopt;
}

result<std::chrono::seconds> parse_expires_in(const json& value) {
  constexpr auto max = static_cast<std::uint64_t>(max_expires_in.count());
  std::uint64_t seconds = 0;
  if (value.is_number_unsigned()) {
    seconds = value.get<std::uint64_t>();
  } else if (value.is_number_integer()) {  // signed: only negatives land here
    const auto v = value.get<std::int64_t>();
    if (v < 0) return field_error("expires_in", "is out of range");
    seconds = static_cast<std::uint64_t>(v);
  } else if (value.is_number_float()) {
    const double v = value.get<double>();
    if (!std::isfinite(v) || v != std::floor(v)) return field_error("expires_in", "is not an integer");
    if (v < 1 || v > static_cast<double>(max)) return field_error("expires_in", "is out of range");
    seconds = static_cast<std::uint64_t>(v);
  } else if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    const char* end = text.data() + text.size();
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
      return field_error("expires_in", "is not a number");
    }
    const auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
    if (ec != std::errc() || ptr != end) return field_error("expires_in", "is out of range");
  } else {
    return field_error("expires_in", "is not a number");
  }
  if (seconds < 1 || seconds > max) return field_error("expires_in", "is out of range");
  return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(seconds));
}

result<token_response> parse_success(const json& object) {
  token_response out;
  const auto access = object.find("access_token");
  if (access == object.end() || access->is_null()) return field_error("access_token", "is missing");
  if (!access->is_string()) return field_error("access_token", "is not a string");
  if (access->get_ref<const std::string&>().empty()) return field_error("access_token", "is empty");
  out.access_token = access->get_ref<const std::string&>();

  const auto type = object.find("token_type");
  if (type == object.end() || type->is_null()) return field_error("token_type", "is missing");
  if (!type->is_string()) return field_error("token_type", "is not a string");
  if (!iequals(type->get_ref<const std::string&>(), "bearer")) return field_error("token_type", "is not Bearer");
  out.token_type = type->get_ref<const std::string&>();

  const auto expires = object.find("expires_in");
  if (expires != object.end() && !expires->is_null()) {
    auto seconds = parse_expires_in(*expires);
    if (!seconds) return seconds.err();
    out.expires_in = *seconds;
  }
  if (auto e = optional_string(object, "refresh_token", out.refresh_token)) return *e;
  if (auto e = optional_string(object, "scope", out.scope)) return *e;
  if (auto e = optional_string(object, "id_token", out.id_token)) return *e;
  return out;
}

}  // namespace

std::optional<token_error> parse_token_error(std::string_view body) {
  if (body.size() > max_token_response_bytes) return std::nullopt;
  return token_error_from(parse_json(body));
}

result<token_response> parse_token_response(int http_status, std::string_view content_type,
                                            std::string_view body) {
  if (body.size() > max_token_response_bytes) {
    return error{errc::unavailable, http_status_message(http_status) + " with a body over 1 MiB"};
  }
  if (http_status >= 200 && http_status <= 299) {
    const json object = parse_json(body);
    if (!object.is_object()) {
      std::string message = http_status_message(http_status) + " with a body that is not a JSON object";
      const std::string type = clean_text(media_type(content_type), max_content_type_bytes);
      if (!type.empty()) message += " (Content-Type " + type + ")";
      return error{errc::unavailable, std::move(message)};
    }
    if (!object.contains("access_token")) {
      if (auto e = token_error_from(object)) return oauth_error(*e, http_status);
    }
    return parse_success(object);
  }
  if (http_status == 429 || (http_status >= 500 && http_status <= 599)) {
    return error{errc::unavailable, http_status_message(http_status)};
  }
  if (http_status >= 400 && http_status <= 499) {
    if (auto e = parse_token_error(body)) return oauth_error(*e, http_status);
  }
  return error{errc::unavailable, http_status_message(http_status)};
}

}  // namespace mailbroker::auth
