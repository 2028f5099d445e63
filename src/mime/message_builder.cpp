#include "mime/message_builder.hpp"

#include <algorithm>

#include "common/random.hpp"
#include "common/text.hpp"
#include "mime/gmime_support.hpp"
#include "mime/header_text.hpp"

namespace mailbroker::mime {
namespace {

using detail::gobject_ptr;

constexpr std::size_t max_line = 998;  // RFC 5322 2.1.1, without the CRLF

error invalid(const std::string& field, const std::string& why) { return {errc::invalid_argument, field + ": " + why}; }

bool has_line_break(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = g_ascii_tolower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

error check_address(const mailbox_address& a, const std::string& field) {
  if (has_line_break(a.name)) return invalid(field + ".name", "must not contain CR, LF or NUL");
  const std::string f = field + ".address";
  if (a.address.empty()) return invalid(f, "is empty");
  if (has_line_break(a.address)) return invalid(f, "must not contain CR, LF or NUL");
  for (unsigned char c : a.address) {
    if (c <= 0x20 || c >= 0x7f || std::string_view("<>,;\"").find(static_cast<char>(c)) != std::string_view::npos) {
      return invalid(f, "has white space, a control or non-ASCII byte or one of <>,;\" (plain local@domain only)");
    }
  }
  const auto at = a.address.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == a.address.size()) return invalid(f, "needs the form local@domain");
  return error::none();
}

error check_addresses(const std::vector<mailbox_address>& list, const std::string& field) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    error e = check_address(list[i], field + "[" + std::to_string(i) + "]");
    if (!e.ok()) return e;
  }
  return error::none();
}

bool is_msg_id(std::string_view id) {
  if (id.size() < 3 || id.front() != '<' || id.back() != '>') return false;
  return std::none_of(id.begin() + 1, id.end() - 1, [](unsigned char c) { return c <= 0x20 || c >= 0x7f || c == '<' || c == '>'; });
}

bool is_token(std::string_view s) {
  return !s.empty() && std::none_of(s.begin(), s.end(), [](unsigned char c) {
    return c <= 0x20 || c >= 0x7f || std::string_view("()<>@,;:\\\"/[]?=").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

// "type/subtype" with optional parameters after ';'.
bool is_content_type(std::string_view s) {
  std::string_view essence = s.substr(0, s.find(';'));
  while (!essence.empty() && (essence.back() == ' ' || essence.back() == '\t')) essence.remove_suffix(1);
  while (!essence.empty() && (essence.front() == ' ' || essence.front() == '\t')) essence.remove_prefix(1);
  const auto slash = essence.find('/');
  return slash != std::string_view::npos && is_token(essence.substr(0, slash)) && is_token(essence.substr(slash + 1));
}

error validate(const compose_request& r) {
  if (r.from.address.empty()) return invalid("from.address", "is required");
  for (error e : {check_address(r.from, "from"), check_addresses(r.to, "to"), check_addresses(r.cc, "cc"),
                  check_addresses(r.bcc, "bcc"), check_addresses(r.reply_to, "reply_to")}) {
    if (!e.ok()) return e;
  }
  if (r.to.empty() && r.cc.empty() && r.bcc.empty()) return invalid("to", "no recipients: set at least one of to, cc, bcc");
  if (has_line_break(r.subject)) return invalid("subject", "must not contain CR, LF or NUL");
  for (std::size_t i = 0; i < r.attachments.size(); ++i) {
    const std::string f = "attachments[" + std::to_string(i) + "]";
    if (has_line_break(r.attachments[i].filename)) return invalid(f + ".filename", "must not contain CR, LF or NUL");
    const std::string& type = r.attachments[i].content_type;
    if (!type.empty() && (has_line_break(type) || !is_content_type(type))) {
      return invalid(f + ".content_type", "must be \"type/subtype\" (e.g. application/pdf)");
    }
  }
  if (!r.in_reply_to.empty() && !is_msg_id(r.in_reply_to)) return invalid("in_reply_to", "must be one \"<id@host>\"");
  for (std::size_t i = 0; i < r.references.size(); ++i) {
    if (!is_msg_id(r.references[i])) return invalid("references[" + std::to_string(i) + "]", "must be one \"<id@host>\"");
  }
  return error::none();
}

// GMime's best encoding is DEFAULT when the content needs none (7-bit, short lines).
bool fits_7bit(GMimeContentEncoding best) { return best == GMIME_CONTENT_ENCODING_DEFAULT || best == GMIME_CONTENT_ENCODING_7BIT; }

void set_content(GMimePart* part, std::string_view bytes) {
  gobject_ptr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
  gobject_ptr<GMimeDataWrapper> content(g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(part, content.get());
}

// Text is kept with LF line ends: GMime's CRLF output turns each into CRLF, also inside
// quoted-printable, where a CR of its own would be encoded as =0D.
gobject_ptr<GMimeObject> text_part(const char* subtype, std::string_view text) {
  GMimePart* part = g_mime_part_new_with_type("text", subtype);
  gobject_ptr<GMimeObject> owner(GMIME_OBJECT(part));
  g_mime_object_set_content_type_parameter(owner.get(), "charset", "utf-8");
  std::string lf = to_lf(text);
  if (!lf.empty() && !lf.ends_with('\n')) lf += '\n';  // else GMime adds it to single-part messages only
  set_content(part, lf);
  const bool seven_bit = fits_7bit(g_mime_part_get_best_content_encoding(part, GMIME_ENCODING_CONSTRAINT_7BIT));
  g_mime_part_set_content_encoding(part, seven_bit ? GMIME_CONTENT_ENCODING_7BIT : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  return owner;
}

gobject_ptr<GMimeObject> attachment_part(const attachment_data& a) {
  GMimePart* part = g_mime_part_new();
  gobject_ptr<GMimeObject> owner(GMIME_OBJECT(part));
  const std::string type = a.content_type.empty() ? "application/octet-stream" : a.content_type;
  gobject_ptr<GMimeContentType> content_type(g_mime_content_type_parse(nullptr, type.c_str()));
  g_mime_object_set_content_type(owner.get(), content_type.get());
  g_mime_object_set_disposition(owner.get(), GMIME_DISPOSITION_ATTACHMENT);
  if (!a.filename.empty()) g_mime_part_set_filename(part, a.filename.c_str());
  set_content(part, a.data);
  g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
  return owner;
}

bool is_7bit_short_lines(std::string_view raw) {
  std::size_t line = 0;
  for (unsigned char c : raw) {
    if (c >= 0x80 || c == 0) return false;
    line = c == '\n' ? 0 : line + 1;
    if (line > max_line + 1) return false;  // + 1: a CR before the LF
  }
  return true;
}

bool header_needs_encoding(std::string_view raw) {
  std::size_t line = 0;
  for (unsigned char c : raw) {
    if (c >= 0x80) return true;
    line = c == '\n' ? 0 : line + 1;
    if (line > max_line - 80) return true;  // leaves room for the field name
  }
  return false;
}

// Makes an attached message 7-bit: raw 8-bit (or over-long) header values are decoded to
// UTF-8 and set again, which GMime RFC 2047-encodes and folds; 8-bit, binary or over-long
// body parts get the best 7-bit transfer encoding, which GMime applies when writing.
void make_7bit(GMimeObject* object) {
  GMimeHeaderList* headers = g_mime_object_get_header_list(object);
  for (int i = 0; i < g_mime_header_list_get_count(headers); ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(headers, i);
    const char* raw = g_mime_header_get_raw_value(h);
    if (raw == nullptr || !header_needs_encoding(raw)) continue;
    const std::string value = decode_header_text(raw);
    g_mime_header_set_value(h, nullptr, value.c_str(), "utf-8");
  }
  if (GMIME_IS_MESSAGE(object)) {
    if (GMimeObject* body = g_mime_message_get_mime_part(GMIME_MESSAGE(object)); body != nullptr) make_7bit(body);
  } else if (GMIME_IS_MESSAGE_PART(object)) {
    if (GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object)); inner != nullptr) {
      make_7bit(GMIME_OBJECT(inner));
    }
  } else if (GMIME_IS_MULTIPART(object)) {
    for (int i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(object)); ++i) {
      make_7bit(g_mime_multipart_get_part(GMIME_MULTIPART(object), i));
    }
  } else if (GMIME_IS_PART(object)) {
    GMimePart* part = GMIME_PART(object);
    const GMimeContentEncoding best = g_mime_part_get_best_content_encoding(part, GMIME_ENCODING_CONSTRAINT_7BIT);
    const GMimeContentEncoding current = g_mime_part_get_content_encoding(part);
    if (!fits_7bit(best) && current != GMIME_CONTENT_ENCODING_BASE64 &&
        current != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE && current != GMIME_CONTENT_ENCODING_UUENCODE) {
      g_mime_part_set_content_encoding(part, best);
    }
  }
}

result<gobject_ptr<GMimeObject>> attached_message_part(const std::string& raw) {
  auto message = detail::parse_gmime_message(raw);
  if (message == nullptr) return invalid("attached_message", "not an RFC 5322 message (no header fields found)");
  if (!is_7bit_short_lines(raw)) make_7bit(GMIME_OBJECT(message.get()));
  return gobject_ptr<GMimeObject>(GMIME_OBJECT(g_mime_message_part_new_with_message("rfc822", message.get())));
}

void add_mailboxes(InternetAddressList* list, const std::vector<mailbox_address>& addresses) {
  for (const mailbox_address& a : addresses) {
    gobject_ptr<InternetAddress> ia(internet_address_mailbox_new(a.name.c_str(), a.address.c_str()));
    internet_address_set_charset(ia.get(), "utf-8");
    internet_address_list_add(list, ia.get());
  }
}

std::vector<std::string> envelope(const compose_request& r) {
  std::vector<std::string> out;
  std::vector<std::string> seen;
  for (const auto* list : {&r.to, &r.cc, &r.bcc}) {
    for (const mailbox_address& a : *list) {
      std::string key = lower(a.address);
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
      seen.push_back(std::move(key));
      out.push_back(a.address);
    }
  }
  return out;
}

// Returns what is wrong with `raw` as SMTP DATA, or "" when every line ends in CRLF, is
// at most 998 octets and all bytes are 7-bit (and not NUL).
std::string wire_problem(std::string_view raw) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const unsigned char c = raw[i];
    if (c == 0 || c >= 0x80) return "a NUL or 8-bit byte";
    if (c == '\r') {
      if (i + 1 >= raw.size() || raw[i + 1] != '\n') return "a bare CR";
      ++i;
      line = 0;
    } else if (c == '\n') {
      return "a bare LF";
    } else if (++line > max_line) {
      return "a line longer than 998 octets";
    }
  }
  return {};
}

}  // namespace

result<built_message> build_message(const compose_request& request, std::chrono::system_clock::time_point now) {
  if (error e = validate(request); !e.ok()) return e;
  detail::init_gmime();
  gobject_ptr<GMimeMessage> message(g_mime_message_new(FALSE));
  GMimeObject* object = GMIME_OBJECT(message.get());

  add_mailboxes(g_mime_message_get_from(message.get()), {request.from});
  add_mailboxes(g_mime_message_get_reply_to(message.get()), request.reply_to);
  add_mailboxes(g_mime_message_get_to(message.get()), request.to);
  add_mailboxes(g_mime_message_get_cc(message.get()), request.cc);
  g_mime_message_set_subject(message.get(), request.subject.c_str(), "utf-8");
  const auto seconds = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
  GDateTime* date = g_date_time_new_from_unix_utc(seconds);
  g_mime_message_set_date(message.get(), date);
  g_date_time_unref(date);
  const std::string domain = request.from.address.substr(request.from.address.rfind('@') + 1);
  const std::string id = random_hex(16) + "@" + domain;
  g_mime_message_set_message_id(message.get(), id.c_str());
  if (!request.in_reply_to.empty()) g_mime_object_set_header(object, "In-Reply-To", request.in_reply_to.c_str(), nullptr);
  if (!request.references.empty()) {
    std::string refs;
    for (const std::string& r : request.references) refs += (refs.empty() ? "" : " ") + r;
    g_mime_object_set_header(object, "References", refs.c_str(), nullptr);
  }

  gobject_ptr<GMimeObject> body;
  if (!request.text_body.empty() && !request.html_body.empty()) {
    GMimeMultipart* alternative = g_mime_multipart_new_with_subtype("alternative");
    body.reset(GMIME_OBJECT(alternative));
    g_mime_multipart_add(alternative, text_part("plain", request.text_body).get());
    g_mime_multipart_add(alternative, text_part("html", request.html_body).get());
  } else if (!request.html_body.empty()) {
    body = text_part("html", request.html_body);
  } else {
    body = text_part("plain", request.text_body);
  }
  if (!request.attachments.empty() || request.attached_message.has_value()) {
    GMimeMultipart* mixed = g_mime_multipart_new_with_subtype("mixed");
    gobject_ptr<GMimeObject> outer(GMIME_OBJECT(mixed));
    g_mime_multipart_add(mixed, body.get());
    for (const attachment_data& a : request.attachments) g_mime_multipart_add(mixed, attachment_part(a).get());
    if (request.attached_message.has_value()) {
      auto part = attached_message_part(*request.attached_message);
      if (!part.ok()) return part.err();
      g_mime_multipart_add(mixed, part->get());
    }
    body = std::move(outer);
  }
  g_mime_message_set_mime_part(message.get(), body.get());

  built_message out;
  out.raw = detail::write_gmime_object(object, true);
  if (const std::string problem = wire_problem(out.raw); !problem.empty()) {
    if (request.attached_message.has_value()) {
      return invalid("attached_message", "cannot be sent as message/rfc822 in 7-bit (" + problem + "); attach it as a file");
    }
    return error{errc::internal, "build_message: GMime wrote " + problem + " (a bug: please report)"};
  }
  out.message_id = "<" + id + ">";
  out.envelope_recipients = envelope(request);
  return out;
}

namespace {

bool same_address(const mailbox_address& a, const mailbox_address& b) { return iequals(a.address, b.address); }

bool contains(const std::vector<mailbox_address>& list, const mailbox_address& a) {
  return std::any_of(list.begin(), list.end(), [&a](const mailbox_address& x) { return same_address(x, a); });
}

std::string attribution(const parsed_message& original) {
  std::string who;
  if (!original.from.empty()) who = original.from.front().name.empty() ? original.from.front().address : original.from.front().name;
  if (who.empty()) who = "someone";
  if (!original.date) return who + " wrote:";
  const auto seconds = std::chrono::floor<std::chrono::seconds>(original.date->time_since_epoch()).count();
  GDateTime* date = g_date_time_new_from_unix_utc(seconds);
  char* formatted = g_mime_utils_header_format_date(date);
  std::string out = "On " + std::string(formatted) + ", " + who + " wrote:";
  g_free(formatted);
  g_date_time_unref(date);
  return out;
}

std::string quote_text(const std::string& text) {
  std::string out;
  std::size_t pos = 0;
  const std::string body = text.ends_with('\n') ? text.substr(0, text.size() - 1) : text;
  while (pos <= body.size()) {
    const std::size_t nl = std::min(body.find('\n', pos), body.size());
    const std::string_view line(body.data() + pos, nl - pos);
    out += line.empty() ? ">" : "> ";
    out.append(line);
    out += '\n';
    pos = nl + 1;
  }
  return out;
}

std::string escape_html(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\n': out += "<br>\n"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

compose_request make_reply(const parsed_message& original, const mailbox_address& me, bool reply_all,
                           std::string text_body, std::string html_body) {
  detail::init_gmime();
  compose_request r;
  r.from = me;
  r.to = original.reply_to.empty() ? original.from : original.reply_to;
  if (!r.to.empty() && std::all_of(r.to.begin(), r.to.end(), [&me](const mailbox_address& a) { return same_address(a, me); })) {
    r.to = original.to;  // replying to one's own message goes to its recipients
  }
  if (reply_all) {
    for (const mailbox_address& a : original.to) {
      if (!same_address(a, me) && !contains(r.to, a)) r.to.push_back(a);
    }
    for (const mailbox_address& a : original.cc) {
      if (!same_address(a, me) && !contains(r.to, a) && !contains(r.cc, a)) r.cc.push_back(a);
    }
  }
  r.subject = istarts_with(original.subject, "re:") ? original.subject : "Re: " + original.subject;
  r.in_reply_to = original.message_id;
  r.references = original.references;
  if (r.references.empty() && !original.in_reply_to.empty()) r.references.push_back(original.in_reply_to);
  if (!original.message_id.empty()) r.references.push_back(original.message_id);

  const std::string said = attribution(original);
  r.text_body = std::move(text_body);
  if (!r.text_body.empty() && !r.text_body.ends_with('\n')) r.text_body += '\n';
  r.text_body += "\n" + said + "\n" + quote_text(original.text_body);
  if (!html_body.empty()) {
    r.html_body = std::move(html_body) + "\n<div>" + escape_html(said) + "</div>\n<blockquote type=\"cite\">\n" +
                  (original.html_body.empty() ? escape_html(original.text_body) : original.html_body) + "\n</blockquote>\n";
  }
  return r;
}

compose_request make_forward(const parsed_message& original, std::string original_raw, const mailbox_address& me,
                             std::vector<mailbox_address> to, std::string text_body) {
  compose_request r;
  r.from = me;
  r.to = std::move(to);
  const bool prefixed = istarts_with(original.subject, "fwd:") || istarts_with(original.subject, "fw:");
  r.subject = prefixed ? original.subject : "Fwd: " + original.subject;
  r.text_body = std::move(text_body);
  r.attached_message = std::move(original_raw);
  return r;
}

}  // namespace mailbroker::mime
