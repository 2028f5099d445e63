#include "client/cli/format.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <chrono>
#include <ctime>

#include <google/protobuf/util/json_util.h>

namespace mailbroker::cli {
namespace {

// "TLS_MODE_IMPLICIT" -> "implicit": enum names minus the prefix the proto style
// guide forces on them.
std::string strip_prefix(const std::string& name, std::string_view prefix, bool lower) {
  std::string out = name.starts_with(prefix) ? name.substr(prefix.size()) : name;
  if (lower) {
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  return out;
}

std::string tls_summary(const pb::ServerInfo& server) {
  std::string mode = strip_prefix(pb::TlsMode_Name(server.tls_mode()), "TLS_MODE_", true);
  if (server.tls_mode() == pb::TLS_MODE_UNSPECIFIED) mode = "implicit";  // the API's default
  if (server.tls_mode() == pb::TLS_MODE_PLAIN) return "tls=plain (unencrypted)";
  return "tls=" + mode + (server.tls_verified() ? " (verified)" : " (NOT verified: insecure-skip-verify)");
}

std::string protocol_label(pb::Protocol p) {
  if (p == pb::PROTOCOL_UNSPECIFIED) return "imap";
  return strip_prefix(pb::Protocol_Name(p), "PROTOCOL_", true);
}

// Only IP v6 literals need brackets to keep "host:port" unambiguous.
std::string host_port(const std::string& host, std::uint32_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

std::string format_time(const google::protobuf::Timestamp& t, bool with_millis) {
  const std::time_t seconds = static_cast<std::time_t>(t.seconds());
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return "?";
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (n == 0) return "?";
  std::string out(buf, n);
  if (with_millis) {
    std::snprintf(buf, sizeof buf, ".%03d", t.nanos() / 1000000);
    out += buf;
  }
  return out + "Z";
}

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", value, units[unit]);
  return buf;
}

std::string state_name(pb::SessionState state) {
  return strip_prefix(pb::SessionState_Name(state), "SESSION_STATE_", false);
}

std::optional<pb::SessionState> parse_state(std::string_view text) {
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (!upper.starts_with("SESSION_STATE_")) upper = "SESSION_STATE_" + upper;
  pb::SessionState state{};
  if (!pb::SessionState_Parse(upper, &state) || state == pb::SESSION_STATE_UNSPECIFIED) return std::nullopt;
  return state;
}

void print_status_block(std::ostream& out, const pb::SessionStatus& s) {
  out << printable(s.name()) << "  " << state_name(s.state());
  if (s.has_state_since()) out << " since " << format_time(s.state_since());
  out << '\n';

  const auto& server = s.server();
  out << "  server:    " << protocol_label(server.protocol()) << ' ' << printable(host_port(server.host(), server.port()))
      << ' ' << tls_summary(server) << '\n';
  out << "  user:      " << printable(s.username());
  if (!s.auth_mode().empty()) out << " (" << printable(s.auth_mode()) << ')';
  out << '\n';
  if (s.has_login_wait()) {
    out << "  waiting:   for a login slot, about " << s.login_wait().ahead() << " ahead, since "
        << format_time(s.login_wait().since()) << '\n';
  }
  out << "  leases:    " << s.lease_count() << '\n';
  out << "  connected: " << (s.has_connected_since() ? format_time(s.connected_since()) : std::string("-"))
      << "   reconnects: " << s.reconnect_count() << '\n';
  const auto& c = s.counters();
  out << "  counters:  commands=" << c.commands_sent() << " in=" << format_bytes(c.bytes_in())
      << " out=" << format_bytes(c.bytes_out()) << " logins=" << c.connects() << '\n';
  if (!server.greeting().empty()) out << "  greeting:  " << printable(server.greeting()) << '\n';
  if (s.has_last_error()) {
    const auto& e = s.last_error();
    out << "  last error: " << e.code();
    if (e.has_at()) out << " at " << format_time(e.at());
    out << ": " << printable(e.message()) << '\n';
  }
  if (s.has_token()) {
    const auto& t = s.token();
    out << "  token:     " << (t.mechanism().empty() ? std::string("-") : printable(t.mechanism())) << " from "
        << printable(t.token_url())
        << "  valid until " << (t.has_valid_until() ? format_time(t.valid_until()) : std::string("-"))
        << "  refreshes=" << t.refresh_count() << '\n';
    if (t.has_last_refresh_error()) {
      out << "  token error: " << t.last_refresh_error().code() << ": " << printable(t.last_refresh_error().message())
          << '\n';
    }
  }
  if (s.has_smtp()) {
    const auto& m = s.smtp();
    out << "  smtp:      " << printable(m.host()) << ':' << m.port() << (m.connected() ? " connected" : " not connected")
        << "  sent=" << m.messages_sent() << " failed=" << m.send_failures() << '\n';
    if (m.has_last_error()) {
      out << "  smtp error: " << m.last_error().code() << ": " << printable(m.last_error().message()) << '\n';
    }
  }
  if (s.has_http()) {
    const auto& h = s.http();
    out << "  http:      connections=" << h.connections() << " in flight=" << h.in_flight() << '/' << h.max_in_flight()
        << " waiting=" << h.waiting() << " requests=" << h.requests() << " throttled=" << h.throttled()
        << " last Retry-After=";
    if (h.last_retry_after_ms() == 0) out << '-';
    else out << h.last_retry_after_ms() << " ms";
    if (h.has_throttled_until()) out << " throttled until " << format_time(h.throttled_until());
    out << '\n';
    if (!h.mailbox().empty()) out << "  mailbox:   " << printable(h.mailbox()) << '\n';
  }
  if (s.has_imap() && s.imap().max() > 1) {  // only sessions allowed extra connections
    const auto& pool = s.imap();
    out << "  imap:      connections=" << pool.open() << '/' << pool.max() << " in flight=" << pool.in_flight()
        << " extra logins=" << pool.extra_logins() << '\n';
    if (pool.has_last_extra_error()) {
      out << "  imap error: " << pool.last_extra_error().code() << ": " << printable(pool.last_extra_error().message())
          << '\n';
    }
  }
  if (s.watch_count() > 0) out << "  watches:   " << s.watch_count() << '\n';
  if (s.has_linger_until()) out << "  linger until: " << format_time(s.linger_until()) << '\n';
  if (!s.close_reason().empty()) out << "  close reason: " << printable(s.close_reason()) << '\n';
}

std::string event_line(const pb::SessionEvent& event) {
  const auto& s = event.status();
  std::string line = format_time(event.at(), true) + ' ' + printable(s.name()) + ' ';
  // The first events of a watch (and lease-count changes) repeat the current state.
  if (event.previous_state() != s.state() && event.previous_state() != pb::SESSION_STATE_UNSPECIFIED) {
    line += state_name(event.previous_state()) + " -> ";
  }
  line += state_name(s.state());
  if (!event.reason().empty()) line += ": " + printable(event.reason());
  line += " (leases " + std::to_string(s.lease_count()) + ')';
  return line;
}

std::string format_address(const pb::Address& a) {
  if (a.name().empty()) return printable(a.address());
  // A name with specials is quoted, so "Doe, Jane" stays one name in a list and the
  // line can be pasted back into --to.
  if (a.name().find_first_of(",;:<>@\"\\()[]") == std::string::npos) {
    return printable(a.name() + " <" + a.address() + ">");
  }
  std::string quoted = "\"";
  for (char c : a.name()) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return printable(quoted + "\" <" + a.address() + ">");
}

std::string format_addresses(const google::protobuf::RepeatedPtrField<pb::Address>& list) {
  std::string out;
  for (const auto& a : list) {
    if (!out.empty()) out += ", ";
    out += format_address(a);
  }
  return out;
}

std::string message_event_line(const pb::MessageEvent& event, std::string_view folder) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  google::protobuf::Timestamp at;
  at.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  at.set_nanos(static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() %
                                         1'000'000'000));
  std::string line = format_time(at, true) + ' ' + printable(folder) + ' ';
  if (event.kind() == pb::MESSAGE_EVENT_KIND_WATCHING) {
    // Item-id protocols have no uids to report: their watches report what arrives from now on.
    if (event.mode().rfind("EWS_", 0) == 0 || event.mode().rfind("GRAPH_", 0) == 0) {
      return line + "watching (" + printable(event.mode()) + "): new items from now on";
    }
    return line + "watching (" + printable(event.mode()) + "): uids above " + std::to_string(event.last_uid()) +
           ", uidvalidity " + std::to_string(event.uid_validity());
  }
  if (event.kind() == pb::MESSAGE_EVENT_KIND_NEW_MESSAGE) {
    const auto& m = event.message();
    const std::string from = m.from().empty() ? std::string("-") : format_address(m.from(0));
    const std::string name = m.uid() != 0 ? "uid " + std::to_string(m.uid()) : "item " + printable(m.ref().item_id());
    return line + "new " + name + ' ' + (m.has_attachments() ? "@ " : "") + from + "  " +
           printable(m.subject());
  }
  return line + "event " + std::to_string(static_cast<int>(event.kind()));  // a kind newer than this CLI
}

std::optional<std::string> to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  // Scripts can then test `.created == false` or `.lease_count == 0` instead of
  // treating a missing key as the default.
  options.always_print_primitive_fields = true;
  options.add_whitespace = false;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return std::nullopt;
  return out;
}

}  // namespace mailbroker::cli
