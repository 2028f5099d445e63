// libFuzzer target for pop3::reply_parser and the POP3 reply helpers.
//
// The input is server output. It is parsed twice: once fed whole and once in chunks whose
// sizes come from the input's first bytes (so the corpus stays plain server output).
// Which kind of reply is expected (single-line, multi-line, streamed) is chosen per reply
// from the same bytes, identically in both runs. Both runs must yield the same replies,
// bodies and errors, and every feed() result must keep the documented contract; any
// difference aborts. Small limits make the limit paths reachable. Complete replies are
// also handed to the helpers (STAT, LIST, UIDL, CAPA), which must not crash.
//
// Run:   ./pop3_reply_fuzz -max_len=4096 WORK_DIR tests/fuzz/corpus/pop3_reply
//        (new inputs go to the first directory; keep the seed corpus small)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/pop3/reply_parser.hpp"

namespace {

using namespace mailbroker::pop3;

struct outcome {
  parse_status status;
  reply r;
  std::string body;
  std::string error;
  bool operator==(const outcome&) const = default;
};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void exercise_helpers(const reply& r) {
  (void)parse_stat(r);
  (void)parse_scan_listing(r.text);
  (void)parse_unique_id_listing(r.text);
  for (const auto& line : r.lines) {
    (void)parse_scan_listing(line);
    if (auto u = parse_unique_id_listing(line); u.ok()) check(!u->uid.empty() && u->uid.size() <= 70 && u->message > 0);
  }
  if (auto caps = parse_capabilities(r.lines); caps.ok()) check(caps->names.size() == r.lines.size());
}

std::vector<outcome> drive(std::string_view in, std::uint32_t seed, std::size_t max_chunk, std::uint8_t kinds_bits) {
  const parser_limits limits{.max_line_bytes = 120, .max_multiline_bytes = 1000, .max_chunk_bytes = 64};
  reply_parser parser(limits);
  std::vector<outcome> out;
  std::string body;
  std::size_t index = 0;
  auto expect_next = [&] {
    const auto kind = static_cast<reply_kind>((kinds_bits >> (2 * (index % 4))) % 3);
    check(parser.expect(kind));
  };
  expect_next();
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
      if (r.status != parse_status::need_more && r.status != parse_status::fatal_error) check(r.consumed > 0);
      chunk.remove_prefix(r.consumed);
      switch (r.status) {
        case parse_status::need_more:
          check(parser.error().empty());
          check(parser.take_chunk().empty());
          break;
        case parse_status::body_chunk: {
          const std::string c = parser.take_chunk();
          check(!c.empty() && c.size() <= limits.max_chunk_bytes + limits.max_line_bytes);
          check(c.size() >= 2 && c.compare(c.size() - 2, 2, "\r\n") == 0);
          body += c;
          break;
        }
        case parse_status::complete: {
          body += parser.take_chunk();
          reply resp = parser.take();
          exercise_helpers(resp);
          if (resp.type != reply_type::ok) check(resp.lines.empty() && body.empty());
          out.push_back({r.status, std::move(resp), std::exchange(body, {}), {}});
          ++index;
          expect_next();
          break;
        }
        case parse_status::recoverable_error:
        case parse_status::fatal_error:
          check(!parser.error().empty() && parser.error().size() <= 120);
          out.push_back({r.status, {}, {}, parser.error()});
          if (r.status == parse_status::fatal_error) {
            const parse_result again = parser.feed("+OK\r\n");
            check(again.status == parse_status::fatal_error && again.consumed == 0);
            return out;
          }
          ++index;
          expect_next();
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
  const std::uint8_t kinds_bits = size < 2 ? 0 : data[1];
  check(drive(in, seed, max_chunk, kinds_bits) == drive(in, 0, 0, kinds_bits));
  return 0;
}
