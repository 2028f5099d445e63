#include "protocol/smtp/client.hpp"

#include <array>
#include <initializer_list>

#include "common/text.hpp"
#include "protocol/smtp/command.hpp"
#include "protocol/smtp/dot_stuffer.hpp"
#include "sasl/oauth.hpp"
#include "sasl/plain.hpp"

namespace mailbroker::smtp {
namespace {

// RFC 4954 4: an AUTH command with its initial response may be 12288 octets long.
constexpr std::size_t max_auth_line = 12288;

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

std::string enhanced_string(const reply& r) {
  if (!r.enhanced) return {};
  return std::to_string(r.enhanced->klass) + "." + std::to_string(r.enhanced->subject) + "." +
         std::to_string(r.enhanced->detail);
}

std::string reply_text(const reply& r) {
  std::string joined;
  for (const auto& line : r.lines) {
    if (!joined.empty()) joined += ' ';
    joined += line;
  }
  return clean_text(joined, 400);
}

// "550 5.1.1 Mailbox unavailable": safe to log and to return.
std::string describe(const reply& r) {
  std::string out = std::to_string(r.code);
  if (auto e = enhanced_string(r); !e.empty()) out += " " + e;
  if (auto t = reply_text(r); !t.empty()) out += " " + t;
  return out;
}

// Servers may echo what they could not decode; a secret must not travel on in our
// error messages even then.
std::string scrub(std::string text, std::initializer_list<std::string_view> secrets) {
  for (auto secret : secrets) {
    if (secret.empty()) continue;
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3)) {
      text.replace(pos, secret.size(), "***");
    }
  }
  return text;
}

bool has_8bit(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// The size on the wire after dot_stuffer's CRLF normalisation, without the stuffed
// dots and the terminator: what RFC 1870 asks SIZE= to estimate.
std::uint64_t wire_size(std::string_view message) {
  std::uint64_t n = 0;
  bool after_cr = false;
  bool at_line_start = true;
  for (char c : message) {
    if (c == '\n') {
      if (!after_cr) n += 2;
      after_cr = false;
      at_line_start = true;
    } else if (c == '\r') {
      n += 2;
      after_cr = true;
      at_line_start = true;
    } else {
      ++n;
      after_cr = false;
      at_line_start = false;
    }
  }
  return at_line_start ? n : n + 2;
}

// A refusal of MAIL, DATA or the message: 4xx is worth a retry, 5xx is not.
error refusal(const std::string& what, const reply& r) {
  return {r.is_transient() ? errc::unavailable : errc::failed_precondition,
          "SMTP server refused " + what + ": " + describe(r)};
}

error not_open() { return {errc::unavailable, "SMTP connection is not open"}; }
error busy() { return {errc::internal, "another call on this SMTP connection is in progress"}; }

}  // namespace

// One public call: marks the client busy and closes the stream when `timeout`
// expires, which makes the pending read or write fail at once.
class client::call_scope {
 public:
  call_scope(client& c, std::chrono::milliseconds timeout)
      : client_(c), timeout_(timeout), guard_(c.executor_, timeout, [&c] { c.stream_.close(); }) {
    client_.busy_ = true;
  }
  ~call_scope() { client_.busy_ = false; }
  call_scope(const call_scope&) = delete;
  call_scope& operator=(const call_scope&) = delete;

  bool expired() const { return guard_.expired(); }

  // An I/O failure during `what`: the connection is gone either way.
  error fail(const error& e, const std::string& what) {
    client_.drop();
    if (guard_.expired()) {
      return {errc::deadline_exceeded, "SMTP server did not complete " + what + " within " + ms(timeout_)};
    }
    return {e.code, what + ": " + e.message};
  }

 private:
  client& client_;
  std::chrono::milliseconds timeout_;
  net::deadline_guard guard_;
};

client::client(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context)
    : executor_(executor), stream_(executor, std::move(tls_context)) {}

client::~client() { stream_.close(); }

void client::drop() {
  open_ = false;
  stream_.close();
  inbuf_.clear();
  parser_.reset();
}

void client::close(const error& why) {
  (void)why;  // nothing waits in the background to be told
  drop();
}

awaitable<result<reply>> client::read_reply() {
  std::array<char, 4096> chunk{};
  for (;;) {
    if (!inbuf_.empty()) {
      auto r = parser_.feed(inbuf_);
      inbuf_.erase(0, r.consumed);
      if (r.status == parse_status::complete) co_return parser_.take();
      // Every command has exactly one reply: skipping a malformed one would answer
      // the next command with the wrong reply, so both kinds of error end the session.
      if (r.status != parse_status::need_more) {
        co_return error{errc::unavailable, "protocol error from SMTP server: " + parser_.error()};
      }
    }
    error_code ec;
    const std::size_t n = co_await stream_.read_some(asio::buffer(chunk), ec);
    if (ec) {
      co_return error{errc::unavailable, ec == asio::error::eof ? std::string("SMTP server closed the connection")
                                                                 : "read from SMTP server failed: " + ec.message()};
    }
    inbuf_.append(chunk.data(), n);
  }
}

awaitable<error> client::write(std::string data, std::chrono::milliseconds timeout) {
  error_code ec;
  co_await stream_.write(data, timeout, ec);
  if (ec) co_return error{errc::unavailable, "write to SMTP server failed: " + ec.message()};
  co_return error::none();
}

awaitable<result<reply>> client::command(std::string line, std::chrono::milliseconds timeout) {
  if (auto e = co_await write(std::move(line), timeout); !e.ok()) co_return e;
  ++commands_sent_;
  auto r = co_await read_reply();
  // 421: the server is closing the transmission channel (RFC 5321 3.8).
  if (r && r->code == 421) drop();
  co_return r;
}

awaitable<error> client::hello(std::string domain, std::chrono::milliseconds timeout) {
  auto ehlo = ehlo_command(domain);
  if (!ehlo) co_return error{errc::invalid_argument, "connect_options.helo_" + ehlo.err().message};
  auto r = co_await command(std::move(*ehlo), timeout);
  if (!r) co_return r.err();
  if (r->code == 250) {
    auto caps = parse_ehlo(*r);
    if (!caps) co_return error{errc::unavailable, "unusable EHLO reply: " + caps.err().message};
    caps_ = std::move(*caps);
    parser_.enhanced_status_codes(caps_.enhanced_status_codes);
    co_return error::none();
  }
  if (!r->is_permanent()) co_return error{errc::unavailable, "SMTP server refused EHLO: " + describe(*r)};
  // An RFC 821 server: HELO, and no extensions at all.
  auto helo = helo_command(domain);
  if (!helo) co_return helo.err();
  auto h = co_await command(std::move(*helo), timeout);
  if (!h) co_return h.err();
  if (h->code != 250) co_return error{errc::unavailable, "SMTP server refused EHLO and HELO: " + describe(*h)};
  caps_ = {};
  if (!h->lines.empty()) caps_.domain = h->lines.front().substr(0, h->lines.front().find(' '));
  parser_.enhanced_status_codes(false);
  co_return error::none();
}

awaitable<error> client::open(connect_options options) {
  if (busy_) co_return busy();
  if (open_) co_return error{errc::failed_precondition, "SMTP connection is already open"};
  const std::string server_name = options.tls_server_name.empty() ? options.host : options.tls_server_name;
  const std::string where = options.host + ":" + std::to_string(options.port);
  auth_timeout_ = options.timeout;
  call_scope scope(*this, options.timeout);
  auto failed = [&](const error& e) {
    drop();
    if (scope.expired()) {
      return error{errc::unavailable, "no complete SMTP handshake from " + where + " within " + ms(options.timeout)};
    }
    return e;
  };

  stream_.set_dead_peer_timeout(options.dead_peer_timeout);
  stream_.set_trace(options.trace);
  if (auto e = co_await stream_.connect(options.host, options.port, options.timeout); !e.ok()) co_return failed(e);
  if (options.tls == tls_mode::implicit) {
    if (auto e = co_await stream_.start_tls(server_name, options.verify_certificate, options.timeout); !e.ok())
      co_return failed(e);
  }
  auto greeting = co_await read_reply();
  if (!greeting) co_return failed(greeting.err());
  if (greeting->code != 220) {
    co_return failed(error{errc::unavailable, "SMTP server " + where + " refused the connection: " + describe(*greeting)});
  }
  greeting_ = reply_text(*greeting);
  if (auto e = co_await hello(options.helo_domain, options.timeout); !e.ok()) co_return failed(e);

  if (options.tls == tls_mode::starttls) {
    if (!caps_.starttls) {
      co_return failed(error{errc::failed_precondition,
                             "server.tls_mode STARTTLS: " + where +
                                 " does not offer STARTTLS (use TLS_MODE_IMPLICIT on the submissions port 465)"});
    }
    auto r = co_await command(starttls_command(), options.timeout);
    if (!r) co_return failed(r.err());
    if (r->code != 220) co_return failed(error{errc::failed_precondition, "STARTTLS refused: " + describe(*r)});
    // Bytes that came with the 220 were sent in clear and could have been injected
    // (CVE-2011-0411 class): refuse rather than read them as TLS-protected replies.
    if (!inbuf_.empty()) co_return failed(error{errc::unavailable, "SMTP server sent data after the STARTTLS reply"});
    if (auto e = co_await stream_.start_tls(server_name, options.verify_certificate, options.timeout); !e.ok())
      co_return failed(e);
    // What was learnt in clear is forgotten (RFC 3207 4.2).
    caps_ = {};
    parser_.reset();
    if (auto e = co_await hello(options.helo_domain, options.timeout); !e.ok()) co_return failed(e);
  }
  if (scope.expired()) co_return failed(error{});
  open_ = true;
  co_return error::none();
}

awaitable<result<reply>> client::authenticate(std::string first_line, std::vector<std::string> answers,
                                              std::string error_answer, std::string* challenge,
                                              std::chrono::milliseconds timeout) {
  auto r = co_await command(std::move(first_line), timeout);
  std::size_t answered = 0;
  bool error_answered = false;
  bool cancelled = false;
  while (r && r->code == 334) {
    if (cancelled) co_return error{errc::unavailable, "SMTP server kept sending AUTH challenges after a cancel"};
    std::string next;
    if (answered < answers.size()) {
      next = std::move(answers[answered++]);
    } else if (!error_answered) {
      // More challenges than the mechanism has steps: the server reports a failure
      // (the OAuth JSON error) and waits for our answer before its final reply.
      if (challenge != nullptr && !r->lines.empty()) *challenge = r->lines.front();
      next = error_answer;
      error_answered = true;
    } else {
      next = sasl_cancel();
      cancelled = true;
    }
    r = co_await command(std::move(next), timeout);
  }
  co_return r;
}

awaitable<error> client::login(std::string user, std::string password) {
  if (busy_) co_return busy();
  if (!is_open()) co_return not_open();
  std::string mechanism;
  std::string first_line;
  std::string initial;
  std::vector<std::string> answers;
  if (caps_.has_auth("PLAIN")) {
    mechanism = "PLAIN";
    initial = sasl::plain_initial_response("", user, password);
    first_line = "AUTH PLAIN " + initial + "\r\n";
    if (first_line.size() > max_auth_line) {
      co_return error{errc::invalid_argument, "user name and password are too long for AUTH PLAIN"};
    }
  } else if (caps_.has_auth("LOGIN")) {
    mechanism = "LOGIN";
    first_line = "AUTH LOGIN\r\n";
    answers.push_back(sasl_response(user));
    answers.push_back(sasl_response(password));
  } else {
    std::string offered;
    for (const auto& m : caps_.auth) offered += " " + m;
    std::string hint = offered.empty() ? " (it offers no AUTH at all" : " (it offers:" + offered;
    if (caps_.starttls && !tls_active()) hint += "; use STARTTLS or implicit TLS";
    co_return error{errc::failed_precondition, "SMTP server offers neither AUTH PLAIN nor AUTH LOGIN" + hint + ")"};
  }
  call_scope scope(*this, auth_timeout_);
  const std::string what = "AUTH " + mechanism;
  std::string cancel = sasl_cancel();
  auto r = co_await authenticate(std::move(first_line), std::move(answers), std::move(cancel), nullptr, auth_timeout_);
  if (!r) co_return scope.fail(r.err(), what);
  if (r->code == 235) co_return error::none();
  const std::string reason = scrub(describe(*r), {password, initial});
  if (r->is_transient()) {
    co_return error{errc::unavailable, "login temporarily refused for user '" + user + "' (" + what + "): " + reason};
  }
  co_return error{errc::unauthenticated, "SMTP server rejected login for user '" + user + "' (" + what + "): " + reason};
}

awaitable<result<std::string>> client::authenticate_oauth(std::string user, std::string access_token) {
  if (busy_) co_return busy();
  if (!is_open()) co_return not_open();
  std::string mechanism;
  std::string initial;
  std::string error_answer;
  if (caps_.has_auth("OAUTHBEARER")) {
    mechanism = "OAUTHBEARER";
    initial = sasl::oauthbearer_initial_response(user, access_token);
    error_answer = "AQ==\r\n";  // a single %x01 (RFC 7628 3.2.3)
  } else if (caps_.has_auth("XOAUTH2")) {
    mechanism = "XOAUTH2";
    initial = sasl::xoauth2_initial_response(user, access_token);
    error_answer = "\r\n";  // an empty response (Google's XOAUTH2 protocol)
  } else {
    co_return error{errc::failed_precondition,
                    "SMTP server offers neither AUTH OAUTHBEARER nor AUTH XOAUTH2: it cannot take OAuth2 tokens"};
  }
  std::string first_line = "AUTH " + mechanism + " " + initial + "\r\n";
  std::vector<std::string> answers;
  if (first_line.size() > max_auth_line) {
    // Too long for an initial response: send it as the answer to the empty 334.
    first_line = "AUTH " + mechanism + "\r\n";
    answers.push_back(initial + "\r\n");
  }
  call_scope scope(*this, auth_timeout_);
  std::string challenge;
  auto r = co_await authenticate(std::move(first_line), std::move(answers), std::move(error_answer), &challenge,
                                 auth_timeout_);
  if (!r) co_return scope.fail(r.err(), "AUTH " + mechanism);
  if (r->code == 235) co_return mechanism;
  std::string reason = scrub(describe(*r), {access_token, initial});
  if (!challenge.empty()) {
    if (auto parsed = sasl::parse_oauth_error_challenge(challenge)) reason += " (" + sasl::describe(*parsed) + ")";
  }
  if (r->is_transient()) {
    co_return error{errc::unavailable, mechanism + " login temporarily refused for user '" + user + "': " + reason};
  }
  co_return error{errc::unauthenticated,
                  "SMTP server rejected the OAuth2 token (" + mechanism + ") for user '" + user + "': " + reason};
}

awaitable<void> client::reset_after_refusal(std::chrono::milliseconds timeout) {
  if (!is_open()) co_return;  // a 421 already closed it
  auto r = co_await command(rset_command(), timeout);
  // Without a clean RSET the server's transaction state is unknown: do not reuse.
  if (!r || r->code != 250) drop();
}

awaitable<result<send_result>> client::send(envelope env, std::string message, std::chrono::milliseconds timeout) {
  if (busy_) co_return busy();
  if (!is_open()) co_return not_open();
  if (env.recipients.empty()) {
    co_return error{errc::invalid_argument, "envelope.recipients is empty: give at least one recipient"};
  }
  // Checks that need no server round trip come first, so a refusal sends nothing.
  auto field_of = [](std::size_t i) { return "recipient " + std::to_string(i + 1); };
  bool smtputf8 = has_8bit(env.from);
  for (const auto& r : env.recipients) smtputf8 = smtputf8 || has_8bit(r);
  if (smtputf8 && !caps_.smtputf8) {
    std::string field = "sender";
    std::string address = env.from;
    if (!has_8bit(env.from)) {
      for (std::size_t i = 0; i < env.recipients.size(); ++i) {
        if (has_8bit(env.recipients[i])) {
          field = field_of(i);
          address = env.recipients[i];
          break;
        }
      }
    }
    co_return error{errc::invalid_argument, field + " '" + clean_text(address, 300) +
                                                "' has non-ASCII characters but the SMTP server does not offer "
                                                "SMTPUTF8 (use an ASCII address)"};
  }
  if (!env.from.empty()) {
    if (auto e = check_address(env.from, smtputf8, "envelope.from"); !e.ok()) co_return e;
  }
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    if (auto e = check_address(env.recipients[i], smtputf8, "envelope " + field_of(i)); !e.ok()) co_return e;
  }
  const bool eight_bit = has_8bit(message);
  if (eight_bit && !caps_.eightbitmime) {
    co_return error{errc::failed_precondition,
                    "message has 8-bit bytes but the SMTP server does not offer 8BITMIME (encode non-ASCII "
                    "parts as quoted-printable or base64)"};
  }
  const std::uint64_t size = wire_size(message);
  if (caps_.size && *caps_.size > 0 && size > *caps_.size) {
    co_return error{errc::failed_precondition, "message is " + std::to_string(size) +
                                                   " bytes but the SMTP server accepts at most " +
                                                   std::to_string(*caps_.size) + " (SIZE)"};
  }
  std::string encoded;
  encoded.reserve(size + size / 64 + 8);
  {
    dot_stuffer stuffer;
    stuffer.feed(message, encoded);
    stuffer.finish(encoded);
  }
  message.clear();
  message.shrink_to_fit();

  call_scope scope(*this, timeout);
  mail_parameters params;
  if (caps_.size) params.size = size;
  params.body_8bitmime = eight_bit;
  params.smtputf8 = smtputf8;
  auto mail_line = mail_command(env.from, params);
  if (!mail_line) co_return mail_line.err();
  auto mail = co_await command(std::move(*mail_line), timeout);
  if (!mail) co_return scope.fail(mail.err(), "MAIL FROM");
  if (!mail->is_completion()) {
    co_await reset_after_refusal(timeout);
    co_return refusal("MAIL FROM:<" + clean_text(env.from, 300) + ">", *mail);
  }

  send_result out;
  bool any_accepted = false;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    auto line = rcpt_command(env.recipients[i], smtputf8, field_of(i));
    if (!line) co_return line.err();
    auto r = co_await command(std::move(*line), timeout);
    if (!r) co_return scope.fail(r.err(), "RCPT TO");
    recipient_result rr;
    rr.address = env.recipients[i];
    rr.code = r->code;
    rr.enhanced_code = enhanced_string(*r);
    rr.text = reply_text(*r);
    rr.accepted = r->is_completion();
    any_accepted = any_accepted || rr.accepted;
    out.recipients.push_back(std::move(rr));
    if (!is_open()) co_return error{errc::unavailable, "SMTP server closed the connection: " + describe(*r)};
  }
  if (!any_accepted) {
    co_await reset_after_refusal(timeout);
    std::string list;
    for (const auto& rr : out.recipients) {
      if (!list.empty()) list += "; ";
      list += "<" + clean_text(rr.address, 300) + "> " + std::to_string(rr.code);
      if (!rr.enhanced_code.empty()) list += " " + rr.enhanced_code;
      if (!rr.text.empty()) list += " " + rr.text;
    }
    co_return error{errc::failed_precondition, "SMTP server accepted no recipient: " + list};
  }

  auto data = co_await command(data_command(), timeout);
  if (!data) co_return scope.fail(data.err(), "DATA");
  if (data->code != 354) {
    co_await reset_after_refusal(timeout);
    co_return refusal("DATA", *data);
  }
  // A failed write left the final "." unsent: the server cannot have accepted it.
  if (auto e = co_await write(std::move(encoded), timeout); !e.ok()) co_return scope.fail(e, "DATA");
  auto done = co_await read_reply();
  if (!done) {
    const error e = scope.fail(done.err(), "DATA");
    co_return error{errc::aborted,
                    "outcome unknown: the message was sent up to its final \".\" but the server's reply never "
                    "came (" + e.message + "); it may have been accepted: check the recipients' mailbox or the "
                    "Sent folder before retrying"};
  }
  if (!done->is_completion()) {
    if (done->code == 421) drop();
    co_await reset_after_refusal(timeout);
    co_return refusal("the message", *done);
  }
  out.data_code = done->code;
  out.data_text = reply_text(*done);
  co_return out;
}

awaitable<error> client::noop(std::chrono::milliseconds timeout) {
  if (busy_) co_return busy();
  if (!is_open()) co_return not_open();
  call_scope scope(*this, timeout);
  auto r = co_await command(noop_command(), timeout);
  if (!r) co_return scope.fail(r.err(), "NOOP");
  if (r->code != 250) co_return error{errc::unavailable, "SMTP server refused NOOP: " + describe(*r)};
  co_return error::none();
}

awaitable<error> client::rset(std::chrono::milliseconds timeout) {
  if (busy_) co_return busy();
  if (!is_open()) co_return not_open();
  call_scope scope(*this, timeout);
  auto r = co_await command(rset_command(), timeout);
  if (!r) co_return scope.fail(r.err(), "RSET");
  if (r->code != 250) co_return error{errc::unavailable, "SMTP server refused RSET: " + describe(*r)};
  co_return error::none();
}

awaitable<void> client::quit(std::chrono::milliseconds timeout) {
  if (busy_ || !is_open()) {
    drop();  // aborts whatever is pending
    co_return;
  }
  {
    call_scope scope(*this, timeout);
    auto r = co_await command(quit_command(), timeout);
    // No reader is pending (unlike IMAP), so the TLS close_notify can be exchanged.
    if (r && stream_.is_open()) co_await stream_.shutdown(timeout);
  }
  drop();
}

}  // namespace mailbroker::smtp
