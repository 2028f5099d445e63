// The SOAP envelope and response codes: parse_envelope() and error_of().
#include "protocol/ews/responses.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "common/text.hpp"
#include "protocol/ews/xml_nodes.hpp"
#include "protocol/ews/xml_text.hpp"

namespace mailbroker::ews {
namespace {

using detail::attribute;
using detail::child;
using detail::local_name;
using detail::protocol_error;
using detail::raw_text;

constexpr std::string_view soap11 = "http://schemas.xmlsoap.org/soap/envelope/";
constexpr std::string_view soap12 = "http://www.w3.org/2003/05/soap-envelope";
constexpr std::size_t max_server_text_bytes = 200;
constexpr std::size_t max_snippet_bytes = 100;

bool contains_ci(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         }) != haystack.end();
}

// Server text fit for an error message: cleaned, cut, dropped when it mentions a header
// that carries secrets.
std::string server_text(std::string_view s) {
  if (contains_ci(s, "authorization")) return {};
  return mailbroker::clean_text(s, max_server_text_bytes);
}

// The first bytes of a non-XML body, when they are plain printable text.
std::string snippet(std::string_view body) {
  const std::string_view head = body.substr(0, max_snippet_bytes);
  if (contains_ci(body.substr(0, max_snippet_bytes + 16), "authorization")) return {};
  for (char c : head) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u >= 0x7f) return {};
  }
  return mailbroker::clean_text(head, max_snippet_bytes);
}

std::string http(int status) { return "HTTP " + std::to_string(status); }

// What a body that is not an EWS SOAP envelope means, given the HTTP status.
error not_soap(int status, std::string what, std::string_view body) {
  errc code = errc::unavailable;
  std::string hint;
  if (status == 403) {
    code = errc::permission_denied;
    hint = ": the server refuses this account or client";
  } else if (status == 404 || (status >= 300 && status < 400)) {
    code = errc::failed_precondition;
    hint = status == 404 ? ": no EWS service at this URL; check the EWS URL (https://host/EWS/Exchange.asmx)"
                         : ": the EWS URL redirects; configure the final URL";
  }
  std::string message = "EWS answered " + http(status) + " with " + std::move(what) + hint;
  if (const std::string s = snippet(body); !s.empty()) message += " (body starts: \"" + s + "\")";
  return {code, std::move(message)};
}

std::string namespace_of(pugi::xml_node element) {
  const std::string_view name = element.name();
  const std::size_t colon = name.find(':');
  const std::string attr =
      colon == std::string_view::npos ? std::string("xmlns") : "xmlns:" + std::string(name.substr(0, colon));
  for (pugi::xml_node n = element; n; n = n.parent()) {
    if (pugi::xml_attribute a = n.attribute(attr.c_str())) return a.value();
  }
  return {};
}

int to_int(std::string_view s) {
  const auto v = detail::to_u32(s);
  return v && *v <= 1000000 ? static_cast<int>(*v) : 0;
}

server_version_info read_server_version(pugi::xml_node header) {
  server_version_info info;
  const pugi::xml_node n = child(header, "ServerVersionInfo");
  if (!n) return info;
  info.major = to_int(attribute(n, "MajorVersion"));
  info.minor = to_int(attribute(n, "MinorVersion"));
  info.major_build = to_int(attribute(n, "MajorBuildNumber"));
  info.minor_build = to_int(attribute(n, "MinorBuildNumber"));
  info.version = detail::safe_name(attribute(n, "Version"));
  return info;
}

// BackOffMilliseconds from <MessageXml><Value Name="BackOffMilliseconds">n</Value>.
std::uint32_t read_back_off(pugi::xml_node message_xml) {
  for (pugi::xml_node v = message_xml.first_child(); v; v = v.next_sibling()) {
    if (local_name(v) == "Value" && attribute(v, "Name") == "BackOffMilliseconds") {
      return detail::to_u32(raw_text(v)).value_or(0);
    }
  }
  return 0;
}

response_message read_message(pugi::xml_node node) {
  response_message m;
  m.node = node;
  m.response_class = detail::safe_name(attribute(node, "ResponseClass"));
  m.response_code = detail::safe_name(raw_text(child(node, "ResponseCode")));
  m.message_text = clean_text(raw_text(child(node, "MessageText")));
  m.back_off_ms = read_back_off(child(node, "MessageXml"));
  return m;
}

struct code_class {
  std::string_view code;
  errc value;
};

constexpr std::array<code_class, 45> code_classes{{
    {"ErrorItemNotFound", errc::not_found},
    {"ErrorFolderNotFound", errc::not_found},
    {"ErrorNonExistentMailbox", errc::not_found},
    {"ErrorSubscriptionNotFound", errc::not_found},
    {"ErrorExpiredSubscription", errc::not_found},
    {"ErrorInvalidSubscription", errc::not_found},
    {"ErrorAccessDenied", errc::permission_denied},
    {"ErrorImpersonateUserDenied", errc::permission_denied},
    {"ErrorImpersonationDenied", errc::permission_denied},
    {"ErrorImpersonationFailed", errc::permission_denied},
    {"ErrorNotDelegate", errc::permission_denied},
    {"ErrorSendAsDenied", errc::permission_denied},
    {"ErrorSubscriptionAccessDenied", errc::permission_denied},
    {"ErrorAccountDisabled", errc::permission_denied},
    {"ErrorMessageSubmissionBlocked", errc::permission_denied},
    {"ErrorServerBusy", errc::unavailable},
    {"ErrorMailboxStoreUnavailable", errc::unavailable},
    {"ErrorMailboxMoveInProgress", errc::unavailable},
    {"ErrorInternalServerTransientError", errc::unavailable},
    {"ErrorConnectionFailed", errc::unavailable},
    {"ErrorTimeoutExpired", errc::unavailable},
    {"ErrorTooManyObjectsOpened", errc::unavailable},
    {"ErrorInsufficientResources", errc::unavailable},
    {"ErrorInvalidServerVersion", errc::failed_precondition},
    {"ErrorIncorrectSchemaVersion", errc::failed_precondition},
    {"ErrorInvalidSchemaVersionForMailboxVersion", errc::failed_precondition},
    {"ErrorIrresolvableConflict", errc::failed_precondition},
    {"ErrorStaleObject", errc::failed_precondition},
    {"ErrorChangeKeyRequired", errc::failed_precondition},
    {"ErrorChangeKeyRequiredForWriteOperations", errc::failed_precondition},
    {"ErrorInvalidWatermark", errc::failed_precondition},
    {"ErrorCannotDeleteObject", errc::failed_precondition},
    {"ErrorMoveCopyFailed", errc::failed_precondition},
    {"ErrorBatchProcessingStopped", errc::failed_precondition},
    {"ErrorInvalidChangeKey", errc::invalid_argument},
    {"ErrorInvalidSmtpAddress", errc::invalid_argument},
    {"ErrorInvalidRecipients", errc::invalid_argument},
    {"ErrorMessageSizeExceeded", errc::invalid_argument},
    {"ErrorQuotaExceeded", errc::resource_exhausted},
    {"ErrorExceededSubscriptionCount", errc::resource_exhausted},
    {"ErrorExceededFindCountLimit", errc::resource_exhausted},
    {"ErrorSchemaValidation", errc::internal},
    {"ErrorInvalidRequest", errc::internal},
    {"ErrorInvalidPropertyRequest", errc::internal},
    {"ErrorInvalidOperation", errc::internal},
}};

errc classify(std::string_view code) {
  for (const code_class& c : code_classes) {
    if (c.code == code) return c.value;
  }
  if (code.rfind("ErrorInvalidId", 0) == 0) return errc::invalid_argument;
  for (std::string_view transient : {"Transient", "Unavailable", "Busy", "Timeout"}) {
    if (code.find(transient) != std::string_view::npos) return errc::unavailable;
  }
  return errc::internal;
}

bool is_version_code(std::string_view code) {
  return code == "ErrorInvalidServerVersion" || code == "ErrorIncorrectSchemaVersion" ||
         code == "ErrorInvalidSchemaVersionForMailboxVersion";
}

// The error for `code` with the server's text; shared by response messages and faults.
error make_error(std::string_view code, std::string_view text, std::uint32_t back_off_ms,
                 std::optional<server_version> requested, const server_version_info* server) {
  const std::string shown_code = code.empty() ? std::string("(no ResponseCode)") : std::string(code);
  std::string message = "EWS " + shown_code;
  if (const std::string t = server_text(text); !t.empty()) message += ": " + t;
  if (code == "ErrorServerBusy" && back_off_ms > 0) {
    message += " (server asks to back off " + std::to_string(back_off_ms) + " ms)";
  }
  if (is_version_code(code)) {
    message += " (the session requests ";
    message += requested ? std::string(version_name(*requested)) : std::string("an unknown version");
    if (server != nullptr && !server->empty()) message += "; the server runs " + describe(*server);
    message += "; set the session's Exchange version to one the server supports)";
  }
  return {classify(code), std::move(message)};
}

error read_fault(pugi::xml_node fault, std::optional<server_version> requested, const server_version_info& server,
                 std::uint32_t* back_off_ms_r) {
  const pugi::xml_node detail_node = child(fault, "detail") ? child(fault, "detail") : child(fault, "Detail");
  std::string code = detail::safe_name(raw_text(child(detail_node, "ResponseCode")));
  if (code.empty()) {
    // faultcode "a:ErrorSchemaValidation" (SOAP 1.1) or Code/Subcode/Value (SOAP 1.2).
    std::string_view fc = raw_text(child(fault, "faultcode"));
    if (fc.empty()) fc = raw_text(child(child(child(fault, "Code"), "Subcode"), "Value"));
    if (const std::size_t colon = fc.find(':'); colon != std::string_view::npos) fc = fc.substr(colon + 1);
    if (fc.rfind("Error", 0) == 0) code = detail::safe_name(fc);
  }
  std::string_view text = raw_text(child(fault, "faultstring"));
  if (text.empty()) text = raw_text(child(child(fault, "Reason"), "Text"));
  if (text.empty()) text = raw_text(child(detail_node, "Message"));
  const std::uint32_t back_off = read_back_off(child(detail_node, "MessageXml"));
  if (back_off_ms_r != nullptr) *back_off_ms_r = back_off;
  if (code.empty()) {
    return {errc::unavailable, "EWS SOAP fault without a ResponseCode" +
                                   (server_text(text).empty() ? std::string() : ": " + server_text(text))};
  }
  return make_error(code, text, back_off, requested, &server);
}

}  // namespace

result<soap_reply> parse_envelope(std::string_view body, int http_status, std::optional<server_version> requested,
                                  std::uint32_t* back_off_ms_r) {
  if (back_off_ms_r != nullptr) *back_off_ms_r = 0;
  if (error e = detail::check_body_size(body, "EWS response"); !e.ok()) return e;
  if (http_status == 401) {
    return error{errc::unauthenticated, "EWS answered HTTP 401: the server refused the credentials"};
  }
  if (body.empty()) return not_soap(http_status, "an empty body", body);

  auto text = std::make_unique<std::string>();
  auto document = std::make_unique<pugi::xml_document>();
  const pugi::xml_parse_result parsed = detail::load(body, *text, *document);
  if (!parsed) {
    return not_soap(http_status,
                    "a body that is not well-formed XML (" + std::string(parsed.description()) + " at byte " +
                        std::to_string(parsed.offset) + "; truncated, or an HTML error page)",
                    body);
  }
  const pugi::xml_node root = document->document_element();
  const std::string ns = namespace_of(root);
  if (local_name(root) != "Envelope" || (ns != soap11 && ns != soap12)) {
    const std::string name = detail::safe_name(root.name());
    return not_soap(http_status, "XML that is not a SOAP envelope (root element <" + name + ">)", body);
  }
  soap_reply reply;
  reply.http_status = http_status;
  reply.server = read_server_version(child(root, "Header"));
  const pugi::xml_node soap_body = child(root, "Body");
  if (!soap_body) return protocol_error("SOAP envelope without a Body (" + http(http_status) + ")");
  pugi::xml_node operation = soap_body.first_child();
  while (operation && operation.type() != pugi::node_element) operation = operation.next_sibling();
  if (!operation) return protocol_error("empty SOAP Body (" + http(http_status) + ")");
  if (local_name(operation) == "Fault") return read_fault(operation, requested, reply.server, back_off_ms_r);
  if (http_status != 200) {
    return error{errc::unavailable, "EWS answered " + http(http_status) + " with a SOAP body that is not a fault"};
  }
  reply.operation = detail::safe_name(local_name(operation));
  reply.operation_node = operation;
  const pugi::xml_node messages = child(operation, "ResponseMessages");
  if (!messages) return protocol_error("<" + reply.operation + "> without ResponseMessages");
  for (pugi::xml_node m = messages.first_child(); m; m = m.next_sibling()) {
    if (m.type() != pugi::node_element) continue;
    if (reply.messages.size() == max_response_messages) {
      return error{errc::resource_exhausted,
                   "EWS response holds more than " + std::to_string(max_response_messages) + " response messages"};
    }
    reply.messages.push_back(read_message(m));
  }
  reply.text = std::move(text);
  reply.document = std::move(document);
  return reply;
}

error error_of(const response_message& message, std::optional<server_version> requested) {
  if (message.response_code == "NoError") return error::none();
  if (message.response_code.empty() && message.response_class == "Success") return error::none();
  return make_error(message.response_code, message.message_text, message.back_off_ms, requested, nullptr);
}

}  // namespace mailbroker::ews
