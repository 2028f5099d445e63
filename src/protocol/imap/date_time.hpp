#pragma once
// Dates as IMAP and mail headers write them. Pure functions, no locale, no time zone
// database: every result is UTC.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mailbroker::imap {

// IMAP date-time (RFC 3501 INTERNALDATE): "17-Jul-1996 02:44:25 -0700"; the day may be
// " 7", "07" or "7"; month names are case-insensitive. nullopt when malformed or the
// date does not exist (31-Feb), or it is outside system_clock's range (libstdc++:
// nanoseconds, years 1678-2262).
std::optional<std::chrono::system_clock::time_point> parse_internal_date(std::string_view s);

// RFC 5322 section 3.3 date-time, as in a Date header or an ENVELOPE date:
//   [weekday ","] day month year hour ":" minute [":" second] zone
// Accepted beyond the strict grammar (RFC 5322 4.3 obsolete syntax and common practice):
//   - comments "(...)" (not nested deeper than 4) and any amount of white space, a
//     weekday without its ",", a day-of-week that does not match the date;
//   - 2-digit years (00-49 → 2000-2049, 50-99 → 1950-1999), 3-digit years (+1900);
//   - zones UT, GMT, Z, EST/EDT/CST/CDT/MST/MDT/PST/PDT, and any other alphabetic zone of
//     1-5 letters as +0000 (RFC 5322 4.3: military zones carry no information);
//   - second 60 (a leap second) as second 59.
// nullopt when it cannot be read like that (missing zone, no time, a date outside
// system_clock's range as for parse_internal_date, ...): an
// unparseable Date header is common in spam and is not an error for callers.
std::optional<std::chrono::system_clock::time_point> parse_rfc5322_date(std::string_view s);

// "1-Feb-2026": an IMAP SEARCH date (RFC 3501 date-text). nullopt for a year outside
// 0-9999.
std::optional<std::string> format_search_date(std::chrono::sys_days day);

}  // namespace mailbroker::imap
