#pragma once
// The receive buffer of a long-lived reader (the IMAP and POP3 read loops): small while
// the connection idles, doubling while reads fill it (a download), back to small after
// the first short read. An idle session so holds `min_size` bytes on the heap instead
// of a 16 KiB array on its coroutine frame (plus a copy of the last read).
//
// Usage (one reader, not thread-safe):
//   read_buffer buf(std::move(leftover));    // bytes already read count as the first read
//   std::string_view view = buf.data();
//   for (;;) { parse(view) ...; n = co_await stream.read_some(buf.prepare(), ec); view = buf.commit(n); }
// prepare() invalidates views of earlier bytes; parse them all before reading again.
#include <cstddef>
#include <string>
#include <string_view>

#include "net/asio.hpp"

namespace mailbroker::net {

class read_buffer {
 public:
  static constexpr std::size_t min_size = 1024;
  static constexpr std::size_t max_size = 16384;  // one TLS record's worth

  explicit read_buffer(std::string leftover = {}) : bytes_(std::move(leftover)) {}

  std::string_view data() const { return bytes_; }
  std::size_t next_read_size() const { return want_; }
  std::size_t capacity() const { return bytes_.capacity(); }

  // Room for the next read, `next_read_size()` bytes. Drops the previous bytes, and
  // returns memory a larger earlier read left behind.
  asio::mutable_buffer prepare() {
    if (bytes_.capacity() > 2 * want_) std::string().swap(bytes_);
    bytes_.resize(want_);
    return asio::buffer(bytes_.data(), bytes_.size());
  }

  // The `n` bytes the read delivered; sizes the next read.
  std::string_view commit(std::size_t n) {
    bytes_.resize(n);
    if (n >= want_ && want_ < max_size) {
      want_ *= 2;
    } else if (n <= min_size) {
      want_ = min_size;
    }
    return bytes_;
  }

 private:
  std::string bytes_;
  std::size_t want_ = min_size;
};

}  // namespace mailbroker::net
