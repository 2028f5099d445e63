#include "sasl/plain.hpp"

#include "common/base64.hpp"

namespace mailbroker::sasl {

std::string plain_initial_response(std::string_view authzid, std::string_view user, std::string_view password) {
  std::string message;
  message.reserve(authzid.size() + user.size() + password.size() + 2);
  message.append(authzid);
  message += '\0';
  message.append(user);
  message += '\0';
  message.append(password);
  return base64_encode(message);
}

}  // namespace mailbroker::sasl
