// FETCH parts of mailbox_codec.hpp: summaries (ENVELOPE, BODYSTRUCTURE) and body chunks.
#include <span>

#include "protocol/imap/codec_detail.hpp"
#include "protocol/imap/date_time.hpp"
#include "protocol/imap/mailbox_codec.hpp"

namespace mailbroker::imap {
namespace {

using detail::invalid;
using detail::is_string;

// A hand-built `response` is not bounded by the parser's max_depth.
constexpr int max_body_depth = 64;

// The name/value pairs of a FETCH response (data[0].items), names checked to be atoms.
result<std::span<const value>> fetch_items(const response& r) {
  if (r.type != response_type::untagged || r.name != "FETCH") return invalid("not a FETCH response");
  if (r.data.size() != 1 || r.data[0].type != value::kind::list) {
    return invalid("FETCH response: items are not one list");
  }
  const auto& items = r.data[0].items;
  if (items.size() % 2 != 0) return invalid("FETCH response: items are not name/value pairs");
  for (std::size_t i = 0; i < items.size(); i += 2) {
    if (items[i].type != value::kind::atom) return invalid("FETCH response: item name is not an atom");
  }
  return std::span<const value>(items);
}

// nstring: the text of a quoted string or literal, "" for NIL; false for anything else.
bool nstring(const value& v, std::string& out) {
  if (v.type == value::kind::nil) {
    out.clear();
    return true;
  }
  if (!is_string(v)) return false;
  out = v.text;
  return true;
}

error parse_addresses(const value& v, std::string_view field, std::vector<fetched_summary::address>& out) {
  out.clear();
  if (v.type == value::kind::nil) return error::none();
  const auto bad = [field] { return invalid("ENVELOPE " + std::string(field) + ": malformed address list"); };
  if (v.type != value::kind::list) return bad();
  for (const value& a : v.items) {
    if (a.type != value::kind::list || a.items.size() != 4) return bad();
    fetched_summary::address addr;
    std::string adl;
    if (!nstring(a.items[0], addr.name_raw) || !nstring(a.items[1], adl) || !nstring(a.items[2], addr.mailbox) ||
        !nstring(a.items[3], addr.host)) {
      return bad();
    }
    // RFC 3501 7.4.2: host NIL marks a group's start (mailbox = group name) or end.
    if (a.items[3].type == value::kind::nil) continue;
    out.push_back(std::move(addr));
  }
  return error::none();
}

error parse_envelope(const value& v, fetched_summary& s) {
  if (v.type != value::kind::list || v.items.size() != 10) return invalid("ENVELOPE is not a list of 10 items");
  const auto& f = v.items;
  std::string date;
  if (!nstring(f[0], date)) return invalid("ENVELOPE date is not a string");
  s.date = date.empty() ? std::nullopt : parse_rfc5322_date(date);
  if (!nstring(f[1], s.subject_raw)) return invalid("ENVELOPE subject is not a string");
  std::vector<fetched_summary::address> unused;
  const std::pair<std::string_view, std::vector<fetched_summary::address>*> lists[] = {
      {"from", &s.from}, {"sender", &unused}, {"reply-to", &unused},
      {"to", &s.to},     {"cc", &s.cc},       {"bcc", &unused}};
  for (std::size_t i = 0; i < 6; ++i) {
    if (error e = parse_addresses(f[2 + i], lists[i].first, *lists[i].second); !e.ok()) return e;
  }
  if (!nstring(f[8], s.in_reply_to)) return invalid("ENVELOPE in-reply-to is not a string");
  if (!nstring(f[9], s.message_id)) return invalid("ENVELOPE message-id is not a string");
  return error::none();
}

// body-fld-dsp: ("attachment" (params)) or NIL; anything else counts as no disposition.
bool is_attachment_disposition(const std::vector<value>& items, std::size_t index) {
  if (index >= items.size() || items[index].type != value::kind::list) return false;
  const auto& d = items[index].items;
  return !d.empty() && is_string(d[0]) && detail::iequals(d[0].text, "attachment");
}

// Walks one body (RFC 3501 7.4.2 BODYSTRUCTURE) and sets `found` per the rule in the header.
error walk_body(const value& part, int depth, bool& found) {
  if (depth > max_body_depth) return invalid("BODYSTRUCTURE nested too deeply");
  if (part.type != value::kind::list || part.items.empty()) return invalid("BODYSTRUCTURE part is not a list");
  const auto& items = part.items;
  if (items[0].type == value::kind::list) {
    std::size_t children = 0;
    while (children < items.size() && items[children].type == value::kind::list) ++children;
    if (children >= items.size() || !is_string(items[children])) {
      return invalid("BODYSTRUCTURE multipart without subtype");
    }
    const bool is_signed = detail::iequals(items[children].text, "signed");
    for (std::size_t i = 0; i < children; ++i) {
      if (is_signed && i == 1) continue;
      if (error e = walk_body(items[i], depth + 1, found); !e.ok()) return e;
    }
    // body-ext-mpart: params, then disposition.
    if (is_attachment_disposition(items, children + 2)) found = true;
    return error::none();
  }
  if (items.size() < 2 || !is_string(items[0]) || !is_string(items[1])) {
    return invalid("BODYSTRUCTURE part without type and subtype");
  }
  const bool text = detail::iequals(items[0].text, "text");
  const bool message = detail::iequals(items[0].text, "message") &&
                       (detail::iequals(items[1].text, "rfc822") || detail::iequals(items[1].text, "global"));
  // Extension data follows body-fields (7 items) plus: text: lines; message/rfc822:
  // envelope, body, lines. body-ext-1part starts with md5, then the disposition.
  std::size_t disposition = 8;
  if (text) disposition = 9;
  if (message && items.size() > 9 && items[7].type == value::kind::list && items[8].type == value::kind::list) {
    disposition = 11;
  }
  const bool attachment = is_attachment_disposition(items, disposition);
  const bool has_id = items.size() > 3 && is_string(items[3]) && !items[3].text.empty();
  if (attachment || (!text && !has_id)) found = true;
  return error::none();
}

}  // namespace

result<fetched_summary> parse_fetch_summary(const response& r) {
  auto items = fetch_items(r);
  if (!items) return items.err();
  fetched_summary s;
  s.summary_incomplete = r.truncated;
  bool have_uid = false;
  for (std::size_t i = 0; i < items->size(); i += 2) {
    const std::string key = detail::to_upper((*items)[i].text);
    const value& v = (*items)[i + 1];
    if (key == "UID") {
      const auto uid = v.type == value::kind::atom ? detail::parse_u32(v.text) : std::nullopt;
      if (!uid || *uid == 0) return invalid("FETCH UID is not a valid uid");
      s.uid = *uid;
      have_uid = true;
    } else if (key == "FLAGS") {
      if (v.type != value::kind::list) return invalid("FETCH FLAGS is not a list");
      s.flags.clear();
      for (const value& f : v.items) {
        if (f.type != value::kind::atom) return invalid("FETCH FLAGS contains a non-atom");
        s.flags.push_back(f.text);
      }
    } else if (key == "RFC822.SIZE") {
      const auto n = v.type == value::kind::atom ? detail::parse_number(v.text, UINT64_MAX) : std::nullopt;
      if (!n) return invalid("FETCH RFC822.SIZE is not a number");
      s.size = *n;
    } else if (key == "INTERNALDATE") {
      s.internal_date = is_string(v) ? parse_internal_date(v.text) : std::nullopt;
      if (!s.internal_date) s.summary_incomplete = true;
    } else if (key == "ENVELOPE") {
      if (error e = parse_envelope(v, s); !e.ok()) s.summary_incomplete = true;
    } else if (key == "BODYSTRUCTURE") {
      s.has_attachments = false;
      if (error e = walk_body(v, 0, s.has_attachments); !e.ok()) s.summary_incomplete = true;
    }
  }
  if (!have_uid) return invalid("FETCH response without UID");
  return s;
}

result<body_chunk> parse_fetch_body_chunk(const response& r, std::uint32_t expected_uid) {
  auto items = fetch_items(r);
  if (!items) return items.err();
  body_chunk chunk;
  bool have_uid = false, have_body = false;
  for (std::size_t i = 0; i < items->size(); i += 2) {
    const std::string key = detail::to_upper((*items)[i].text);
    const value& v = (*items)[i + 1];
    if (key == "UID") {
      const auto uid = v.type == value::kind::atom ? detail::parse_u32(v.text) : std::nullopt;
      if (!uid || *uid == 0) return invalid("FETCH UID is not a valid uid");
      chunk.uid = *uid;
      have_uid = true;
    } else if (key == "RFC822.SIZE") {
      const auto n = v.type == value::kind::atom ? detail::parse_number(v.text, UINT64_MAX) : std::nullopt;
      if (!n) return invalid("FETCH RFC822.SIZE is not a number");
      chunk.total_size = *n;
    } else if (key.starts_with("BODY[]")) {
      std::string_view origin = std::string_view(key).substr(6);
      chunk.offset = 0;
      if (!origin.empty()) {
        if (origin.size() < 3 || origin.front() != '<' || origin.back() != '>') {
          return invalid("FETCH BODY[] origin is malformed");
        }
        const auto n = detail::parse_number(origin.substr(1, origin.size() - 2), UINT64_MAX);
        if (!n) return invalid("FETCH BODY[] origin is not a number");
        chunk.offset = *n;
      }
      if (!nstring(v, chunk.data)) return invalid("FETCH BODY[] is not a string");
      have_body = true;
    }
  }
  if (!have_uid) return invalid("FETCH response without UID");
  if (chunk.uid != expected_uid) return error{errc::not_found, "FETCH response for another uid"};
  if (!have_body) return error{errc::not_found, "FETCH response without BODY[]"};
  return chunk;
}

}  // namespace mailbroker::imap
