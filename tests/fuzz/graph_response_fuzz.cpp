// libFuzzer target for the Graph response readers: every parser of responses.hpp and
// batch.hpp, response_error() under several statuses, parse_retry_after(), relative_link()
// and the text functions of json_text.hpp, all on one input body.
//
// Documented contracts are checked; any violation traps:
//   - every string a reader hands out is clean (clean_text() leaves it unchanged) and at
//     most max_text_bytes long;
//   - no reader returns more than its limit of entries or recipients;
//   - a Retry-After is never above max_retry_after; a failure's message never holds a
//     control character;
//   - relative_link() only accepts links under the service root and returns a URL that
//     starts with '/' and holds no control character.
// Run: build/fuzz/tests/fuzz/graph_response_fuzz tests/fuzz/corpus/graph_response (scripts/fuzz.sh).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/graph/batch.hpp"
#include "protocol/graph/endpoints.hpp"
#include "protocol/graph/errors.hpp"
#include "protocol/graph/json_text.hpp"
#include "protocol/graph/responses.hpp"

namespace {

using namespace mailbroker;
using namespace mailbroker::graph;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_text(const std::string& s) {
  check(s.size() <= max_text_bytes);
  check(clean_text(s, s.size()) == s);
}

void check_summary(const mailbox::message_summary& s) {
  check_text(s.item_id);
  check(!s.item_id.empty());
  check_text(s.change_key);
  check_text(s.subject);
  check_text(s.message_id);
  check(s.from.size() <= 1);
  for (const auto* list : {&s.from, &s.to, &s.cc}) {
    check(list->size() <= max_recipients_kept);
    for (const mailbox::address& a : *list) {
      check_text(a.name);
      check_text(a.address);
    }
  }
}

void check_failure(const failure& f) {
  check(!f.err.ok());
  for (char c : f.err.message) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  if (f.retry_after) check(*f.retry_after <= max_retry_after && f.retry_after->count() >= 0);
}

void check_link(std::string_view link) {
  static const std::string root = "https://graph.microsoft.com/v1.0";
  auto rel = relative_link(root, link, "link");
  if (!rel) return;
  check(link.size() > root.size());
  check(!rel->empty() && rel->front() == '/');
  for (char c : rel.value()) check(static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1796558400));

  if (auto page = parse_message_list(body)) {
    check(page->messages.size() <= max_entries_per_page);
    for (const auto& m : page->messages) check_summary(m);
    check_link(page->next_link);
  }
  if (auto m = parse_message(body)) check_summary(m.value());
  if (auto folders = parse_folder_list(body)) {
    check(folders->folders.size() <= max_entries_per_page);
    for (const mail_folder& f : folders->folders) {
      check_text(f.id);
      check_text(f.display_name);
      check_text(f.parent_id);
    }
  }
  if (auto delta = parse_delta_page(body)) {
    check(delta->changed.size() + delta->removed.size() <= max_entries_per_page);
    check(!delta->next_link.empty() || !delta->delta_link.empty());
    for (const auto& m : delta->changed) check_summary(m);
    for (const removed_message& r : delta->removed) check_text(r.id);
    check_link(delta->delta_link);
  }
  if (auto batch = parse_batch(body)) {
    check(batch->size() <= max_batch_requests);
    for (const batch_response& r : *batch) {
      check(r.headers.size() <= max_batch_headers);
      const failure f = batch_member_error(r, now, "item x");
      if (r.status < 200 || r.status >= 300) check_failure(f);
      else check(f.err.ok());
      if (r.body_is_json) (void)parse_message(r.body, r.status);
    }
  }
  for (int status : {400, 401, 403, 404, 429, 503}) {
    check_failure(response_error(status, body, body.substr(0, 64), now, "item x"));
  }
  if (auto wait = parse_retry_after(body.substr(0, 256), now)) check(*wait <= max_retry_after);
  check_link(body);

  const std::string input(body.substr(0, 4096));
  const std::string clean = clean_text(input, input.size() * 3 + 3);
  check(clean_text(clean, clean.size()) == clean);
  (void)parse_iso8601(body.substr(0, 64));
  return 0;
}
