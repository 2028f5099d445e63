#include "net/http_response_parser.hpp"

#include <algorithm>
#include <limits>

#include <boost/asio/error.hpp>

namespace mailbroker::net {

namespace http = boost::beast::http;

http_response_parser::http_response_parser(http_response_limits limits) : limits_(limits) {
  header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(limits_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  body_limit(static_cast<std::uint64_t>(limits_.max_body_bytes));
}

void http_response_parser::stream_body_to(body_sink sink) {
  sink_ = std::move(sink);
  body_limit(boost::none);
}

std::size_t http_response_parser::put(std::string_view bytes, error_code& ec) {
  // Once the header is in, keep going through as many body pieces as `bytes` holds;
  // before that, stop at the end of the header (see the header comment).
  eager(is_header_done());
  return basic_parser::put(boost::asio::const_buffer(bytes.data(), bytes.size()), ec);
}

void http_response_parser::put_eof(error_code& ec) {
  if (!got_some()) {
    ec = http::error::partial_message;
    return;
  }
  basic_parser::put_eof(ec);
}

void http_response_parser::on_response_impl(int code, boost::beast::string_view, int version, error_code&) {
  status_ = code;
  version_ = version;
}

void http_response_parser::on_field_impl(http::field, boost::beast::string_view name, boost::beast::string_view value,
                                         error_code& ec) {
  if (headers_.size() >= max_response_header_fields) {
    ec = http::error::header_limit;
    return;
  }
  headers_.push_back({std::string(name), std::string(value)});
}

void http_response_parser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) {
  if (sink_) return;
  if (content_length) {
    // Beast checks Content-Length against body_limit when the header completes; checked
    // again here so that memory reserved below can never exceed the limit.
    if (*content_length > limits_.max_body_bytes) {
      ec = http::error::body_limit;
      return;
    }
    body_.reserve(static_cast<std::size_t>(*content_length));
  }
}

std::size_t http_response_parser::deliver(boost::beast::string_view piece, error_code& ec) {
  if (sink_) {
    if (!sink_(std::string_view(piece.data(), piece.size()))) {
      sink_stopped_ = true;
      ec = boost::asio::error::operation_aborted;
    }
    return piece.size();
  }
  // Beast counts against body_limit too; this keeps the promise whatever Beast does.
  if (piece.size() > limits_.max_body_bytes - body_.size()) {
    ec = http::error::body_limit;
    return 0;
  }
  body_.append(piece.data(), piece.size());
  return piece.size();
}

std::size_t http_response_parser::on_body_impl(boost::beast::string_view body, error_code& ec) {
  return deliver(body, ec);
}

void http_response_parser::on_chunk_header_impl(std::uint64_t size, boost::beast::string_view, error_code& ec) {
  if (size > limits_.max_body_bytes) ec = http::error::body_limit;
}

std::size_t http_response_parser::on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, error_code& ec) {
  return deliver(body, ec);
}

}  // namespace mailbroker::net
