// Autodiscover's pure rules (autodiscover_policy.hpp).
#include "protocol/ews/autodiscover_policy.hpp"

#include "auth/url.hpp"

namespace mailbroker::ews {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

std::string_view without_trailing_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The scheme of "scheme://...", lower case; "" when the text does not start with one.
std::string scheme_of(std::string_view url) {
  const auto colon = url.find("://");
  if (colon == std::string_view::npos || colon == 0) return {};
  for (char c : url.substr(0, colon)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                    c == '-' || c == '.';
    if (!ok) return {};
  }
  return lowered(url.substr(0, colon));
}

std::string set_url_hint() {
  return "set spec.ews.url to the EWS URL (https://<host>/EWS/Exchange.asmx) to skip Autodiscover";
}

}  // namespace

result<std::string> mail_domain_of(std::string_view email, std::string_view field) {
  const std::string name(field);
  const auto at = email.rfind('@');
  if (at == std::string_view::npos) return error{errc::invalid_argument, name + " has no '@' (expected user@domain)"};
  const std::string_view domain = without_trailing_dot(email.substr(at + 1));
  if (domain.empty()) return error{errc::invalid_argument, name + " has no domain after '@'"};
  if (domain.size() > max_mail_domain_bytes) {
    return error{errc::invalid_argument,
                 name + ": the domain is longer than " + std::to_string(max_mail_domain_bytes) + " characters"};
  }
  if (domain.front() == '[') {
    return error{errc::invalid_argument,
                 name + ": the domain is an address literal; Autodiscover needs a DNS name (or set spec.ews.url)"};
  }
  bool label_start = true;
  for (char c : domain) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) {
      return error{errc::invalid_argument,
                   name + ": the domain may hold only letters, digits, '-' and '.' (IDNs in their xn-- form)"};
    }
    if (c == '.' && label_start) return error{errc::invalid_argument, name + ": the domain has an empty label"};
    label_start = c == '.';
  }
  return lowered(domain);
}

std::vector<std::string> autodiscover_candidates(std::string_view domain) {
  const std::string d(domain);
  return {"https://" + d + "/autodiscover/autodiscover.xml", "https://autodiscover." + d + "/autodiscover/autodiscover.xml"};
}

bool host_within(std::string_view host, std::string_view domain) {
  host = without_trailing_dot(host);
  domain = without_trailing_dot(domain);
  if (domain.empty() || host.size() < domain.size()) return false;
  if (host.size() == domain.size()) return iequal(host, domain);
  return host[host.size() - domain.size() - 1] == '.' && iequal(host.substr(host.size() - domain.size()), domain);
}

result<std::string> vet_ews_url(std::string_view url, const ews_url_trust& trust) {
  const std::string scheme = scheme_of(url);
  if (scheme == "http") {
    return error{errc::failed_precondition, "Autodiscover returned a plain http:// EWS URL; credentials go only over "
                                            "https: " + set_url_hint()};
  }
  auto parsed = auth::parse_url(url);
  if (!parsed) {
    return error{errc::failed_precondition,
                 "Autodiscover returned an EWS URL that is not a valid https URL (" + parsed.err().message + "): " +
                     set_url_hint()};
  }
  if (!parsed->userinfo.empty()) {
    return error{errc::failed_precondition,
                 "Autodiscover returned an EWS URL with userinfo (user@ before the host): " + set_url_hint()};
  }
  const std::string& host = parsed->host;
  for (const auto& domain : trust.mail_domains) {
    if (host_within(host, domain)) return std::string(url);
  }
  if (host_within(host, trust.autodiscover_host)) return std::string(url);
  std::string domains;
  for (const auto& domain : trust.mail_domains) domains += (domains.empty() ? "" : ", ") + domain;
  return error{errc::failed_precondition,
               "Autodiscover returned the EWS host " + host + ", which is neither the mail domain (" + domains +
                   ") or a name under it nor the Autodiscover host " + trust.autodiscover_host +
                   " or a name under it; the session's credentials would go there, so it is not used: if " + host +
                   " is right, " + set_url_hint()};
}

result<std::string> resolve_redirect(std::string_view location, std::string_view base_url) {
  if (location.empty()) return error{errc::failed_precondition, "redirect without a target URL"};
  std::string target;
  if (location.front() == '/') {
    if (location.size() > 1 && location[1] == '/') {
      return error{errc::failed_precondition, "redirect to a scheme-relative URL (//host) refused"};
    }
    auto base = auth::parse_url(base_url);
    if (!base) return error{errc::internal, "redirect from a URL that does not parse (" + base.err().message + ")"};
    const bool ipv6 = base->host.find(':') != std::string::npos;
    target = "https://" + (ipv6 ? "[" + base->host + "]" : base->host) +
             (base->port != 443 ? ":" + std::to_string(base->port) : std::string()) + std::string(location);
  } else {
    const std::string scheme = scheme_of(location);
    if (scheme == "http") {
      return error{errc::failed_precondition, "redirect to http:// refused: Autodiscover follows https only"};
    }
    if (scheme != "https") {
      return error{errc::failed_precondition, "redirect target is neither an https URL nor a /path"};
    }
    target = std::string(location);
  }
  auto parsed = auth::parse_url(target);
  if (!parsed) {
    return error{errc::failed_precondition, "redirect target is not a valid https URL (" + parsed.err().message + ")"};
  }
  if (!parsed->userinfo.empty()) {
    return error{errc::failed_precondition, "redirect target carries userinfo (user@ before the host): refused"};
  }
  return target;
}

}  // namespace mailbroker::ews
