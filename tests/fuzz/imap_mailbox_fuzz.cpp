// libFuzzer target for the mailbox codec (protocol/imap/mailbox_codec.hpp, date_time.hpp).
//
// The input is server output: every complete response goes through parse_list_response,
// parse_fetch_summary, parse_fetch_body_chunk, parse_search_response and, for status
// responses, parse_copyuid on the response code. Properties checked (any failure traps):
//   - modified UTF-7 is canonical: decode(m) ok ⇒ encode(decode(m)) == m, and for the
//     whole input and every LIST name; encode(u) ok ⇒ decode(encode(u)) == u;
//   - uid sets: parse(s) ok ⇒ parse(format(parse(s))) is parse(s) sorted and unique;
//   - COPYUID source and destination have equal sizes;
//   - a summary's uid is what parse_fetch_body_chunk sees in the same response;
//   - error messages stay short (they never echo server data).
// No GMime here: the MIME decoder is not pure C++ and has its own unit tests.
//
// Build: the `fuzz` preset (clang++-14); run e.g.
//   build/fuzz/tests/fuzz/imap_mailbox_fuzz -max_len=4096 WORK_DIR tests/fuzz/corpus/imap_mailbox
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/imap/date_time.hpp"
#include "protocol/imap/mailbox_codec.hpp"
#include "protocol/imap/response_parser.hpp"

namespace {

namespace imap = mailbroker::imap;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

template <class T>
void check_error(const mailbroker::result<T>& r) {
  if (!r) check(!r.err().message.empty() && r.err().message.size() <= 120);
}

void check_mutf7(std::string_view s) {
  auto decoded = imap::decode_mailbox_name(s);
  check_error(decoded);
  if (decoded) {
    auto again = imap::encode_mailbox_name(*decoded);
    check(again && *again == s);
    auto twice = imap::decode_mailbox_name(*again);
    check(twice && *twice == *decoded);
  }
  auto encoded = imap::encode_mailbox_name(s);
  check_error(encoded);
  if (encoded) {
    auto back = imap::decode_mailbox_name(*encoded);
    check(back && *back == s);
  }
}

void check_uid_set(std::string_view s) {
  auto uids = imap::parse_uid_set(s, 5000);
  check_error(uids);
  if (!uids) return;
  std::vector<std::uint32_t> sorted = *uids;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  auto again = imap::parse_uid_set(imap::format_uid_set(*uids), 5000);
  check(again && *again == sorted);
}

void check_response(const imap::response& r) {
  if (auto list = imap::parse_list_response(r); list) {
    check(list->delimiter.size() <= 1);
    check_mutf7(list->name_utf8);
  } else {
    check_error(list);
  }
  const auto summary = imap::parse_fetch_summary(r);
  check_error(summary);
  const std::uint32_t uid = summary ? summary->uid : 9;
  const auto chunk = imap::parse_fetch_body_chunk(r, uid);
  check_error(chunk);
  // Same uid in both views: a summary's uid never makes the chunk parser say "another uid".
  if (summary && !chunk) check(chunk.err().message != "FETCH response for another uid");
  if (chunk) check(chunk->uid == uid);
  (void)imap::parse_search_response({r});
  if (!r.code.empty()) {
    auto c = imap::parse_copyuid(r.code_text);
    check_error(c);
    if (c) check(c->source.size() == c->dest.size() && c->uid_validity != 0);
  }
  if (!r.text.empty()) {
    (void)imap::parse_rfc5322_date(r.text);
    (void)imap::parse_internal_date(r.text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_mutf7(in.substr(0, 256));
  check_uid_set(in.substr(0, 64));
  const imap::parser_limits limits{
      .max_line_bytes = 2000, .max_literal_bytes = 2000, .max_response_bytes = 8000, .max_depth = 12};
  imap::response_parser parser(limits);
  while (!in.empty()) {
    const imap::parse_result r = parser.feed(in);
    in.remove_prefix(r.consumed);
    if (r.status == imap::parse_status::complete) check_response(parser.take());
    if (r.status == imap::parse_status::fatal_error) break;
  }
  return 0;
}
