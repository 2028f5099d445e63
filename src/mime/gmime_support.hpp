#pragma once
// Internal to mb_mime (it includes GMime, which is a PRIVATE dependency): GMime set-up
// shared by every file of the area, and ownership helpers for GMime objects.
#include <gmime/gmime.h>

#include <memory>
#include <string>
#include <string_view>

namespace mailbroker::mime::detail {

// g_mime_init, once per process (std::call_once); GMime is never shut down.
void init_gmime();

// Works around GMime 3.2.13 losing adjacent padded B words (jstedfast/gmime#133): runs of
// "=?cs?B?..?=" words of one charset separated only by white space are merged into one
// word. Call on raw header text before any GMime header decoder (text, phrase, address).
std::string merge_padded_b_words(std::string_view raw);

struct gobject_unref {
  void operator()(void* p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
// Owns one reference to a GObject (GMime streams, parts, messages, parsers).
template <class T>
using gobject_ptr = std::unique_ptr<T, gobject_unref>;

// The message GMime finds in `raw` (copied into a GMime memory stream), or null when there
// is no header block at all.
gobject_ptr<GMimeMessage> parse_gmime_message(std::string_view raw);

// What `object` writes (headers and content, content transfer-encoded as it is set),
// with CRLF line ends when `crlf`, else LF.
std::string write_gmime_object(GMimeObject* object, bool crlf);

}  // namespace mailbroker::mime::detail
