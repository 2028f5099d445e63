#include "protocol/graph/batch.hpp"

namespace mailbroker::graph {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto l = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (l(a[i]) != l(b[i])) return false;
  }
  return true;
}

error invalid(std::string why) { return error{errc::invalid_argument, "batch: " + std::move(why)}; }

}  // namespace

std::string_view batch_response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

result<request> batch(const std::vector<request>& requests) {
  if (requests.empty()) return invalid("no requests");
  if (requests.size() > max_batch_requests) {
    return invalid("at most " + std::to_string(max_batch_requests) + " requests per batch (Graph's limit)");
  }
  json list = json::array();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const request& r = requests[i];
    const std::string id = std::to_string(i + 1);
    if (r.url.empty() || r.url.front() != '/') return invalid("request " + id + ": url must be relative, starting with '/'");
    json entry = json::object();
    entry["id"] = id;
    entry["method"] = r.method;
    entry["url"] = r.url;
    json headers = json::object();
    for (const auto& [name, value] : r.headers) headers[name] = value;
    if (!r.body.empty()) {
      headers["Content-Type"] = r.content_type.empty() ? std::string("application/json") : r.content_type;
      if (r.content_type.empty() || r.content_type == "application/json") {
        json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
        if (body.is_discarded()) return invalid("request " + id + ": the body is not JSON");
        entry["body"] = std::move(body);
      } else {
        entry["body"] = r.body;  // e.g. base64 MIME: a JSON string
      }
    }
    if (!headers.empty()) entry["headers"] = std::move(headers);
    list.push_back(std::move(entry));
  }
  json body = json::object();
  body["requests"] = std::move(list);
  return request{"POST", "/$batch", {}, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

result<std::vector<batch_response>> parse_batch(std::string_view body, int http_status) {
  auto parsed = parse_body(body, http_status, "Graph batch response");
  if (!parsed) return parsed.err();
  const auto it = parsed.value().find("responses");
  if (it == parsed.value().end() || !it->is_array()) {
    return error{errc::unavailable, "Graph batch response (HTTP " + std::to_string(http_status) +
                                        ") has no \"responses\" array"};
  }
  if (it->size() > max_batch_requests) {
    return error{errc::resource_exhausted, "Graph batch response holds more than " +
                                               std::to_string(max_batch_requests) + " responses"};
  }
  std::vector<batch_response> out;
  for (const json& r : *it) {
    if (!r.is_object()) continue;
    auto id = string_member(r, "id", 64);
    const auto status = r.find("status");
    if (!id || status == r.end() || !status->is_number_integer()) continue;
    const auto code = status->get<std::int64_t>();
    if (code < 100 || code > 999) continue;
    batch_response entry;
    entry.id = std::move(*id);
    entry.status = static_cast<int>(code);
    if (const auto headers = r.find("headers"); headers != r.end() && headers->is_object()) {
      for (const auto& [name, value] : headers->items()) {
        if (entry.headers.size() == max_batch_headers) break;
        if (!value.is_string()) continue;
        entry.headers.emplace_back(clean_text(name, 256), clean_text(value.get_ref<const std::string&>(), max_header_value_bytes));
      }
    }
    if (const auto b = r.find("body"); b != r.end() && !b->is_null()) {
      if (b->is_string()) {
        entry.body = b->get<std::string>();
      } else {
        // Depth is bounded by parse_body(), so dump() recursion is too.
        entry.body = b->dump(-1, ' ', false, json::error_handler_t::replace);
        entry.body_is_json = true;
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

failure batch_member_error(const batch_response& r, std::chrono::system_clock::time_point now, std::string_view item) {
  if (r.status >= 200 && r.status < 300) return failure{error::none(), {}, {}, {}};
  return response_error(r.status, r.body, r.header("Retry-After"), now, item);
}

}  // namespace mailbroker::graph
