#pragma once
// SASL PLAIN (RFC 4616) client message.
#include <string>
#include <string_view>

namespace mailbroker::sasl {

// Returns base64(authzid NUL user NUL password), ready to send as the AUTHENTICATE
// PLAIN initial response (SASL-IR, RFC 4959) or as the answer to the first
// continuation. `authzid` is usually empty (act as `user`). No validation is done: the
// fields must not contain NUL themselves (RFC 4616 forbids it), otherwise the server
// will split them differently. The result contains the password: never log it.
std::string plain_initial_response(std::string_view authzid, std::string_view user, std::string_view password);

}  // namespace mailbroker::sasl
