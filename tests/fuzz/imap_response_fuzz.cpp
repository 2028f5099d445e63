// libFuzzer target for imap::response_parser.
//
// The input is server output. It is parsed twice: once fed whole and once in chunks whose
// sizes come from the input's first bytes (so the corpus stays plain server output). Both
// runs must yield the same responses and errors, and every feed() result must keep the
// documented contract; any difference aborts. Small limits make the limit paths
// reachable.
//
// Build: clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I src
//          tests/fuzz/imap_response_fuzz.cpp src/protocol/imap/response.cpp
//          src/protocol/imap/response_parser.cpp src/protocol/imap/command.cpp
//          src/common/base64.cpp
// (not src/protocol/imap/*.cpp: client.cpp there needs Asio coroutines.)
// Run:   ./imap_response_fuzz -max_len=4096 WORK_DIR tests/fuzz/corpus/imap_response
//        (new inputs go to the first directory; keep the seed corpus small)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/imap/response_parser.hpp"

namespace {

using mailbroker::imap::parse_result;
using mailbroker::imap::parse_status;
using mailbroker::imap::parser_limits;
using mailbroker::imap::response;
using mailbroker::imap::response_parser;

struct outcome {
  parse_status status;
  response r;
  std::string error;
  bool operator==(const outcome&) const = default;
};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::vector<outcome> drive(std::string_view in, std::uint32_t seed, std::size_t max_chunk) {
  const parser_limits limits{
      .max_line_bytes = 200, .max_literal_bytes = 1000, .max_response_bytes = 3000, .max_depth = 6};
  response_parser parser(limits);
  std::vector<outcome> out;
  std::uint32_t state = seed;
  while (!in.empty()) {
    state = state * 1664525u + 1013904223u;
    const std::size_t size = max_chunk == 0 ? in.size() : 1 + (state >> 16) % max_chunk;
    std::string_view chunk = in.substr(0, size);
    in.remove_prefix(chunk.size());
    while (!chunk.empty()) {
      const parse_result r = parser.feed(chunk);
      check(r.consumed <= chunk.size());
      if (r.status == parse_status::need_more) check(r.consumed == chunk.size());
      if (r.status == parse_status::complete || r.status == parse_status::recoverable_error) check(r.consumed > 0);
      chunk.remove_prefix(r.consumed);
      switch (r.status) {
        case parse_status::need_more:
          check(parser.error().empty());
          break;
        case parse_status::complete: {
          response resp = parser.take();
          (void)mailbroker::imap::capabilities_of(resp);
          out.push_back({r.status, std::move(resp), {}});
          break;
        }
        case parse_status::recoverable_error:
        case parse_status::fatal_error:
          check(!parser.error().empty() && parser.error().size() <= 120);
          out.push_back({r.status, {}, parser.error()});
          if (r.status == parse_status::fatal_error) {
            const parse_result again = parser.feed("* OK\r\n");
            check(again.status == parse_status::fatal_error && again.consumed == 0);
            return out;
          }
          break;
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::uint32_t seed = 0;
  for (std::size_t i = 0; i < size && i < 4; ++i) seed = seed << 8 | data[i];
  const std::size_t max_chunk = size == 0 ? 1 : 1 + data[0] % 16;
  check(drive(in, seed, max_chunk) == drive(in, 0, 0));
  return 0;
}
