#include "mime/gmime_support.hpp"

namespace mailbroker::mime::detail {

gobject_ptr<GMimeMessage> parse_gmime_message(std::string_view raw) {
  init_gmime();
  gobject_ptr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  gobject_ptr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  return gobject_ptr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), nullptr));
}

std::string write_gmime_object(GMimeObject* object, bool crlf) {
  init_gmime();
  std::unique_ptr<GMimeFormatOptions, decltype(&g_mime_format_options_free)> format(g_mime_format_options_new(),
                                                                                   &g_mime_format_options_free);
  g_mime_format_options_set_newline_format(format.get(), crlf ? GMIME_NEWLINE_FORMAT_DOS : GMIME_NEWLINE_FORMAT_UNIX);
  gobject_ptr<GMimeStream> stream(g_mime_stream_mem_new());
  g_mime_object_write_to_stream(object, format.get(), stream.get());
  const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

}  // namespace mailbroker::mime::detail
