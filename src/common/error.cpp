#include "common/error.hpp"

namespace mailbroker {

std::string_view errc_name(errc code) {
  switch (code) {
    case errc::ok: return "OK";
    case errc::invalid_argument: return "INVALID_ARGUMENT";
    case errc::failed_precondition: return "FAILED_PRECONDITION";
    case errc::unauthenticated: return "UNAUTHENTICATED";
    case errc::unavailable: return "UNAVAILABLE";
    case errc::deadline_exceeded: return "DEADLINE_EXCEEDED";
    case errc::not_found: return "NOT_FOUND";
    case errc::resource_exhausted: return "RESOURCE_EXHAUSTED";
    case errc::cancelled: return "CANCELLED";
    case errc::unimplemented: return "UNIMPLEMENTED";
    case errc::permission_denied: return "PERMISSION_DENIED";
    case errc::aborted: return "ABORTED";
    case errc::internal: return "INTERNAL";
  }
  return "UNKNOWN";
}

}  // namespace mailbroker
