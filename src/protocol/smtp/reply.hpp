#pragma once
// SMTP server replies (RFC 5321 4.2) with RFC 3463 enhanced status codes, and the EHLO
// capability list (RFC 5321 4.1.1.1 and the extensions below).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mailbroker::smtp {

// RFC 3463 "class.subject.detail", e.g. 5.7.8. class is 2, 4 or 5 and matches the first
// digit of the reply code; subject and detail are 0..999.
struct enhanced_code {
  int klass = 0;
  int subject = 0;
  int detail = 0;
  bool operator==(const enhanced_code&) const = default;
};

struct reply {
  int code = 0;                           // 200..599 once parsed
  std::optional<enhanced_code> enhanced;  // only when the parser was told to look for them
  // The text of each line after "ddd-" / "ddd " (without line end); "" for a bare "ddd".
  // When `enhanced` is set, its "x.y.z" and the SP after it are removed from every line
  // that starts with it (RFC 2034 repeats it on each line).
  std::vector<std::string> lines;

  bool is_positive() const { return code >= 200 && code < 400; }      // 2yz or 3yz
  bool is_completion() const { return code >= 200 && code < 300; }    // 2yz
  bool is_intermediate() const { return code >= 300 && code < 400; }  // 3yz (DATA 354, AUTH 334)
  bool is_transient() const { return code >= 400 && code < 500; }     // 4yz: try again later
  bool is_permanent() const { return code >= 500 && code < 600; }     // 5yz
  bool operator==(const reply&) const = default;
};

// What a 250 reply to EHLO advertises (lines after the first, which is the server's
// domain and greeting). Keywords are case-insensitive; parameters are SP-separated.
struct ehlo_capabilities {
  std::string domain;                 // first word of the first line (server text)
  std::vector<std::string> keywords;  // every keyword once, upper-cased, in order of
                                      // appearance ("AUTH=..." lines add none)
  // SIZE (RFC 1870): nullopt when not advertised; 0 when advertised without a limit
  // ("SIZE" or "SIZE 0"); otherwise the maximum message size in octets.
  std::optional<std::uint64_t> size;
  // AUTH (RFC 4954) mechanisms, upper-cased, without duplicates; the obsolete
  // "AUTH=PLAIN LOGIN" form some servers still send is merged in.
  std::vector<std::string> auth;
  bool starttls = false;               // RFC 3207
  bool eightbitmime = false;           // RFC 6152
  bool smtputf8 = false;               // RFC 6531
  bool pipelining = false;             // RFC 2920
  bool enhanced_status_codes = false;  // RFC 2034: tell the reply parser
  bool chunking = false;               // RFC 3030
  bool operator==(const ehlo_capabilities&) const = default;

  bool has_auth(std::string_view mechanism) const;  // ASCII case-insensitive
};

// Reads a reply to EHLO. Errors (invalid_argument; messages name the line number, never
// quote server text): the reply is not 250, a line is empty or has an empty keyword, a
// keyword has characters outside A-Z a-z 0-9 '-', or SIZE has a non-numeric or
// out-of-range parameter.
result<ehlo_capabilities> parse_ehlo(const reply& r);

}  // namespace mailbroker::smtp
