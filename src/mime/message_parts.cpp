#include "mime/message_parts.hpp"

#include <algorithm>

#include "common/text.hpp"
#include "mime/charset.hpp"
#include "mime/gmime_support.hpp"
#include "mime/header_text.hpp"

namespace mailbroker::mime {
namespace {

using detail::gobject_ptr;
using chunk_sink = std::function<error(std::string_view)>;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = g_ascii_tolower(c);
  return out;
}

std::string str(const char* s) { return s == nullptr ? std::string() : std::string(s); }

// Line breaks decoded out of encoded words ("=0D=0A") become spaces: a value copied into
// a reply (subject, names) must not be refused as header injection, nor cause one.
std::string without_line_breaks(std::string text) {
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return text;
}

// Header text for humans: folding removed (GMime's decoders keep it), encoded words decoded.
std::string header_text(const std::string& raw) {
  char* unfolded = g_mime_utils_header_unfold(raw.c_str());
  std::string text = decode_header_text(unfolded);
  g_free(unfolded);
  return without_line_breaks(std::move(text));
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

// A message that uses CRLF is written back with CRLF, one that uses LF with LF: an
// embedded message/rfc822 then comes out as it was sent.
bool uses_crlf(std::string_view raw) {
  const auto lf = raw.find('\n');
  return lf != std::string_view::npos && lf > 0 && raw[lf - 1] == '\r';
}

// Hands `bytes` to `sink` in chunk_bytes pieces.
error emit_chunks(std::string_view bytes, std::size_t chunk_bytes, const chunk_sink& sink) {
  for (std::size_t pos = 0; pos < bytes.size(); pos += chunk_bytes) {
    error e = sink(bytes.substr(pos, chunk_bytes));
    if (!e.ok()) return e;
  }
  return error::none();
}

// The decoded bytes of a leaf, streamed through GMime's transfer decoder so a large
// attachment is never held twice.
error decode_leaf(GMimeObject* leaf, bool crlf, std::size_t chunk_bytes, const chunk_sink& sink) {
  if (GMIME_IS_MESSAGE_PART(leaf)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(leaf));
    if (inner == nullptr) return error::none();
    return emit_chunks(detail::write_gmime_object(GMIME_OBJECT(inner), crlf), chunk_bytes, sink);
  }
  GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(leaf));
  if (content == nullptr) return error::none();
  GMimeStream* encoded = g_mime_data_wrapper_get_stream(content);
  if (encoded == nullptr) return error::none();
  g_mime_stream_reset(encoded);
  gobject_ptr<GMimeStream> decoded(g_mime_stream_filter_new(encoded));
  const GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(content);
  if (encoding == GMIME_CONTENT_ENCODING_BASE64 || encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
      encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
    gobject_ptr<GMimeFilter> filter(g_mime_filter_basic_new(encoding, FALSE));
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(decoded.get()), filter.get());
  }
  std::string chunk(chunk_bytes, '\0');
  std::size_t filled = 0;
  while (true) {
    const ssize_t n = g_mime_stream_read(decoded.get(), chunk.data() + filled, chunk_bytes - filled);
    if (n < 0) return {errc::internal, "reading a MIME part failed inside GMime"};
    filled += static_cast<std::size_t>(n);
    const bool end = n == 0 && g_mime_stream_eos(decoded.get());
    if (filled == chunk_bytes || (end && filled > 0)) {
      error e = sink(std::string_view(chunk.data(), filled));
      if (!e.ok()) return e;
      filled = 0;
    }
    if (end) return error::none();
  }
}

std::string decode_all(GMimeObject* leaf, bool crlf) {
  std::string out;
  decode_leaf(leaf, crlf, 64 * 1024, [&out](std::string_view c) {
    out.append(c);
    return error::none();
  });
  return out;
}

// Visits every leaf (non-multipart) with its IMAP section number, depth first. An
// embedded message/rfc822 is a leaf: its parts are not the outer message's parts.
class leaf_walker {
 public:
  using visitor = std::function<void(const std::string& part_id, GMimeObject* leaf)>;
  explicit leaf_walker(visitor v) : visit_(std::move(v)) {}

  error walk(GMimeObject* object, const std::string& id, int depth) {
    if (depth > max_mime_depth) {
      return {errc::invalid_argument,
              "message: MIME parts nested deeper than " + std::to_string(max_mime_depth) + " levels (at part " + id + ")"};
    }
    if (!GMIME_IS_MULTIPART(object)) {
      visit_(id.empty() ? "1" : id, object);
      return error::none();
    }
    GMimeMultipart* multipart = GMIME_MULTIPART(object);
    for (int i = 0; i < g_mime_multipart_get_count(multipart); ++i) {
      const std::string child_id = (id.empty() ? "" : id + ".") + std::to_string(i + 1);
      error e = walk(g_mime_multipart_get_part(multipart, i), child_id, depth + 1);
      if (!e.ok()) return e;
    }
    return error::none();
  }

 private:
  visitor visit_;
};

// Raw values of every header called `name`, joined as one list.
std::string raw_header_values(GMimeObject* object, const char* name) {
  GMimeHeaderList* list = g_mime_object_get_header_list(object);
  std::string joined;
  for (int i = 0; i < g_mime_header_list_get_count(list); ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
    if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) != 0) continue;
    if (!joined.empty()) joined += ", ";
    joined += trim(str(g_mime_header_get_raw_value(h)));
  }
  return joined;
}

void collect_addresses(InternetAddressList* list, std::vector<mailbox_address>& out) {
  for (int i = 0; list != nullptr && i < internet_address_list_length(list); ++i) {
    InternetAddress* a = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(a)) {
      collect_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), out);
    } else if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
      out.push_back({without_line_breaks(str(internet_address_get_name(a))), str(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)))});
    }
  }
}

std::vector<mailbox_address> addresses(GMimeObject* message, const char* header) {
  std::vector<mailbox_address> out;
  const std::string raw = raw_header_values(message, header);
  if (raw.empty()) return out;
  gobject_ptr<InternetAddressList> list(internet_address_list_parse(nullptr, detail::merge_padded_b_words(raw).c_str()));
  collect_addresses(list.get(), out);
  return out;
}

std::vector<std::string> message_ids(const std::string& raw) {
  std::vector<std::string> out;
  if (raw.empty()) return out;
  GMimeReferences* refs = g_mime_references_parse(nullptr, raw.c_str());
  for (int i = 0; refs != nullptr && i < g_mime_references_length(refs); ++i) {
    out.push_back("<" + str(g_mime_references_get_message_id(refs, i)) + ">");
  }
  if (refs != nullptr) g_mime_references_free(refs);
  return out;
}

std::string mime_type(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (type == nullptr) return "application/octet-stream";
  return lower(str(g_mime_content_type_get_media_type(type)) + "/" + str(g_mime_content_type_get_media_subtype(type)));
}

std::string attached_message_filename(GMimeObject* leaf) {
  GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(leaf));
  std::string subject = inner == nullptr ? "" : trim(header_text(raw_header_values(GMIME_OBJECT(inner), "Subject")));
  // The name is ours, so it is made safe to save: no path separators or control bytes.
  for (char& c : subject) {
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
  }
  return (subject.empty() ? "message" : subject) + ".eml";
}

class body_collector {
 public:
  body_collector(parsed_message& out, bool crlf) : out_(out), crlf_(crlf) {}

  void operator()(const std::string& part_id, GMimeObject* leaf) {
    const std::string type = mime_type(leaf);
    const std::string disposition = lower(str(g_mime_object_get_disposition(leaf)));
    std::string filename;
    if (GMIME_IS_PART(leaf)) {
      filename = str(g_mime_part_get_filename(GMIME_PART(leaf)));
    } else {  // GMime's name lookup for GMimePart, done by hand for message/rfc822
      filename = str(g_mime_object_get_content_disposition_parameter(leaf, "filename"));
      if (filename.empty()) filename = str(g_mime_object_get_content_type_parameter(leaf, "name"));
    }
    const bool is_attachment = disposition == "attachment" || !filename.empty() || !type.starts_with("text/");
    if (!is_attachment && type == "text/plain" && !text_taken_) {
      text_taken_ = true;
      out_.text_body = body_text(leaf);
      return;
    }
    if (!is_attachment && type == "text/html" && !html_taken_) {
      html_taken_ = true;
      out_.html_body = body_text(leaf);
      return;
    }
    attachment_info a;
    a.part_id = part_id;
    a.content_type = type;
    a.content_id = str(g_mime_object_get_content_id(leaf));
    a.is_inline = disposition == "inline" || (disposition.empty() && !a.content_id.empty());
    a.filename = filename.empty() && GMIME_IS_MESSAGE_PART(leaf) ? attached_message_filename(leaf) : filename;
    decode_leaf(leaf, crlf_, 64 * 1024, [&a](std::string_view chunk) {
      a.size += chunk.size();
      return error::none();
    });
    out_.attachments.push_back(std::move(a));
  }

 private:
  std::string body_text(GMimeObject* leaf) const {
    return to_lf(to_utf8(decode_all(leaf, crlf_), str(g_mime_object_get_content_type_parameter(leaf, "charset"))));
  }

  parsed_message& out_;
  bool crlf_;
  bool text_taken_ = false;
  bool html_taken_ = false;
};

error not_parseable() {
  return {errc::invalid_argument, "message: not an RFC 5322 message (no header fields found)"};
}

}  // namespace

result<parsed_message> parse_message(std::string_view raw) {
  const auto message = detail::parse_gmime_message(raw);
  if (message == nullptr) return not_parseable();
  GMimeObject* object = GMIME_OBJECT(message.get());
  parsed_message out;

  // GMime files the top-level Content-* fields under the body part: both lists are merged
  // back into the order they were written in.
  GMimeObject* body = g_mime_message_get_mime_part(message.get());
  std::vector<GMimeHeader*> fields;
  for (GMimeObject* owner : {object, body}) {
    GMimeHeaderList* list = owner == nullptr ? nullptr : g_mime_object_get_header_list(owner);
    for (int i = 0; list != nullptr && i < g_mime_header_list_get_count(list); ++i) {
      fields.push_back(g_mime_header_list_get_header_at(list, i));
    }
  }
  std::stable_sort(fields.begin(), fields.end(),
                   [](GMimeHeader* a, GMimeHeader* b) { return g_mime_header_get_offset(a) < g_mime_header_get_offset(b); });
  for (GMimeHeader* h : fields) {
    out.headers.push_back({str(g_mime_header_get_name(h)), trim(header_text(str(g_mime_header_get_raw_value(h))))});
  }
  out.subject = trim(header_text(raw_header_values(object, "Subject")));
  // Message-ID alone is decoded leniently (GMime accepts it without brackets or with junk).
  if (const std::string id = raw_header_values(object, "Message-ID"); !id.empty()) {
    if (char* decoded = g_mime_utils_decode_message_id(id.c_str()); decoded != nullptr) {
      if (*decoded != '\0') out.message_id = "<" + std::string(decoded) + ">";
      g_free(decoded);
    }
  }
  if (auto ids = message_ids(raw_header_values(object, "In-Reply-To")); !ids.empty()) out.in_reply_to = ids.front();
  out.references = message_ids(raw_header_values(object, "References"));
  out.from = addresses(object, "From");
  out.to = addresses(object, "To");
  out.cc = addresses(object, "Cc");
  out.reply_to = addresses(object, "Reply-To");
  if (const std::string date = raw_header_values(object, "Date"); !date.empty()) {
    if (GDateTime* parsed = g_mime_utils_header_decode_date(date.c_str()); parsed != nullptr) {
      out.date = std::chrono::system_clock::time_point(std::chrono::seconds(g_date_time_to_unix(parsed)));
      g_date_time_unref(parsed);
    }
  }

  if (body != nullptr) {
    body_collector collect(out, uses_crlf(raw));
    leaf_walker walker([&collect](const std::string& id, GMimeObject* leaf) { collect(id, leaf); });
    error e = walker.walk(body, "", 0);
    if (!e.ok()) return e;
  }
  return out;
}

error extract_attachment(std::string_view raw, std::string_view part_id, std::size_t chunk_bytes,
                         const std::function<error(std::string_view)>& sink) {
  if (chunk_bytes == 0) return {errc::invalid_argument, "chunk_bytes: must be at least 1"};
  const auto message = detail::parse_gmime_message(raw);
  if (message == nullptr) return not_parseable();
  GMimeObject* found = nullptr;
  GMimeObject* body = g_mime_message_get_mime_part(message.get());
  if (body != nullptr) {
    leaf_walker walker([&](const std::string& id, GMimeObject* leaf) {
      if (found == nullptr && id == part_id) found = leaf;
    });
    error e = walker.walk(body, "", 0);
    if (!e.ok()) return e;
  }
  if (found == nullptr) {
    return {errc::not_found, "part_id: message has no leaf part \"" + clean_text(part_id, 64) +
                                 "\" (GetMessageParts lists the attachments and their part ids; multipart "
                                 "containers have no bytes of their own)"};
  }
  return decode_leaf(found, uses_crlf(raw), chunk_bytes, sink);
}

}  // namespace mailbroker::mime
