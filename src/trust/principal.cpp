#include "trust/principal.hpp"

namespace mailbroker::trust {

std::string principal::id() const {
  switch (k) {
    case kind::unix_peer: return "uid:" + std::to_string(uid);
    case kind::certificate: return "cert:" + name;
    case kind::token: return "token:" + name;
    case kind::anonymous_tcp: return "tcp:anonymous";
  }
  return "unknown";
}

}  // namespace mailbroker::trust
