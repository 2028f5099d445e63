#pragma once
// Text helpers: text from peers (server messages, token-endpoint errors) made safe to
// show in log lines, Status replies and gRPC error messages; line-end normalisation.
#include <cstddef>
#include <string>
#include <string_view>

namespace mailbroker {

// Runs of control characters become one space; the result is cut to at most `max`
// bytes at a UTF-8 character boundary (no ellipsis).
std::string clean_text(std::string_view in, std::size_t max);

// Every line end as LF: CRLF and a bare CR each become one LF.
std::string to_lf(std::string_view text);

}  // namespace mailbroker
