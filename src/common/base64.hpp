#pragma once
// Base64 with the standard alphabet (RFC 4648 section 4: A-Z a-z 0-9 + /), as used by
// SASL exchanges in IMAP AUTHENTICATE.
#include <optional>
#include <string>
#include <string_view>

namespace mailbroker {

// Encodes `bytes` (any octets); the result is always padded with '=' to a multiple of 4
// characters and never contains line breaks. Empty input gives "".
std::string base64_encode(std::string_view bytes);

// Decodes `text`, which may be padded or unpadded. Returns nullopt, never a partial
// result, when `text`:
//   - contains any character outside the alphabet, including whitespace and CR/LF
//     (nothing is skipped or ignored);
//   - has padding that is misplaced, of the wrong amount for its length, or followed by
//     data; with padding, the length must be a multiple of 4;
//   - has a length that leaves a single trailing character (length % 4 == 1 unpadded);
//   - has non-zero bits in the unused low bits of the last character (non-canonical
//     encoding, RFC 4648 section 3.5).
// "" decodes to "".
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace mailbroker
