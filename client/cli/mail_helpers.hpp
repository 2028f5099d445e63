#pragma once
// Pure helpers of the message commands (show, save-attachments, send, reply, forward):
// no I/O, no gRPC, so the unit tests can check them byte for byte.
#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::cli {

struct mail_address {
  std::string name;     // display name, may be empty
  std::string address;  // local@domain
};

// One address as typed on the command line: "a@b", "<a@b>", "Name <a@b>" or
// "\"Name, Jr.\" <a@b>" (the quotes go; \" and \\ inside them unescape). Exactly one
// address: commas are not list separators (display names contain them), repeat the
// option instead. invalid_argument when the address part is not `local@domain`
// without spaces, angle brackets or control characters; the message quotes `text`
// (addresses are not secrets).
result<mail_address> parse_address(std::string_view text);

// A file name that is safe to create inside the chosen directory, made from a
// sender-controlled attachment name: only the part after the last '/' or '\' is kept,
// leading dots and surrounding spaces go (no hidden files, no "."/".."), control
// characters become '_', and a name over 200 bytes is cut at a UTF-8 boundary keeping
// a short extension. Empty after that: "part-<part_id>" (part_id made safe the same way).
std::string safe_filename(std::string_view name, std::string_view part_id);

// The n-th candidate for `name` when earlier ones exist: n <= 1 gives `name`, n = 2
// gives "report (2).pdf" (the number goes before the last extension; a name with no
// extension gets it at the end).
std::string numbered_filename(std::string_view name, std::size_t n);

// A MIME type from the file name's extension, case-insensitive, for common document,
// image, archive and text types; "application/octet-stream" for anything else.
std::string guess_content_type(std::string_view filename);

}  // namespace mailbroker::cli
