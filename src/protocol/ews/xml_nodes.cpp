#include "protocol/ews/xml_nodes.hpp"

#include <charconv>

#include "protocol/ews/responses.hpp"
#include "protocol/ews/xml_text.hpp"

namespace mailbroker::ews::detail {

error check_body_size(std::string_view body, std::string_view what) {
  if (body.size() > max_envelope_bytes) {
    return {errc::resource_exhausted, std::string(what) + " larger than " +
                                          std::to_string(max_envelope_bytes / (1024 * 1024)) + " MiB"};
  }
  std::size_t tokens = 0;
  for (char c : body) tokens += (c == '<' || c == '=') ? 1 : 0;
  if (tokens > max_markup_tokens) {
    return {errc::resource_exhausted, std::string(what) + " holds more than " + std::to_string(max_markup_tokens) +
                                          " elements and attributes"};
  }
  return error::none();
}

pugi::xml_parse_result load(std::string_view body, std::string& storage, pugi::xml_document& document) {
  storage = prepare_for_parse(body);
  return document.load_buffer_inplace(storage.data(), storage.size(),
                                      pugi::parse_default | pugi::parse_ws_pcdata_single, pugi::encoding_utf8);
}

std::string_view local_name(pugi::xml_node node) {
  const std::string_view name = node.name();
  const std::size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node child(pugi::xml_node node, std::string_view local) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && local_name(c) == local) return c;
  }
  return {};
}

std::string_view attribute(pugi::xml_node node, std::string_view local) {
  for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute()) {
    std::string_view name = a.name();
    const std::size_t colon = name.find(':');
    if (colon != std::string_view::npos) name = name.substr(colon + 1);
    if (name == local) return a.value();
  }
  return {};
}

std::string_view raw_text(pugi::xml_node node) { return node ? node.child_value() : ""; }

std::string text(pugi::xml_node node) { return clean_text(raw_text(node)); }

template <class T>
static std::optional<T> to_unsigned(std::string_view s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::uint32_t> to_u32(std::string_view s) { return to_unsigned<std::uint32_t>(s); }
std::optional<std::uint64_t> to_u64(std::string_view s) { return to_unsigned<std::uint64_t>(s); }

std::optional<bool> to_bool(std::string_view s) {
  if (s == "true" || s == "1") return true;
  if (s == "false" || s == "0") return false;
  return std::nullopt;
}

std::string safe_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return {};
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.' || c == ':';
    if (!ok) return {};
  }
  return std::string(name);
}

error protocol_error(std::string what) {
  return {errc::unavailable, "protocol error from EWS server: " + std::move(what)};
}

}  // namespace mailbroker::ews::detail
