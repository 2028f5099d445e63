#include "protocol/imap/client.hpp"

#include <algorithm>
#include <array>

#include "net/deadline_guard.hpp"
#include "net/read_buffer.hpp"
#include "sasl/oauth.hpp"
#include "sasl/plain.hpp"

namespace mailbroker::imap {
namespace {

using asio::redirect_error;

std::string describe(const std::string& status, const std::string& code, const std::string& text) {
  std::string out = status;
  if (!code.empty()) out += " [" + code + "]";
  if (!text.empty()) out += " " + text;
  return out;
}

std::string describe_bytes(std::size_t n) {
  constexpr std::size_t mib = 1024 * 1024;
  return n % mib == 0 ? std::to_string(n / mib) + " MiB" : std::to_string(n) + " bytes";
}

// A command that changes the mailbox was written but its reply never came: the server
// may or may not have applied it, so a blind retry could apply it twice (or to other
// messages). `e` is why the connection failed.
error outcome_unknown(const error& e, std::string_view command) {
  std::string_view verb = command.substr(0, command.find(' '));
  const bool uid = verb.size() == 3 && (verb[0] | 0x20) == 'u' && (verb[1] | 0x20) == 'i' && (verb[2] | 0x20) == 'd';
  if (uid && verb.size() < command.size()) {
    verb = command.substr(0, command.find(' ', 4));  // "UID MOVE"
  }
  return {errc::aborted, "outcome unknown: the connection dropped after the server was sent " + std::string(verb) +
                             ", before its reply (" + e.message + "); check the mailbox before retrying"};
}

}  // namespace

// A command waiting for its tagged reply. The reader fills it and cancels `wake`;
// execute() re-checks the fields after every wake-up.
struct client::pending_command {
  explicit pending_command(const asio::any_io_executor& ex) : wake(ex) {}
  std::string tag;
  command_route route;
  bool alone = false;  // has continuations (AUTHENTICATE, IDLE): nothing else in flight
  std::vector<response> untagged;
  std::size_t held = 0;  // estimated bytes of `untagged` (counted in client::pending_bytes_)
  std::vector<std::string> continuations;  // continuation texts not yet answered
  std::optional<response> done;
  std::optional<error> failure;
  bool wake_on_untagged = false;  // IDLE: every untagged response may end it
  std::function<bool(const response&)> stop_on;  // IDLE: which responses end it
  bool stop_seen = false;                         // IDLE: one did
  asio::steady_timer wake;
};

client::client(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context,
               client_limits limits)
    : executor_(executor), limits_(limits), stream_(executor, std::move(tls_context)), parser_(limits.parser) {}

error client::too_much_pending() const {
  return error{errc::resource_exhausted, "IMAP server sent more than " + describe_bytes(limits_.max_pending_bytes) +
                                             " of untagged responses for the commands in flight; connection dropped"};
}

client::~client() { stream_.close(); }

awaitable<result<response>> client::read_response_direct() {
  std::array<char, 8192> chunk{};
  for (;;) {
    if (!inbuf_.empty()) {
      auto r = parser_.feed(inbuf_);
      inbuf_.erase(0, r.consumed);
      if (r.status == parse_status::complete) co_return parser_.take();
      if (r.status == parse_status::fatal_error) {
        co_return error{errc::unavailable, "protocol error from server: " + parser_.error()};
      }
      if (r.status == parse_status::recoverable_error) continue;  // skip the bad response
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

awaitable<result<command_result>> client::execute_direct(const std::string& command) {
  const std::string tag = tags_.next();
  if (auto e = co_await write_line(tag + " " + command, std::chrono::seconds(30)); !e.ok()) co_return e;
  command_result out;
  std::size_t held = 0;
  for (;;) {
    auto r = co_await read_response_direct();
    if (!r) co_return r.err();
    held += parser_.cost();
    if (held > limits_.max_pending_bytes) {
      stream_.close();
      co_return too_much_pending();
    }
    if (r->type == response_type::tagged && r->tag == tag) {
      out.status = r->status;
      out.code = r->code;
      out.text = r->text;
      out.code_text = r->code_text;
      if (auto caps = capabilities_of(*r); !caps.empty()) capabilities_ = std::move(caps);
      co_return out;
    }
    if (auto caps = capabilities_of(*r); !caps.empty()) capabilities_ = std::move(caps);
    out.untagged.push_back(std::move(r.value()));
  }
}

awaitable<error> client::refresh_capabilities_direct() {
  auto r = co_await execute_direct("CAPABILITY");
  if (!r) co_return r.err();
  if (r->status != "OK") {
    co_return error{errc::unavailable, "CAPABILITY failed: " + describe(r->status, r->code, r->text)};
  }
  co_return error::none();
}

awaitable<error> client::open(connect_options options) {
  const std::string server_name = options.tls_server_name.empty() ? options.host : options.tls_server_name;
  net::deadline_guard guard(executor_, options.timeout, [this] { stream_.close(); });
  auto timed_out = [&](const error& e) {
    return guard.expired() ? error{errc::unavailable, "no complete IMAP handshake from " + options.host + ":" +
                                                          std::to_string(options.port) + " within " +
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

  auto greeting = co_await read_response_direct();
  if (!greeting) co_return timed_out(greeting.err());
  if (greeting->type != response_type::untagged ||
      (greeting->status != "OK" && greeting->status != "PREAUTH")) {
    co_return error{errc::unavailable, "server refused the connection: " +
                                           describe(greeting->status, greeting->code, greeting->text)};
  }
  preauth_ = greeting->status == "PREAUTH";
  greeting_ = greeting->text;
  capabilities_ = capabilities_of(*greeting);
  if (capabilities_.empty()) {
    if (auto e = co_await refresh_capabilities_direct(); !e.ok()) co_return timed_out(e);
  }

  if (options.tls == tls_mode::starttls) {
    if (!has_capability(capabilities_, "STARTTLS")) {
      co_return error{errc::failed_precondition,
                      "server.tls_mode STARTTLS: " + options.host + ":" + std::to_string(options.port) +
                          " does not offer STARTTLS (use TLS_MODE_IMPLICIT on the IMAPS port)"};
    }
    auto r = co_await execute_direct("STARTTLS");
    if (!r) co_return timed_out(r.err());
    if (r->status != "OK") {
      co_return error{errc::failed_precondition, "STARTTLS refused: " + describe(r->status, r->code, r->text)};
    }
    // Bytes that arrived with the STARTTLS reply were sent in clear and could have
    // been injected (CVE-2011-0411 class): refuse instead of trusting them.
    if (!inbuf_.empty()) co_return error{errc::unavailable, "server sent data after the STARTTLS reply"};
    if (auto e = co_await stream_.start_tls(server_name, options.verify_certificate, options.timeout); !e.ok())
      co_return timed_out(e);
    // Capabilities learnt in clear are discarded (RFC 3501 6.2.1).
    if (auto e = co_await refresh_capabilities_direct(); !e.ok()) co_return timed_out(e);
  }
  if (guard.expired()) co_return timed_out(error{});

  open_ = true;
  asio::co_spawn(executor_, [self = shared_from_this()] { return self->read_loop(); }, asio::detached);
  co_return error::none();
}

awaitable<void> client::read_loop() {
  // Bytes read before the reader started (greeting phase) are parsed first.
  net::read_buffer carry(std::move(inbuf_));  // small while idle, grows for downloads
  inbuf_.clear();
  std::string_view view = carry.data();
  for (;;) {
    while (!view.empty()) {
      auto r = parser_.feed(view);
      view.remove_prefix(r.consumed);
      if (r.status == parse_status::complete) {
        dispatch(parser_.take(), parser_.cost());
        if (!open_) co_return;
      } else if (r.status == parse_status::fatal_error) {
        connection_lost(error{errc::unavailable, "protocol error from server: " + parser_.error()});
        co_return;
      }
    }
    error_code ec;
    std::size_t n = co_await stream_.read_some(carry.prepare(), ec);
    if (ec) {
      std::string why = !bye_text_.empty()     ? "server closed the connection: BYE " + bye_text_
                        : ec == asio::error::eof ? std::string("server closed the connection")
                                                 : "connection lost: " + ec.message();
      connection_lost(error{errc::unavailable, why});
      co_return;
    }
    view = carry.commit(n);
  }
}

std::shared_ptr<client::pending_command> client::owner_of(const response& r) const {
  if (in_flight_.empty()) return nullptr;
  if (r.type == response_type::tagged) {
    for (const auto& cmd : in_flight_) {
      if (cmd->tag == r.tag) return cmd;
    }
    return nullptr;
  }
  if (r.type == response_type::continuation) return in_flight_.front();  // only alone commands get one
  std::vector<const command_route*> routes;
  routes.reserve(in_flight_.size());
  for (const auto& cmd : in_flight_) routes.push_back(&cmd->route);
  return in_flight_[route_response(r, routes)];
}

void client::dispatch(response r, std::size_t cost) {
  if (auto caps = capabilities_of(r); !caps.empty()) capabilities_ = std::move(caps);
  if (r.type == response_type::untagged && r.status == "BYE") bye_text_ = r.text;
  auto cmd = owner_of(r);
  if (!cmd) {
    if (r.type == response_type::tagged) {
      // A tag we never sent (or already answered): the stream cannot be trusted.
      connection_lost(error{errc::unavailable, "protocol error from server: a reply to an unknown tag"});
    }
    return;  // unsolicited data while idle (EXISTS, EXPUNGE, ...): nothing listens yet
  }
  if (r.type == response_type::tagged) {
    cmd->done = std::move(r);
    cmd->wake.cancel();
  } else if (r.type == response_type::continuation) {
    cmd->continuations.push_back(r.text);
    cmd->wake.cancel();
  } else if (cmd->wake_on_untagged) {
    // IDLE: looked at, kept only if it ends the IDLE (and few of those).
    if (cmd->stop_on && cmd->stop_on(r)) {
      cmd->stop_seen = true;
      if (cmd->untagged.size() < max_idle_kept) cmd->untagged.push_back(std::move(r));
    }
    cmd->wake.cancel();
  } else {
    if (cost > limits_.max_pending_bytes - std::min(pending_bytes_, limits_.max_pending_bytes)) {
      connection_lost(too_much_pending());
      return;
    }
    pending_bytes_ += cost;
    cmd->held += cost;
    cmd->untagged.push_back(std::move(r));
  }
}

void client::connection_lost(error why) {
  const bool expected = closing_ || !open_;
  open_ = false;
  stream_.close();
  for (const auto& cmd : in_flight_) {
    cmd->failure = why;
    cmd->wake.cancel();
  }
  for (auto& waiter : turn_waiters_) waiter->cancel();
  turn_waiters_.clear();
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
  while (writing_) {
    auto turn = std::make_shared<asio::steady_timer>(executor_, std::chrono::steady_clock::time_point::max());
    write_waiters_.push_back(turn);
    error_code ignored;
    co_await turn->async_wait(redirect_error(use_awaitable, ignored));
  }
  writing_ = true;
  error_code ec;
  co_await stream_.write(line + "\r\n", timeout, ec);
  writing_ = false;
  if (!write_waiters_.empty()) {
    write_waiters_.front()->cancel();
    write_waiters_.erase(write_waiters_.begin());
  }
  if (ec) co_return error{errc::unavailable, "write to server failed: " + ec.message()};
  ++commands_sent_;
  co_return error::none();
}

result<std::shared_ptr<client::pending_command>> client::start_command(const std::string& command, bool alone) {
  if (!in_flight_.empty() && (alone || in_flight_.front()->alone)) {
    return error{errc::internal, "a command that must run alone (AUTHENTICATE, IDLE) and another one overlap"};
  }
  auto cmd = std::make_shared<pending_command>(executor_);
  cmd->tag = tags_.next();
  cmd->route = route_of(command);
  cmd->alone = alone;
  in_flight_.push_back(cmd);
  return cmd;
}

void client::finish_command(const std::shared_ptr<pending_command>& cmd) {
  if (std::erase(in_flight_, cmd) > 0) {
    pending_bytes_ -= std::min(pending_bytes_, cmd->held);
    cmd->held = 0;
  }
  // Commands that waited for this one to end may go now (they re-check).
  for (auto& waiter : turn_waiters_) waiter->cancel();
  turn_waiters_.clear();
}

bool client::conflicts(const command_route& route) const {
  return std::any_of(in_flight_.begin(), in_flight_.end(),
                     [&](const auto& cmd) { return answers_could_mix(cmd->route, route); });
}

awaitable<result<std::shared_ptr<client::pending_command>>> client::begin_command(const std::string& command,
                                                                                 bool alone) {
  const auto route = route_of(command);
  // Answers that could not be told apart would be: wait for the earlier command.
  while (is_open() && !alone && conflicts(route)) {
    auto turn = std::make_shared<asio::steady_timer>(executor_, std::chrono::steady_clock::time_point::max());
    turn_waiters_.push_back(turn);
    error_code ignored;
    co_await turn->async_wait(redirect_error(use_awaitable, ignored));
  }
  if (!is_open()) co_return error{errc::unavailable, "connection is not open"};
  co_return start_command(command, alone);
}

awaitable<result<command_result>> client::await_reply(std::shared_ptr<pending_command> cmd, std::string command,
                                                      std::chrono::steady_clock::time_point deadline,
                                                      std::chrono::milliseconds timeout,
                                                      continuation_fn on_continuation) {
  int answered = 0;
  for (;;) {
    if (cmd->done) {
      command_result out{cmd->done->status, cmd->done->code, cmd->done->text, cmd->done->code_text,
                         std::move(cmd->untagged)};
      co_return out;
    }
    if (cmd->failure) co_return *cmd->failure;
    if (!cmd->continuations.empty()) {
      std::string text = std::move(cmd->continuations.front());
      cmd->continuations.erase(cmd->continuations.begin());
      // Without a handler, answer with an empty line: that cancels SASL exchanges.
      std::string reply = on_continuation ? on_continuation(text, answered++) : std::string();
      if (auto e = co_await write_line(reply, timeout); !e.ok()) {
        close(e);
        co_return e;
      }
      continue;
    }
    error_code ec;
    cmd->wake.expires_at(deadline);
    co_await cmd->wake.async_wait(redirect_error(use_awaitable, ec));
    if (!ec && !cmd->done && !cmd->failure && cmd->continuations.empty()) {
      error e{errc::deadline_exceeded, "server did not answer '" + command.substr(0, command.find(' ')) +
                                           "' within " + std::to_string(timeout.count()) + " ms"};
      close(e);
      co_return e;
    }
  }
}

namespace {
// Takes a command off the in-flight list however its coroutine ends. Move-only.
template <class Client, class Cmd>
struct in_flight_guard {
  in_flight_guard(Client* s, Cmd c) : self(s), cmd(std::move(c)) {}
  in_flight_guard(in_flight_guard&& other) noexcept : self(other.self), cmd(std::move(other.cmd)) { other.cmd = nullptr; }
  in_flight_guard(const in_flight_guard&) = delete;
  in_flight_guard& operator=(const in_flight_guard&) = delete;
  in_flight_guard& operator=(in_flight_guard&&) = delete;
  ~in_flight_guard() {
    if (cmd) self->finish_command(cmd);
  }
  Client* self;
  Cmd cmd;
};
}  // namespace

awaitable<result<command_result>> client::execute(std::string command, std::chrono::milliseconds timeout,
                                                  continuation_fn on_continuation) {
  if (!is_open()) co_return error{errc::unavailable, "connection is not open"};
  auto started = co_await begin_command(command, static_cast<bool>(on_continuation));
  if (!started) co_return started.err();
  in_flight_guard<client, std::shared_ptr<pending_command>> guard{this, std::move(started.value())};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (auto e = co_await write_line(guard.cmd->tag + " " + command, timeout); !e.ok()) {
    close(e);
    co_return e;
  }
  const bool mutation = changes_mailbox(command);
  auto r = co_await await_reply(guard.cmd, command, deadline, timeout, std::move(on_continuation));
  if (!r && mutation) co_return outcome_unknown(r.err(), command);
  co_return r;
}

awaitable<result<std::vector<command_result>>> client::execute_all(std::vector<std::string> commands,
                                                                   std::chrono::milliseconds timeout) {
  if (!is_open()) co_return error{errc::unavailable, "connection is not open"};
  for (std::size_t i = 0; i < commands.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (answers_could_mix(route_of(commands[j]), route_of(commands[i]))) {
        co_return error{errc::internal, "execute_all: '" + commands[i].substr(0, commands[i].find(' ')) +
                                            "' cannot be pipelined with '" +
                                            commands[j].substr(0, commands[j].find(' ')) + "'"};
      }
    }
  }
  std::vector<in_flight_guard<client, std::shared_ptr<pending_command>>> guards;
  guards.reserve(commands.size());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Once a command that changes the mailbox is written, a failure leaves the call's
  // outcome unknown (even if its own reply came: the caller gets no results).
  const std::string* mutation = nullptr;
  auto failed = [&mutation](const error& e) { return mutation ? outcome_unknown(e, *mutation) : e; };
  // Every line is written before any answer is awaited: one round trip for them all.
  for (const auto& command : commands) {
    auto started = co_await begin_command(command, false);
    if (!started) co_return failed(started.err());
    guards.emplace_back(this, std::move(started.value()));
    if (auto e = co_await write_line(guards.back().cmd->tag + " " + command, timeout); !e.ok()) {
      close(e);
      co_return failed(e);
    }
    if (!mutation && changes_mailbox(command)) mutation = &command;
  }
  std::vector<command_result> out;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    auto r = co_await await_reply(guards[i].cmd, commands[i], deadline, timeout, {});
    if (!r) co_return failed(r.err());
    out.push_back(std::move(r.value()));
  }
  co_return out;
}

awaitable<result<command_result>> client::idle(std::chrono::milliseconds max_duration,
                                               std::chrono::milliseconds timeout,
                                               std::function<bool(const response&)> stop_on) {
  if (!is_open()) co_return error{errc::unavailable, "connection is not open"};
  if (!in_flight_.empty()) co_return error{errc::internal, "IDLE while other commands are in flight"};
  auto started = start_command("IDLE", true);
  if (!started) co_return started.err();
  auto cmd = std::move(started.value());
  cmd->wake_on_untagged = true;
  cmd->stop_on = std::move(stop_on);
  idle_interrupted_ = false;
  struct clear_pending {
    client* self;
    std::shared_ptr<pending_command> cmd;
    ~clear_pending() { self->finish_command(cmd); }
  } clear{this, cmd};

  auto timed_out = [this](const char* what, std::chrono::milliseconds t) {
    error e{errc::deadline_exceeded, std::string("server did not answer ") + what + " within " +
                                         std::to_string(t.count()) + " ms"};
    close(e);
    return e;
  };
  auto finished = [&cmd]() -> command_result {
    return {cmd->done->status, cmd->done->code, cmd->done->text, cmd->done->code_text, std::move(cmd->untagged)};
  };

  if (auto e = co_await write_line(cmd->tag + " IDLE", timeout); !e.ok()) {
    close(e);
    co_return e;
  }
  // The server accepts with a continuation ("+ idling") or refuses with NO/BAD.
  const auto confirm_by = std::chrono::steady_clock::now() + timeout;
  while (cmd->continuations.empty() && !cmd->done && !cmd->failure) {
    error_code ec;
    cmd->wake.expires_at(confirm_by);
    co_await cmd->wake.async_wait(redirect_error(use_awaitable, ec));
    if (!ec && cmd->continuations.empty() && !cmd->done && !cmd->failure) co_return timed_out("IDLE", timeout);
  }
  if (cmd->failure) co_return *cmd->failure;
  if (cmd->done) co_return finished();
  cmd->continuations.clear();

  const auto idle_until = std::chrono::steady_clock::now() + max_duration;
  for (;;) {
    if (cmd->failure) co_return *cmd->failure;
    if (cmd->done) co_return finished();  // the server ended IDLE itself
    if (idle_interrupted_ || cmd->stop_seen || std::chrono::steady_clock::now() >= idle_until) break;
    error_code ec;
    cmd->wake.expires_at(idle_until);
    co_await cmd->wake.async_wait(redirect_error(use_awaitable, ec));
  }

  if (auto e = co_await write_line("DONE", timeout); !e.ok()) {
    close(e);
    co_return e;
  }
  const auto done_by = std::chrono::steady_clock::now() + timeout;
  while (!cmd->done && !cmd->failure) {
    error_code ec;
    cmd->wake.expires_at(done_by);
    co_await cmd->wake.async_wait(redirect_error(use_awaitable, ec));
    if (!ec && !cmd->done && !cmd->failure) co_return timed_out("DONE", timeout);
  }
  if (cmd->failure) co_return *cmd->failure;
  co_return finished();
}

void client::interrupt_idle() {
  idle_interrupted_ = true;
  for (const auto& cmd : in_flight_) {
    if (cmd->wake_on_untagged) cmd->wake.cancel();
  }
}

awaitable<error> client::login(const std::string& user, const std::string& password) {
  if (preauth_) co_return error::none();
  const bool plain = has_capability(capabilities_, "AUTH=PLAIN");
  const bool login_disabled = has_capability(capabilities_, "LOGINDISABLED");
  const auto timeout = std::chrono::seconds(30);
  result<command_result> r = error{};
  if (plain) {
    const std::string initial = sasl::plain_initial_response("", user, password);
    if (has_capability(capabilities_, "SASL-IR")) {
      r = co_await execute("AUTHENTICATE PLAIN " + initial, timeout);
    } else {
      r = co_await execute("AUTHENTICATE PLAIN", timeout,
                           [&initial](const std::string&, int index) { return index == 0 ? initial : ""; });
    }
  } else if (login_disabled) {
    co_return error{errc::failed_precondition,
                    "server advertises LOGINDISABLED and no AUTH=PLAIN (use TLS_MODE_IMPLICIT or STARTTLS)"};
  } else {
    auto quoted_user = astring(user);
    auto quoted_password = astring(password);
    if (!quoted_user || !quoted_password) {
      co_return error{errc::failed_precondition,
                      "user name or password contains characters LOGIN cannot carry and the server "
                      "offers no AUTH=PLAIN"};
    }
    r = co_await execute("LOGIN " + *quoted_user + " " + *quoted_password, timeout);
  }
  if (!r) co_return r.err();
  if (r->status == "OK") {
    // Capabilities change after login; Dovecot sends the new ones in the OK, others
    // must be asked.
    if (r->code != "CAPABILITY") {
      auto caps = co_await execute("CAPABILITY", timeout);
      if (!caps) co_return caps.err();
    }
    co_return error::none();
  }
  const std::string reason = describe(r->status, r->code, r->text);
  if (r->code == "UNAVAILABLE" || r->code == "INUSE" || r->code == "LIMIT") {
    co_return error{errc::unavailable, "login temporarily refused for user '" + user + "': " + reason};
  }
  co_return error{errc::unauthenticated, "server rejected login for user '" + user + "': " + reason};
}

awaitable<result<std::string>> client::authenticate_oauth(const std::string& user, const std::string& access_token) {
  std::string mechanism;
  std::string initial;
  if (has_capability(capabilities_, "AUTH=OAUTHBEARER")) {
    mechanism = "OAUTHBEARER";
    initial = sasl::oauthbearer_initial_response(user, access_token);
  } else if (has_capability(capabilities_, "AUTH=XOAUTH2")) {
    mechanism = "XOAUTH2";
    initial = sasl::xoauth2_initial_response(user, access_token);
  } else {
    co_return error{errc::failed_precondition,
                    "the server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2: it cannot take OAuth2 tokens"};
  }
  const bool sasl_ir = has_capability(capabilities_, "SASL-IR");
  std::string challenge;  // the server's error report, if it rejects the token
  auto on_continuation = [&](const std::string& text, int index) -> std::string {
    if (!sasl_ir && index == 0) return initial;
    challenge = text;
    // The error challenge must be answered before the server says NO: OAUTHBEARER with
    // a single %x01 (RFC 7628 3.2.3), XOAUTH2 with an empty response (Google's spec).
    return mechanism == "OAUTHBEARER" ? std::string("AQ==") : std::string();
  };
  // Built outside the co_await: g++ 12 destroys temporaries of a conditional expression
  // inside co_await twice (a double free seen here).
  std::string command = "AUTHENTICATE " + mechanism;
  if (sasl_ir) command += " " + initial;
  auto r = co_await execute(std::move(command), std::chrono::seconds(30), on_continuation);
  std::fill(initial.begin(), initial.end(), '\0');
  if (!r) co_return r.err();
  if (r->status == "OK") {
    if (r->code != "CAPABILITY") {
      auto caps = co_await execute("CAPABILITY", std::chrono::seconds(30));
      if (!caps) co_return caps.err();
    }
    co_return mechanism;
  }
  std::string reason = describe(r->status, r->code, r->text);
  if (!challenge.empty()) {
    if (auto parsed = sasl::parse_oauth_error_challenge(challenge)) reason += " (" + sasl::describe(*parsed) + ")";
  }
  if (r->code == "UNAVAILABLE") {
    co_return error{errc::unavailable, mechanism + " login temporarily refused for user '" + user + "': " + reason};
  }
  co_return error{errc::unauthenticated, "server rejected the OAuth2 token (" + mechanism + ") for user '" + user +
                                             "': " + reason};
}

awaitable<error> client::noop(std::chrono::milliseconds timeout) {
  auto r = co_await execute("NOOP", timeout);
  if (!r) co_return r.err();
  if (r->status != "OK") co_return error{errc::unavailable, "NOOP failed: " + describe(r->status, r->code, r->text)};
  co_return error::none();
}

awaitable<void> client::logout(std::chrono::milliseconds timeout) {
  if (is_open()) {
    closing_ = true;
    // No TLS close_notify exchange: the reader's read is still pending and a TLS
    // stream allows one read at a time. The server closes after its LOGOUT reply.
    (void)co_await execute("LOGOUT", timeout);
  }
  closing_ = true;
  open_ = false;
  stream_.close();
}

}  // namespace mailbroker::imap
