// libFuzzer target for the EWS response readers: parse_envelope() (under HTTP 200 and
// 500), every typed reader and error_of() on what it accepts, the streaming splitter,
// parse_autodiscover(), and the text functions of xml_text.hpp.
//
// The input is one HTTP body (the corpus holds plain EWS / Autodiscover responses).
// Documented contracts are checked; any violation traps:
//   - every string a reader hands out is valid UTF-8 free of what XML 1.0 forbids
//     (clean_text() leaves it unchanged) and at most max_text_bytes long;
//   - no reader returns more than its limit of entries;
//   - xml_escape() output is well-formed and reads back as clean_text() of the input;
//   - streaming_envelope_end() never points past the input.
// Run: build/fuzz/tests/fuzz/ews_response_fuzz tests/fuzz/corpus/ews_response (scripts/fuzz.sh).
#include <pugixml.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/ews/responses.hpp"
#include "protocol/ews/xml_text.hpp"

namespace {

using namespace mailbroker;
using namespace mailbroker::ews;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_text(const std::string& s) {
  check(s.size() <= max_text_bytes);
  check(clean_text(s, s.size()) == s);
}

void check_summary(const mailbox::message_summary& s) {
  check_text(s.item_id);
  check_text(s.change_key);
  check_text(s.subject);
  check_text(s.message_id);
  for (const auto* list : {&s.from, &s.to, &s.cc}) {
    check(list->size() <= max_recipients_kept);
    for (const mailbox::address& a : *list) {
      check_text(a.name);
      check_text(a.address);
    }
  }
}

void read_everything(const soap_reply& reply) {
  for (const response_message& m : reply.messages) (void)error_of(m, server_version::exchange2010);
  if (auto folders = parse_folders(reply)) {
    check(folders->folders.size() <= max_response_messages + max_items_per_response);
    for (const ews_folder& f : folders->folders) {
      check_text(f.display_name);
      check_text(f.ref.id);
    }
  }
  if (auto page = parse_find_items(reply)) {
    check(page->items.size() <= max_items_per_response);
    for (const auto& s : page->items) check_summary(s);
  }
  if (auto items = parse_items(reply)) {
    for (const fetched_item& f : *items) check_summary(f.summary);
  }
  (void)parse_item_ids(reply);
  (void)parse_statuses(reply);
  if (auto s = parse_subscribe(reply)) check_text(s->subscription_id);
  if (auto batch = parse_events(reply)) {
    check(batch->events.size() <= max_items_per_response);
    for (const notification_event& e : batch->events) check_text(e.watermark);
  }
  if (auto chunk = parse_streaming_chunk(reply)) {
    std::size_t events = 0;
    for (const event_batch& b : chunk->notifications) events += b.events.size();
    check(events <= max_items_per_response);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (int status : {200, 500}) {
    std::uint32_t back_off = 0;
    auto reply = parse_envelope(body, status, server_version::exchange2013_sp1, &back_off);
    if (reply) read_everything(*reply);
  }
  if (auto ad = parse_autodiscover(body)) {
    check_text(ad->ews_url);
    check_text(ad->redirect_url);
  }
  check(streaming_envelope_end(body) <= body.size());

  const std::string input(body.substr(0, 4096));
  const std::string clean = clean_text(input, input.size() * 3 + 3);
  check(clean_text(clean, clean.size()) == clean);
  const std::string xml = "<a>" + xml_escape(input) + "</a>";
  pugi::xml_document doc;
  check(static_cast<bool>(doc.load_buffer(xml.data(), xml.size(), pugi::parse_default | pugi::parse_ws_pcdata_single,
                                          pugi::encoding_utf8)));
  check(std::string(doc.child("a").child_value()) == clean);
  (void)prepare_for_parse(body);
  return 0;
}
