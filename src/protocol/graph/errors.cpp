#include "protocol/graph/errors.hpp"

#include <array>
#include <vector>

#include "common/text.hpp"

namespace mailbroker::graph {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

bool number(std::string_view s, long long& out, long long cap) {
  if (s.empty()) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
    if (out > cap) out = cap;  // saturate: no overflow whatever the length
  }
  return true;
}

int month_of(std::string_view name) {
  static constexpr std::array<std::string_view, 12> months = {"jan", "feb", "mar", "apr", "may", "jun",
                                                              "jul", "aug", "sep", "oct", "nov", "dec"};
  for (std::size_t i = 0; i < months.size(); ++i) {
    if (iequals(name, months[i])) return static_cast<int>(i) + 1;
  }
  return 0;
}

// "hh:mm:ss" -> seconds of the day.
std::optional<long long> time_of_day(std::string_view t) {
  long long h, m, s;
  if (t.size() != 8 || t[2] != ':' || t[5] != ':' || !number(t.substr(0, 2), h, 99) || !number(t.substr(3, 2), m, 99) ||
      !number(t.substr(6, 2), s, 99) || h > 23 || m > 59 || s > 60) {
    return std::nullopt;
  }
  return h * 3600 + m * 60 + s;
}

// IMF-fixdate, RFC 850 and asctime (RFC 9110 5.6.7), always GMT.
std::optional<system_clock::time_point> http_date(std::string_view value) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < value.size() && tokens.size() < 8) {
    while (i < value.size() && (value[i] == ' ' || value[i] == ',' || value[i] == '-')) ++i;
    const std::size_t start = i;
    while (i < value.size() && value[i] != ' ' && value[i] != ',' && value[i] != '-') ++i;
    if (i > start) tokens.push_back(value.substr(start, i - start));
  }
  long long day = 0, year = 0;
  int month = 0;
  std::optional<long long> tod;
  if (tokens.size() == 5 && month_of(tokens[1]) != 0) {  // asctime: Sun Nov 6 08:49:37 1994
    month = month_of(tokens[1]);
    if (!number(tokens[2], day, 99) || !number(tokens[4], year, 9999)) return std::nullopt;
    tod = time_of_day(tokens[3]);
  } else if (tokens.size() == 6 && iequals(tokens[5], "GMT")) {  // Sun, 06 Nov 1994 08:49:37 GMT
    month = month_of(tokens[2]);
    if (!number(tokens[1], day, 99) || !number(tokens[3], year, 9999)) return std::nullopt;
    if (tokens[3].size() == 2) year += year < 70 ? 2000 : 1900;  // RFC 850's two-digit year
    tod = time_of_day(tokens[4]);
  } else {
    return std::nullopt;
  }
  if (month == 0 || !tod || year < 1970 || year > 2200) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year{static_cast<int>(year)}, std::chrono::month{static_cast<unsigned>(month)},
                           std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  return system_clock::time_point(sys_days{ymd}.time_since_epoch() + seconds{*tod});
}

// Permission names in a server message ("... requires one of 'Mail.ReadWrite, Mail.Read'"):
// words like Mail.Send, Mail.ReadWrite.Shared, User.Read.All, MailboxSettings.Read.
std::vector<std::string> permissions_named(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size() && out.size() < 4) {
    const auto is_word = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.'; };
    if (!is_word(text[i]) || (i > 0 && is_word(text[i - 1]))) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && is_word(text[end])) ++end;
    std::string_view word = text.substr(i, end - i);
    while (!word.empty() && word.back() == '.') word.remove_suffix(1);
    i = end;
    const auto dot = word.find('.');
    if (dot == std::string_view::npos || word.size() > 64) continue;
    const std::string_view head = word.substr(0, dot);
    if (head != "Mail" && head != "MailboxSettings" && head != "User" && head != "Directory") continue;
    bool seen = false;
    for (const auto& p : out) seen = seen || p == word;
    if (!seen) out.emplace_back(word);
  }
  return out;
}

bool looks_secret(std::string_view text) {
  return contains(text, "Bearer ") || contains(text, "bearer ") || contains(text, "eyJ") ||
         contains(text, "Authorization");
}

errc code_for_status(int status) {
  switch (status) {
    case 400: case 413: case 414: case 416: return errc::invalid_argument;
    case 401: return errc::unauthenticated;
    case 403: return errc::permission_denied;
    case 404: return errc::not_found;
    case 405: case 406: case 415: case 501: return errc::internal;  // our request is wrong: a bug
    case 409: case 410: case 412: return errc::failed_precondition;
    case 429: case 500: case 502: case 503: case 504: case 509: return errc::unavailable;
    default: return status >= 500 ? errc::unavailable : errc::internal;
  }
}

}  // namespace

std::optional<seconds> parse_retry_after(std::string_view value, system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  long long n = 0;
  if (number(value, n, max_retry_after.count())) return seconds{n};
  const auto when = http_date(value);
  if (!when) return std::nullopt;
  if (*when <= now) return seconds{0};
  const auto wait = std::chrono::ceil<seconds>(*when - now);
  return wait > max_retry_after ? max_retry_after : wait;
}

failure response_error(int http_status, std::string_view body, std::string_view retry_after_header,
                       system_clock::time_point now, std::string_view item) {
  failure out;
  errc code = code_for_status(http_status);
  std::string server_message;
  bool graph_body = false;
  // A failed request's body is small; a huge one is not read (parse_body refuses it).
  if (auto parsed = parse_body(body, http_status, "Graph error response")) {
    const json& e = parsed.value().contains("error") ? parsed.value()["error"] : json();
    if (e.is_object()) {
      graph_body = true;
      out.code = string_member(e, "code", 100).value_or("");
      for (char c : out.code) {
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-')) {
          out.code.clear();  // not a code: keep it out of messages
          break;
        }
      }
      server_message = mailbroker::clean_text(string_member(e, "message", 4 * max_quoted_bytes).value_or(""), max_quoted_bytes);
      for (const char* inner : {"innerError", "innererror"}) {
        if (e.contains(inner) && out.request_id.empty()) {
          out.request_id = mailbroker::clean_text(string_member(e[inner], "request-id", 100).value_or(""), 100);
        }
      }
    }
  }

  const std::string& c = out.code;
  std::string hint;
  if (c == "ErrorItemNotFound" || c == "ErrorFolderNotFound" || c == "ResourceNotFound") {
    code = errc::not_found;
  } else if (c == "ErrorInvalidUser" || c == "MailboxNotEnabledForRESTAPI" || c == "MailboxNotSupportedForRESTAPI" ||
             c == "ErrorNonExistentMailbox") {
    code = errc::not_found;
    hint = "the mailbox does not exist or has no Exchange Online mailbox: check the session's mailbox address";
  } else if (c == "ErrorAccessDenied" || c == "ErrorSendAsDenied" || c == "Authorization_RequestDenied" ||
             c == "AccessDenied" || c == "ErrorMessageSubmissionBlocked") {
    code = errc::permission_denied;
  } else if (c == "ErrorServerBusy" || c == "ApplicationThrottled" || c == "MailboxConcurrency" ||
             c == "TooManyRequests" || c == "ErrorMailboxStoreUnavailable") {
    code = errc::unavailable;
  } else if (c == "SyncStateNotFound" || c == "SyncStateInvalid" || c == "ErrorInvalidSyncStateData") {
    code = errc::failed_precondition;
    hint = "the delta link expired: start a new delta round";
  } else if (c == "ErrorIrresolvableConflict") {
    code = errc::failed_precondition;
    hint = "the item changed meanwhile: read it again";
  } else if (c == "ErrorInvalidIdMalformed" || c == "ErrorInvalidRecipients" || c == "ErrorMessageSizeExceeded" ||
             c == "ErrorInvalidMailboxItemId") {
    code = errc::invalid_argument;
  } else if (c == "InvalidAuthenticationToken") {
    code = errc::unauthenticated;
  }
  if (code == errc::unauthenticated && hint.empty()) {
    hint = "the access token was refused (expired, revoked or for another audience): a new token is needed";
  }
  if (code == errc::permission_denied) {
    const auto named = permissions_named(server_message);
    if (!named.empty()) {
      hint = "the token lacks the permission " + named[0];
      for (std::size_t i = 1; i < named.size(); ++i) hint += (i + 1 == named.size() ? " or " : ", ") + named[i];
    } else {
      hint = "grant the app Mail.ReadWrite (and Mail.Send to send) for this mailbox";
    }
  }
  if (code == errc::not_found && !item.empty() && hint.empty()) hint = std::string(item) + " does not exist (moved or deleted?)";

  const bool throttled = http_status == 429 || http_status == 503 || c == "ApplicationThrottled" ||
                         c == "MailboxConcurrency" || c == "ErrorServerBusy";
  if (throttled || !trim(retry_after_header).empty()) {
    out.retry_after = parse_retry_after(retry_after_header, now);
    if (!out.retry_after && throttled) out.retry_after = default_retry_after;
  }

  std::string message = "Graph ";
  message += out.code.empty() ? std::string("error") : out.code;
  message += " (HTTP " + std::to_string(http_status);
  if (!out.request_id.empty()) message += ", request-id " + out.request_id;
  message += ")";
  if (!graph_body) {
    message += ": the response is not a Graph error body (a proxy or gateway answered?)";
    if (code != errc::unauthenticated && code != errc::permission_denied && code != errc::not_found) {
      code = errc::unavailable;
    }
  } else if (!server_message.empty() && !looks_secret(server_message)) {
    message += ": " + server_message;
  }
  if (!hint.empty()) message += ": " + hint;
  if (out.retry_after) message += "; retry after " + std::to_string(out.retry_after->count()) + " s";
  out.err = error{code, std::move(message)};
  return out;
}

}  // namespace mailbroker::graph
