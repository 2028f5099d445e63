#pragma once
// Text from peers (server messages, token-endpoint errors) made safe to show: for log
// lines, Status replies and gRPC error messages.
#include <cstddef>
#include <string>
#include <string_view>

namespace mailbroker {

// Runs of control characters become one space; the result is cut to at most `max`
// bytes at a UTF-8 character boundary (no ellipsis).
std::string clean_text(std::string_view in, std::size_t max);

}  // namespace mailbroker
