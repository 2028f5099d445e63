// parse_autodiscover(): the POX Autodiscover response (responses.hpp).
#include "protocol/ews/responses.hpp"
#include "protocol/ews/xml_nodes.hpp"
#include "protocol/ews/xml_text.hpp"

namespace mailbroker::ews {

result<autodiscover_result> parse_autodiscover(std::string_view body) {
  using detail::child;
  using detail::local_name;
  using detail::raw_text;
  using detail::text;
  if (error e = detail::check_body_size(body, "Autodiscover response"); !e.ok()) return e;
  std::string storage;
  pugi::xml_document document;
  const pugi::xml_parse_result parsed = detail::load(body, storage, document);
  if (!parsed) {
    return error{errc::unavailable, "Autodiscover response is not well-formed XML (" +
                                        std::string(parsed.description()) + " at byte " +
                                        std::to_string(parsed.offset) + ")"};
  }
  const pugi::xml_node root = document.document_element();
  if (local_name(root) != "Autodiscover") {
    return error{errc::unavailable, "Autodiscover response has root element <" + detail::safe_name(root.name()) +
                                        "> instead of <Autodiscover>"};
  }
  const pugi::xml_node response = child(root, "Response");
  autodiscover_result out;
  if (const pugi::xml_node e = child(response, "Error")) {
    out.error_code = text(child(e, "ErrorCode"));
    out.error_message = text(child(e, "Message"));
    if (out.error_code.empty()) out.error_code = "(no ErrorCode)";
    return out;
  }
  const pugi::xml_node account = child(response, "Account");
  const std::string_view action = raw_text(child(account, "Action"));
  if (action == "redirectAddr") out.redirect_addr = text(child(account, "RedirectAddr"));
  if (action == "redirectUrl") out.redirect_url = text(child(account, "RedirectUrl"));
  std::string exch, expr;
  for (pugi::xml_node p = account.first_child(); p; p = p.next_sibling()) {
    if (p.type() != pugi::node_element || local_name(p) != "Protocol") continue;
    const std::string_view type = raw_text(child(p, "Type"));
    const std::string url = text(child(p, "EwsUrl"));
    if (type == "EXPR" && expr.empty()) expr = url;
    if (type == "EXCH" && exch.empty()) exch = url;
  }
  out.ews_url = !expr.empty() ? expr : exch;
  if (out.ews_url.empty() && out.redirect_addr.empty() && out.redirect_url.empty()) {
    return error{errc::unavailable, "Autodiscover response has no EWS URL (no EwsUrl in an EXPR or EXCH Protocol), "
                                    "no redirect and no error"};
  }
  return out;
}

}  // namespace mailbroker::ews
