#include "fakes/scripted_server.hpp"

#include <algorithm>

namespace mailbroker::testing {

scripted_server::scripted_server(std::vector<script_step> script)
    : script_(std::move(script)),
      acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
      socket_(io_) {
  port_ = acceptor_.local_endpoint().port();
  thread_ = std::thread([this] { serve(); });
}

scripted_server::~scripted_server() {
  error_code ignored;
  acceptor_.close(ignored);
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  thread_.join();
}

std::vector<std::string> scripted_server::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

void scripted_server::serve() {
  error_code ec;
  acceptor_.accept(socket_, ec);
  if (ec) return;
  std::string buffer;
  std::string last_tag;
  for (const auto& step : script_) {
    switch (step.type) {
      case script_step::kind::send: {
        std::string out = step.data;
        for (auto pos = out.find("{tag}"); pos != std::string::npos; pos = out.find("{tag}")) {
          out.replace(pos, 5, last_tag);
        }
        asio::write(socket_, asio::buffer(out), ec);
        if (ec) return;
        break;
      }
      case script_step::kind::read_line: {
        auto n = asio::read_until(socket_, asio::dynamic_buffer(buffer), "\r\n", ec);
        if (ec) return;
        std::string line = buffer.substr(0, n - 2);
        buffer.erase(0, n);
        // Continuation answers (base64, no space) are not commands: keep the tag.
        if (line.find(' ') != std::string::npos) last_tag = line.substr(0, line.find(' '));
        std::lock_guard lock(mutex_);
        received_.push_back(std::move(line));
        break;
      }
      case script_step::kind::stall: {
        char c;
        while (!ec) socket_.read_some(asio::buffer(&c, 1), ec);  // returns when the client closes
        return;
      }
      case script_step::kind::flood: {
        if (step.data.empty()) break;
        const std::uint64_t per_write = std::max<std::uint64_t>(1, 65536 / step.data.size());
        std::string chunk;
        for (std::uint64_t i = 0; i < per_write; ++i) chunk += step.data;
        for (std::uint64_t left = step.times; left > 0;) {
          const std::uint64_t n = std::min(left, per_write);
          asio::write(socket_, asio::buffer(chunk.data(), n * step.data.size()), ec);
          if (ec) return;
          flooded_ += n * step.data.size();
          left -= n;
        }
        break;
      }
      case script_step::kind::close:
        socket_.close(ec);
        return;
    }
  }
  char c;
  while (!ec) socket_.read_some(asio::buffer(&c, 1), ec);
}

}  // namespace mailbroker::testing
