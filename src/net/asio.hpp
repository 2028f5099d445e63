#pragma once
// The one way this project includes Asio/Beast. With -std=c++20, Boost 1.74's Asio
// uses std::exchange without including <utility> (asio issue #944), so it comes first.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace mailbroker {
namespace asio = boost::asio;
namespace beast = boost::beast;
using error_code = boost::system::error_code;
using asio::awaitable;
using asio::use_awaitable;
}  // namespace mailbroker
