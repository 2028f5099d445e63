#include "protocol/pop3/client.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>

#include "common/base64.hpp"
#include "net/deadline_guard.hpp"
#include "net/read_buffer.hpp"
#include "protocol/pop3/command.hpp"
#include "sasl/oauth.hpp"
#include "sasl/plain.hpp"

namespace mailbroker::pop3 {
namespace {

using asio::redirect_error;

std::string describe(const reply& r) {
  std::string out = r.type == reply_type::ok ? "+OK" : r.type == reply_type::err ? "-ERR" : "+";
  if (!r.code.empty()) out += " [" + r.code + "]";
  if (!r.text.empty()) out += " " + r.text;
  return out;
}

// RFC 2449 8.1.2 IN-USE, RFC 2449 8.1.1 LOGIN-DELAY, RFC 3206 SYS/TEMP and SYS/PERM:
// the server, not the credentials, is the problem; retrying them would not help.
bool refused_by_server_state(const reply& r) {
  return r.code == "IN-USE" || r.code == "LOGIN-DELAY" || r.code.rfind("SYS/", 0) == 0;
}

error login_refused(const reply& r, const std::string& user, const std::string& how) {
  if (refused_by_server_state(r)) {
    return error{errc::unavailable, how + " login temporarily refused for user '" + user + "': " + describe(r)};
  }
  return error{errc::unauthenticated, "server rejected " + how + " login for user '" + user + "': " + describe(r)};
}

void wipe(std::string& secret) { std::fill(secret.begin(), secret.end(), '\0'); }

}  // namespace

// The command waiting for its reply. The reader fills it (and feeds a streamed reply's
// body to `sink` as it arrives) and cancels `wake`; command() re-checks after wake-ups.
struct client::pending_command {
  explicit pending_command(const asio::any_io_executor& ex) : wake(ex) {}
  sink_fn sink;
  std::optional<reply> done;
  std::optional<error> failure;
  asio::steady_timer wake;
};

struct client::sasl_outcome {
  reply final;            // the +OK or -ERR that ended the exchange
  std::string challenge;  // the server's last challenge (an OAuth error report), if any
};

client::client(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context)
    : executor_(executor), stream_(executor, std::move(tls_context)) {}

client::~client() { stream_.close(); }

// ---- before the reader runs: open() ------------------------------------------------

awaitable<result<reply>> client::read_reply_direct(reply_kind kind) {
  if (!parser_.expect(kind)) co_return error{errc::unavailable, "server sent data before the command"};
  std::array<char, 8192> chunk{};
  for (;;) {
    if (!inbuf_.empty()) {
      auto r = parser_.feed(inbuf_);
      inbuf_.erase(0, r.consumed);
      if (r.status == parse_status::complete) co_return parser_.take();
      if (r.status == parse_status::fatal_error || r.status == parse_status::recoverable_error) {
        co_return error{errc::unavailable, "protocol error from server: " + parser_.error()};
      }
    }
    error_code ec;
    std::size_t n = co_await stream_.read_some(asio::buffer(chunk), ec);
    if (ec) {
      co_return error{errc::unavailable, ec == asio::error::eof ? std::string("server closed the connection")
                                                                 : "read failed: " + ec.message()};
    }
    inbuf_.append(chunk.data(), n);
  }
}

awaitable<result<reply>> client::command_direct(std::string line, reply_kind kind) {
  // open()'s deadline guard bounds the whole handshake, writes included.
  if (auto e = co_await write_line(line, login_timeout_); !e.ok()) co_return e;
  co_return co_await read_reply_direct(kind);
}

awaitable<error> client::read_capabilities_direct() {
  auto r = co_await command_direct(capa_command(), reply_kind::multi_line);
  if (!r) co_return r.err();
  caps_ = {};
  caps_known_ = false;
  if (!r->ok()) co_return error::none();  // RFC 1939 server without CAPA
  auto parsed = parse_capabilities(r->lines);
  if (!parsed) co_return error{errc::unavailable, "malformed CAPA reply: " + parsed.err().message};
  caps_ = std::move(parsed.value());
  caps_known_ = true;
  co_return error::none();
}

awaitable<error> client::open(connect_options options) {
  if (open_ || stream_.is_open()) {
    co_return error{errc::failed_precondition, "open() called twice: a pop3::client is one connection"};
  }
  login_timeout_ = options.timeout;
  auto e = co_await handshake(std::move(options));
  if (!e.ok()) {
    stream_.close();
    co_return e;
  }
  open_ = true;
  asio::co_spawn(executor_, [self = shared_from_this()] { return self->read_loop(); }, asio::detached);
  co_return error::none();
}

awaitable<error> client::handshake(connect_options options) {
  const std::string server_name = options.tls_server_name.empty() ? options.host : options.tls_server_name;
  const std::string where = options.host + ":" + std::to_string(options.port);
  net::deadline_guard guard(executor_, options.timeout, [this] { stream_.close(); });
  auto timed_out = [&](const error& e) {
    return guard.expired() ? error{errc::unavailable, "no complete POP3 handshake from " + where + " within " +
                                                          std::to_string(options.timeout.count()) + " ms"}
                           : e;
  };

  stream_.set_dead_peer_timeout(options.dead_peer_timeout);
  stream_.set_trace(options.trace);
  if (auto e = co_await stream_.connect(options.host, options.port, options.timeout); !e.ok()) co_return e;
  if (options.tls == tls_mode::implicit) {
    if (auto e = co_await stream_.start_tls(server_name, options.verify_certificate, options.timeout); !e.ok())
      co_return timed_out(e);
  }

  auto greeting = co_await read_reply_direct(reply_kind::single_line);
  if (!greeting) co_return timed_out(greeting.err());
  if (!greeting->ok()) {
    co_return error{errc::unavailable, "server " + where + " refused the connection: " + describe(*greeting)};
  }
  greeting_ = greeting->text;
  if (auto e = co_await read_capabilities_direct(); !e.ok()) co_return timed_out(e);

  if (options.tls == tls_mode::starttls) {
    if (!caps_.stls) {
      co_return error{errc::failed_precondition, "server.tls_mode STARTTLS: " + where +
                                                     " does not offer STLS in CAPA (use TLS_MODE_IMPLICIT on "
                                                     "the POP3S port, usually 995)"};
    }
    auto r = co_await command_direct(stls_command(), reply_kind::single_line);
    if (!r) co_return timed_out(r.err());
    if (!r->ok()) co_return error{errc::failed_precondition, "STLS refused by " + where + ": " + describe(*r)};
    // Bytes that arrived with the STLS reply were sent in clear and could have been
    // injected (CVE-2011-0411 class): refuse instead of trusting them.
    if (!inbuf_.empty()) co_return error{errc::unavailable, "server sent data after the STLS reply"};
    if (auto e = co_await stream_.start_tls(server_name, options.verify_certificate, options.timeout); !e.ok())
      co_return timed_out(e);
    // Capabilities learnt in clear are discarded (RFC 2595 4).
    if (auto e = co_await read_capabilities_direct(); !e.ok()) co_return timed_out(e);
  }
  if (guard.expired()) co_return timed_out(error{});
  co_return error::none();
}

// ---- the reader ----------------------------------------------------------------------

awaitable<void> client::read_loop() {
  // Bytes read before the reader started (handshake phase) are parsed first.
  net::read_buffer carry(std::move(inbuf_));  // small while idle, grows for downloads
  inbuf_.clear();
  std::string_view view = carry.data();
  for (;;) {
    while (!view.empty()) {
      auto r = parser_.feed(view);
      view.remove_prefix(r.consumed);
      switch (r.status) {
        case parse_status::need_more:
          break;
        case parse_status::body_chunk:
          if (!deliver_chunk()) co_return;
          break;
        case parse_status::complete:
          if (!deliver_chunk()) co_return;
          dispatch(parser_.take());
          break;
        case parse_status::recoverable_error:
          // Idle: a garbage line is skipped. Awaited: the command's reply is lost and
          // its effect unknown, so the connection cannot be trusted any more.
          if (pending_) {
            connection_lost(error{errc::unavailable, "malformed reply from server: " + parser_.error()});
            co_return;
          }
          break;
        case parse_status::fatal_error:
          connection_lost(error{errc::unavailable, "protocol error from server: " + parser_.error()});
          co_return;
      }
    }
    if (!open_) co_return;
    error_code ec;
    std::size_t n = co_await stream_.read_some(carry.prepare(), ec);
    if (ec) {
      std::string why = !last_unsolicited_.empty()  ? "server closed the connection: " + last_unsolicited_
                        : ec == asio::error::eof ? std::string("server closed the connection")
                                                 : "connection lost: " + ec.message();
      connection_lost(error{errc::unavailable, why});
      co_return;
    }
    view = carry.commit(n);
  }
}

bool client::deliver_chunk() {
  std::string bytes = parser_.take_chunk();
  if (bytes.empty()) return true;
  auto cmd = pending_;
  if (!cmd || !cmd->sink || cmd->done) {
    connection_lost(error{errc::unavailable, "server sent a message body nobody asked for"});
    return false;
  }
  error e = cmd->sink(bytes);
  if (e.ok()) return true;
  close(e);
  return false;
}

void client::dispatch(reply r) {
  auto cmd = pending_;
  if (!cmd || cmd->done || cmd->failure) {
    // POP3 servers speak only when asked; Dovecot says why before dropping an idle
    // connection ("-ERR Disconnected for inactivity."), which names the coming EOF.
    last_unsolicited_ = describe(r);
    return;
  }
  cmd->done = std::move(r);
  cmd->wake.cancel();
}

void client::connection_lost(error why) {
  const bool expected = closing_ || !open_;
  if (lost_reason_.empty()) lost_reason_ = why.message;
  open_ = false;
  stream_.close();
  if (auto cmd = pending_; cmd && !cmd->done && !cmd->failure) {
    cmd->failure = why;
    cmd->wake.cancel();
  }
  if (!expected && on_lost_) {
    auto callback = std::move(on_lost_);
    on_lost_ = nullptr;
    callback(std::move(why));
  }
}

void client::close(const error& why) {
  closing_ = true;
  connection_lost(why);
}

awaitable<error> client::write_line(const std::string& line, std::chrono::milliseconds timeout) {
  error_code ec;
  co_await stream_.write(line, timeout, ec);
  if (ec) co_return error{errc::unavailable, "write to server failed: " + ec.message()};
  ++commands_sent_;
  co_return error::none();
}

// ---- commands --------------------------------------------------------------------------

awaitable<result<reply>> client::command(std::string line, reply_kind kind, std::string name,
                                         std::chrono::milliseconds timeout, sink_fn sink) {
  if (!is_open()) {
    std::string why = "connection is not open";
    if (!lost_reason_.empty()) why += " (" + lost_reason_ + ")";
    co_return error{errc::unavailable, std::move(why)};
  }
  if (pending_) co_return error{errc::internal, "a POP3 command is already in flight (" + name + " must wait)"};
  if (!parser_.expect(kind)) {
    error e{errc::unavailable, "server sent a partial reply nobody asked for"};
    close(e);
    co_return e;
  }
  auto cmd = std::make_shared<pending_command>(executor_);
  cmd->sink = std::move(sink);
  pending_ = cmd;
  struct clear_pending {
    client* self;
    ~clear_pending() { self->pending_.reset(); }
  } clear{this};

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (auto e = co_await write_line(line, timeout); !e.ok()) {
    close(e);
    co_return e;
  }
  for (;;) {
    if (cmd->done) co_return std::move(*cmd->done);
    if (cmd->failure) co_return *cmd->failure;
    error_code ec;
    cmd->wake.expires_at(deadline);
    co_await cmd->wake.async_wait(redirect_error(use_awaitable, ec));
    if (!ec && !cmd->done && !cmd->failure) {
      error e{errc::deadline_exceeded,
              "server did not answer '" + name + "' within " + std::to_string(timeout.count()) + " ms"};
      close(e);
      co_return e;
    }
  }
}

awaitable<error> client::refresh_capabilities(std::chrono::milliseconds timeout) {
  auto r = co_await command(capa_command(), reply_kind::multi_line, "CAPA", timeout);
  if (!r) co_return r.err();
  if (!r->ok()) co_return error::none();  // keep what the AUTHORIZATION state said
  auto parsed = parse_capabilities(r->lines);
  if (!parsed) co_return error{errc::unavailable, "malformed CAPA reply: " + parsed.err().message};
  caps_ = std::move(parsed.value());
  caps_known_ = true;
  co_return error::none();
}

// AUTH with an initial response (RFC 5034 4), or without one and answering the first
// empty challenge when the line would exceed 255 octets (long OAuth tokens). Further
// challenges are error reports: answered with `error_answer`, or cancelled.
awaitable<result<client::sasl_outcome>> client::sasl_exchange(std::string mechanism, std::string initial_response,
                                                              std::optional<std::string> error_answer) {
  const std::string name = "AUTH " + mechanism;
  bool initial_sent = true;
  auto line = auth_command(mechanism, initial_response);
  if (!line) {
    initial_sent = false;
    line = auth_command(mechanism, std::nullopt);
    if (!line) co_return error{errc::internal, name + ": " + line.err().message};
  }
  sasl_outcome out;
  auto r = co_await command(std::move(line.value()), reply_kind::single_line, name, login_timeout_);
  for (int round = 0; r && r->type == reply_type::continuation; ++round) {
    std::string answer;
    if (round >= 3) {
      error e{errc::unavailable, name + ": the server keeps sending challenges"};
      close(e);
      r = e;
      break;
    }
    if (!initial_sent) {
      answer = sasl_response(initial_response);
      initial_sent = true;
    } else if (error_answer) {
      out.challenge = r->text;
      answer = sasl_response(*error_answer);
    } else {
      answer = sasl_cancel();
    }
    r = co_await command(std::move(answer), reply_kind::single_line, name, login_timeout_);
  }
  wipe(initial_response);
  if (!r) co_return r.err();
  out.final = std::move(r.value());
  co_return out;
}

awaitable<error> client::login(std::string user, std::string password) {
  if (caps_.has_sasl("PLAIN")) {
    std::string raw;
    raw.push_back('\0');
    raw += user;
    raw.push_back('\0');
    raw += password;
    wipe(password);
    auto r = co_await sasl_exchange("PLAIN", std::move(raw), std::nullopt);
    if (!r) co_return r.err();
    if (!r->final.ok()) co_return login_refused(r->final, user, "AUTH PLAIN");
  } else {
    if (caps_known_ && !caps_.user) {
      co_return error{errc::failed_precondition,
                      "the server's CAPA offers neither SASL PLAIN nor USER: plaintext logins are disabled on this "
                      "connection (use TLS_MODE_IMPLICIT or STARTTLS)"};
    }
    auto user_line = user_command(user);
    if (!user_line) co_return error{errc::invalid_argument, "POP3 USER: " + user_line.err().message};
    auto pass_line = pass_command(password);
    wipe(password);
    if (!pass_line) co_return error{errc::invalid_argument, "POP3 PASS: " + pass_line.err().message};
    auto r = co_await command(std::move(user_line.value()), reply_kind::single_line, "USER", login_timeout_);
    if (r && r->ok()) {
      r = co_await command(std::move(pass_line.value()), reply_kind::single_line, "PASS", login_timeout_);
    }
    wipe(pass_line.value());
    if (!r) co_return r.err();
    if (!r->ok()) co_return login_refused(*r, user, "USER/PASS");
  }
  // The TRANSACTION state may advertise more (RFC 2449 5), e.g. UIDL or TOP.
  co_return co_await refresh_capabilities(login_timeout_);
}

awaitable<result<std::string>> client::authenticate_oauth(std::string user, std::string access_token) {
  std::string mechanism;
  std::string encoded;
  std::string error_answer;
  if (caps_.has_sasl("OAUTHBEARER")) {
    mechanism = "OAUTHBEARER";
    encoded = sasl::oauthbearer_initial_response(user, access_token);
    error_answer = "\x01";  // RFC 7628 3.2.3
  } else if (caps_.has_sasl("XOAUTH2")) {
    mechanism = "XOAUTH2";
    encoded = sasl::xoauth2_initial_response(user, access_token);  // error answer: empty (Google's spec)
  } else {
    co_return error{errc::failed_precondition,
                    "the server's CAPA lists neither SASL OAUTHBEARER nor XOAUTH2: it cannot take OAuth2 tokens"};
  }
  wipe(access_token);
  // The helpers return base64; auth_command() wants the raw bytes (it encodes them).
  auto raw = base64_decode(encoded);
  wipe(encoded);
  if (!raw) co_return error{errc::internal, mechanism + " initial response is not base64"};
  auto r = co_await sasl_exchange(mechanism, std::move(*raw), std::move(error_answer));
  if (!r) co_return r.err();
  if (!r->final.ok()) {
    error e = login_refused(r->final, user, mechanism);
    if (!r->challenge.empty()) {
      if (auto parsed = sasl::parse_oauth_error_challenge(r->challenge)) e.message += " (" + sasl::describe(*parsed) + ")";
    }
    co_return e;
  }
  if (auto e = co_await refresh_capabilities(login_timeout_); !e.ok()) co_return e;
  co_return mechanism;
}

awaitable<result<maildrop_stat>> client::stat(std::chrono::milliseconds timeout) {
  auto r = co_await command(stat_command(), reply_kind::single_line, "STAT", timeout);
  if (!r) co_return r.err();
  if (!r->ok()) co_return error{errc::failed_precondition, "STAT refused: " + describe(*r)};
  auto parsed = parse_stat(*r);
  if (!parsed) co_return error{errc::unavailable, "malformed STAT reply: " + parsed.err().message};
  co_return parsed.value();
}

awaitable<result<std::vector<message_entry>>> client::list(std::chrono::milliseconds timeout) {
  if (caps_known_ && !caps_.uidl) {
    co_return error{errc::failed_precondition,
                    "the server's CAPA does not list UIDL: messages have no stable ids on this server"};
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto sizes = co_await command(list_command(), reply_kind::multi_line, "LIST", timeout);
  if (!sizes) co_return sizes.err();
  if (!sizes->ok()) co_return error{errc::failed_precondition, "LIST refused: " + describe(*sizes)};
  std::vector<message_entry> entries;
  entries.reserve(sizes->lines.size());
  for (const auto& line : sizes->lines) {
    auto scan = parse_scan_listing(line);
    if (!scan) co_return error{errc::unavailable, "malformed LIST reply: " + scan.err().message};
    entries.push_back(message_entry{scan->message, scan->size, {}});
  }

  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left < std::chrono::milliseconds(1)) left = std::chrono::milliseconds(1);
  auto ids = co_await command(uidl_command(), reply_kind::multi_line, "UIDL", left);
  if (!ids) co_return ids.err();
  if (!ids->ok()) co_return error{errc::failed_precondition, "UIDL refused: " + describe(*ids)};
  std::unordered_map<std::uint32_t, std::string> uid_of;
  for (const auto& line : ids->lines) {
    auto listing = parse_unique_id_listing(line);
    if (!listing) co_return error{errc::unavailable, "malformed UIDL reply: " + listing.err().message};
    uid_of[listing->message] = std::move(listing->uid);
  }
  if (uid_of.size() != entries.size()) {
    co_return error{errc::unavailable, "LIST and UIDL disagree: " + std::to_string(entries.size()) +
                                           " messages listed, " + std::to_string(uid_of.size()) + " unique ids"};
  }
  for (auto& entry : entries) {
    auto it = uid_of.find(entry.number);
    if (it == uid_of.end()) {
      co_return error{errc::unavailable,
                      "LIST and UIDL disagree: message " + std::to_string(entry.number) + " has no unique id"};
    }
    entry.unique_id = std::move(it->second);
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.number < b.number; });
  co_return entries;
}

awaitable<result<std::string>> client::top(std::uint32_t number, std::uint32_t lines, std::chrono::milliseconds timeout) {
  if (caps_known_ && !caps_.top) co_return error{errc::failed_precondition, "the server's CAPA does not list TOP"};
  auto line = top_command(number, lines);
  if (!line) co_return error{errc::invalid_argument, "TOP: " + line.err().message};
  std::string out;
  sink_fn sink = [&out](std::string_view bytes) {
    if (out.size() + bytes.size() > max_top_bytes) {
      return error{errc::resource_exhausted,
                   "TOP reply longer than " + std::to_string(max_top_bytes) + " bytes (connection closed)"};
    }
    out.append(bytes);
    return error::none();
  };
  auto r = co_await command(std::move(line.value()), reply_kind::multi_line_streamed, "TOP", timeout, std::move(sink));
  if (!r) co_return r.err();
  if (!r->ok()) co_return error{errc::not_found, "TOP " + std::to_string(number) + " refused: " + describe(*r)};
  co_return out;
}

awaitable<error> client::retrieve(std::uint32_t number, std::function<error(std::string_view)> sink,
                                  std::chrono::milliseconds timeout) {
  auto line = retr_command(number);
  if (!line) co_return error{errc::invalid_argument, "RETR: " + line.err().message};
  auto r = co_await command(std::move(line.value()), reply_kind::multi_line_streamed, "RETR", timeout, std::move(sink));
  if (!r) co_return r.err();
  if (!r->ok()) co_return error{errc::not_found, "RETR " + std::to_string(number) + " refused: " + describe(*r)};
  co_return error::none();
}

awaitable<error> client::dele(std::uint32_t number, std::chrono::milliseconds timeout) {
  auto line = dele_command(number);
  if (!line) co_return error{errc::invalid_argument, "DELE: " + line.err().message};
  auto r = co_await command(std::move(line.value()), reply_kind::single_line, "DELE", timeout);
  if (!r) co_return r.err();
  if (!r->ok()) co_return error{errc::not_found, "DELE " + std::to_string(number) + " refused: " + describe(*r)};
  co_return error::none();
}

awaitable<error> client::rset(std::chrono::milliseconds timeout) {
  auto r = co_await command(rset_command(), reply_kind::single_line, "RSET", timeout);
  if (!r) co_return r.err();
  if (!r->ok()) co_return error{errc::unavailable, "RSET failed: " + describe(*r)};
  co_return error::none();
}

awaitable<error> client::noop(std::chrono::milliseconds timeout) {
  auto r = co_await command(noop_command(), reply_kind::single_line, "NOOP", timeout);
  if (!r) co_return r.err();
  if (!r->ok()) co_return error{errc::unavailable, "NOOP failed: " + describe(*r)};
  co_return error::none();
}

awaitable<error> client::quit(std::chrono::milliseconds timeout) {
  closing_ = true;
  const auto sent_before = commands_sent_;
  auto r = co_await command(quit_command(), reply_kind::single_line, "QUIT", timeout);
  const bool quit_written = commands_sent_ > sent_before;
  // No TLS close_notify exchange: the reader's read is still pending and a TLS stream
  // allows one read at a time. The server closes after its QUIT reply.
  connection_lost(error{errc::cancelled, "closed after QUIT"});
  if (!r && quit_written) {
    co_return error{errc::aborted, "outcome unknown: QUIT was sent but not answered (" + r.err().message +
                                       "): whether this connection's deletions were committed is unknown; check "
                                       "before retrying"};
  }
  if (!r) co_return error{r.err().code, r.err().message + " (QUIT not sent: deletions not committed)"};
  if (!r->ok()) co_return error{errc::unavailable, "deletions not committed: " + describe(*r)};
  co_return error::none();
}

}  // namespace mailbroker::pop3
