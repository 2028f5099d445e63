#pragma once
// Parsed IMAP server responses (RFC 3501 / RFC 9051 section 7): what response_parser
// produces. Plain data: no invariants beyond the field comments.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mailbroker::imap {

// One token of a data response.
struct value {
  enum class kind { atom, quoted, literal, nil, list };
  kind type = kind::atom;
  // atom: as sent, including any attached [...] section and <...> partial, e.g.
  //   "BODY[HEADER.FIELDS (FROM)]<0>", "\Seen", "1:5";
  // quoted: unescaped content; literal (also ~{n} literal8): the raw bytes;
  // nil, list: empty.
  std::string text;
  std::vector<value> items;  // list elements; empty for other kinds

  bool operator==(const value&) const = default;
};

enum class response_type { tagged, untagged, continuation };

struct response {
  response_type type = response_type::untagged;
  std::string tag;                      // tagged only, as sent
  std::string status;                   // "OK","NO","BAD","BYE","PREAUTH" upper-cased, for status
                                        // responses; empty for data responses and continuations
  std::optional<std::uint32_t> number;  // "* 23 EXISTS", "* 5 FETCH (...)": the leading number
  std::string name;                     // data responses: upper-cased keyword: "CAPABILITY",
                                        // "EXISTS","FETCH","LIST","FLAGS",...
  std::vector<value> data;              // data responses: tokens after the name
  std::string code;       // status responses: response-code name upper-cased ("ALERT",
                          // "CAPABILITY","AUTHENTICATIONFAILED","UIDVALIDITY"); empty if none
  std::string code_text;  // raw text after the code name inside [...], e.g.
                          // "IMAP4rev1 AUTH=PLAIN"; "" if none
  std::string text;       // status: human text after status (+code); continuation: rest of
                          // the line after "+ " (may be base64 or empty)
  bool truncated = false;  // data responses: some list was nested deeper than the parser's
                           // max_depth and is kept as an empty list, its content skipped

  bool operator==(const response&) const = default;
};

// Upper-cased capability atoms from "* CAPABILITY ..." data or a "[CAPABILITY ...]"
// response code (of any status response, tagged or not); empty if the response carries
// none. Non-atom tokens in CAPABILITY data are skipped.
std::vector<std::string> capabilities_of(const response& r);

}  // namespace mailbroker::imap
