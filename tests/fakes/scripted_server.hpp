#pragma once
// A one-connection TCP server on 127.0.0.1:0 that plays a script: for edge cases a
// real IMAP server cannot be made to produce (stalls, garbage, missing capabilities,
// drops at exact points). Runs on its own thread with blocking I/O.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/asio.hpp"

namespace mailbroker::testing {

struct script_step {
  enum class kind { send, read_line, stall, close, flood };
  kind type;
  std::string data;  // send: bytes to send; "{tag}" is replaced by the last line's tag
  std::uint64_t times = 0;  // flood: how many copies of `data`

  static script_step send(std::string bytes) { return {kind::send, std::move(bytes)}; }
  static script_step read_line() { return {kind::read_line, {}}; }
  static script_step stall() { return {kind::stall, {}}; }  // until the client goes away
  static script_step close() { return {kind::close, {}}; }
  // Sends `unit` `times` times (in 64 KiB writes, generated as it goes: no big buffer);
  // ends the script quietly if the client goes away first.
  static script_step flood(std::string unit, std::uint64_t times) { return {kind::flood, std::move(unit), times}; }
};

class scripted_server {
 public:
  explicit scripted_server(std::vector<script_step> script);
  ~scripted_server();

  std::uint16_t port() const { return port_; }
  // Lines the client sent (without CRLF), in order.
  std::vector<std::string> received() const;
  // Bytes sent by flood steps so far.
  std::uint64_t flooded_bytes() const { return flooded_.load(); }

 private:
  void serve();

  std::vector<script_step> script_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::socket socket_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> received_;
  std::atomic<std::uint64_t> flooded_{0};
  std::thread thread_;
};

}  // namespace mailbroker::testing
