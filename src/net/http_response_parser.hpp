#pragma once
// Parses one HTTP/1.1 response from bytes (Beast's basic_parser underneath); no I/O.
// The connection (net/http_connection) feeds it what it reads; tests feed it byte
// strings split at every point.
//
// Usage loop:
//   http_response_parser p(limits);
//   while (!p.done()) {
//     std::size_t used = p.put(bytes, ec);       // consumes a prefix of `bytes`
//     drop `used` bytes; if (ec == need_more) read more and keep the rest; else if (ec) fail;
//     if (p.header_done() && !sink_chosen) p.stream_body_to(sink);  // optional, see below
//   }
//   On EOF: p.put_eof(ec) (completes a body delimited by the close, else partial_message).
//
// put() stops once the header is complete, so the caller can look at status() and
// choose where the body goes (kept in body(), or handed to a sink) before the body.
//
// Limits (constructor): the header (status line + fields) over max_header_bytes, or
// more than max_response_header_fields fields, fails with http::error::header_limit; a
// body over max_body_bytes (announced by Content-Length, or as it arrives) with
// http::error::body_limit. With a sink there is no total limit (a stream can run for
// hours), but one chunk announcing more than max_body_bytes fails with body_limit.
// Chunk-size lines and trailers are not bounded here: the caller bounds the bytes it
// buffers without progress (see http_connection's max_header_bytes).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include "net/http_message.hpp"

namespace mailbroker::net {

// More header fields than this (trailers included) fail as header_limit: a flood of tiny
// fields would otherwise cost ~70 bytes of bookkeeping per 4 bytes received.
inline constexpr std::size_t max_response_header_fields = 256;

struct http_response_limits {
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_body_bytes = 64 * 1024 * 1024;
};

class http_response_parser : private boost::beast::http::basic_parser<false> {
 public:
  using error_code = boost::system::error_code;
  // Receives body bytes as they are parsed; returning false stops the parse (put()
  // then fails with asio::error::operation_aborted and sink_stopped() is true).
  using body_sink = std::function<bool(std::string_view)>;

  explicit http_response_parser(http_response_limits limits);

  // For a response to HEAD: no body follows whatever the header says.
  void expect_no_body() { skip(true); }
  // After header_done() and before any body byte: hand the body to `sink` instead of
  // keeping it; lifts the total body limit (each chunk stays bounded).
  void stream_body_to(body_sink sink);

  // See the usage loop. `ec` is http::error::need_more when more bytes are needed
  // (not a failure), another http::error for malformed input or a limit.
  std::size_t put(std::string_view bytes, error_code& ec);
  void put_eof(error_code& ec);

  bool got_some() const { return basic_parser::got_some(); }
  bool header_done() const { return is_header_done(); }
  bool done() const { return is_done(); }
  bool need_eof() const { return basic_parser::need_eof(); }
  // Whether the connection may carry another request (HTTP/1.1 without
  // "Connection: close", or HTTP/1.0 with keep-alive). Valid once header_done().
  bool keep_alive() const { return basic_parser::keep_alive(); }
  bool sink_stopped() const { return sink_stopped_; }

  int status() const { return status_; }
  int version() const { return version_; }  // 10 or 11
  const std::vector<http_header>& headers() const { return headers_; }
  std::vector<http_header>& headers() { return headers_; }
  std::string& body() { return body_; }

 private:
  void on_request_impl(boost::beast::http::verb, boost::beast::string_view, boost::beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, boost::beast::string_view reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field, boost::beast::string_view name, boost::beast::string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override;
  std::size_t on_body_impl(boost::beast::string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body, error_code& ec) override;
  void on_finish_impl(error_code&) override {}

  std::size_t deliver(boost::beast::string_view piece, error_code& ec);

  http_response_limits limits_;
  int status_ = 0;
  int version_ = 11;
  std::vector<http_header> headers_;
  std::string body_;
  body_sink sink_;
  bool sink_stopped_ = false;
};

}  // namespace mailbroker::net
