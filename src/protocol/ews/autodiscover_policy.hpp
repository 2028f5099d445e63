#pragma once
// The rules of POX Autodiscover that need no network: which URLs to ask for a mailbox
// address, where an HTTP redirect may lead, and whether an EWS URL that Autodiscover
// returned may receive the session's credentials. autodiscover_client.hpp runs the
// process over HTTP with these. Pure: no I/O, no exceptions; reentrant.
//
// No-secrets rule: messages name the field and the rule broken. They name a host only
// after it parsed as one (never a raw URL: userinfo may hold a password).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mailbroker::ews {

// Redirects followed in one discovery, all kinds counted together (redirectAddr,
// redirectUrl, HTTP 301/302/307/308): "the client application should stop redirecting
// after 10 redirects" (Exchange 2007 RedirectUrl (POX) reference).
inline constexpr int max_autodiscover_redirects = 10;
// A DNS name is at most 253 characters (RFC 1035 §2.3.4 without the trailing dot).
inline constexpr std::size_t max_mail_domain_bytes = 253;

// The mail domain of `email` (the part after the last '@'), lower case, a trailing '.'
// removed. Errors (invalid_argument, naming `field`): no '@' or nothing after it; longer
// than max_mail_domain_bytes; a character other than letters, digits, '-' and '.'; an
// empty label ("a..b", ".a"); an address literal ("[192.0.2.1]": Autodiscover needs a
// DNS name to build URLs from).
result<std::string> mail_domain_of(std::string_view email, std::string_view field = "email");

// The POX Autodiscover URLs derived from a mail domain, in the order Microsoft documents
// ("Generate a list of Autodiscover endpoints", learn.microsoft.com; MS-OXDSCLI 3.1.5):
//   https://<domain>/autodiscover/autodiscover.xml
//   https://autodiscover.<domain>/autodiscover/autodiscover.xml
// (SCP lookup in Active Directory, which comes first for domain-joined Windows clients,
// and the last-resort unauthenticated HTTP GET and DNS SRV lookups are not done: the
// first needs AD, the others lead through plain http or DNS answers we cannot verify.)
// Nothing is ever derived from a shorter suffix of the domain (no "autodiscover.<tld>").
std::vector<std::string> autodiscover_candidates(std::string_view domain);

// Whether `host` is `domain` or a name under it ("mail.example.com" is under
// "example.com"; "badexample.com" and "example.com.evil.net" are not). ASCII
// case-insensitive; a trailing '.' on either is ignored; an empty domain matches nothing.
bool host_within(std::string_view host, std::string_view domain);

// What an EWS URL from Autodiscover is checked against.
struct ews_url_trust {
  // The domain of the address the session was configured with, then the domain of every
  // address a redirectAddr led to (each was named by an Autodiscover server we had
  // already authenticated to over verified TLS).
  std::vector<std::string> mail_domains;
  // The host of the Autodiscover URL that returned the EWS URL.
  std::string autodiscover_host;
};

// Checks the EWS URL that Autodiscover returned before the session sends its
// credentials there (on every request, for the session's life). Accepted when it is an
// https URL without userinfo whose host is
//   (1) one of trust.mail_domains or a name under one (the user vouched for the mail
//       domain by configuring the address: mail.example.com for user@example.com), or
//   (2) trust.autodiscover_host or a name under it (that server has just been given the
//       credentials over verified TLS, so EWS on it or below exposes them to nobody new).
// Not accepted: the Autodiscover host's parent domain ("example.co.uk" for
// autodiscover.example.co.uk would then allow "evil.co.uk"; telling a registrable
// domain from a public suffix needs the Public Suffix List, which we do not carry).
// Hosted Exchange (e.g. outlook.office365.com for user@contoso.com) is therefore
// refused: such users set spec.ews.url.
// Returns the URL unchanged. Errors: failed_precondition, naming the host (once it
// parsed) and the rule, and telling the user to set spec.ews.url: an http URL, a URL
// that does not parse, userinfo, a host outside both rules.
result<std::string> vet_ews_url(std::string_view url, const ews_url_trust& trust);

// Where a redirect (an HTTP Location header or a redirectUrl) leads from `base_url` (an
// https URL that parsed): an absolute https URL as is, or a path ("/x") on base_url's
// origin. Errors (failed_precondition, the target never echoed): empty; plain http
// ("redirect to http:// refused: Autodiscover follows https only"); another scheme or
// a relative form other than "/path"; not a valid URL; userinfo.
result<std::string> resolve_redirect(std::string_view location, std::string_view base_url);

}  // namespace mailbroker::ews
