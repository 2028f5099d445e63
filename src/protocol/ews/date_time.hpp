#pragma once
// xs:dateTime as EWS writes it (DateTimeReceived, DateTimeSent, TimeStamp, restriction
// constants). Pure, no time zone database: every result is UTC.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mailbroker::ews {

using time_point = std::chrono::system_clock::time_point;

// "2026-12-06T12:50:10Z", "2026-12-06T12:50:10.1234567Z", "2026-12-06T13:50:10+01:00",
// and without a zone ("2026-12-06T12:50:10", read as UTC: Exchange writes UTC unless a
// TimeZoneContext header asks otherwise, and we never send one with a non-UTC zone).
// Fractions keep up to 9 digits (more are read and dropped); a zone is Z or +hh:mm /
// -hh:mm up to 14:00. nullopt when malformed, when the date does not exist (Feb 30), or
// when it lies outside 1678-2261 (what system_clock's nanoseconds can hold; Exchange's
// "no date" value 4501-01-01 is one of these).
std::optional<time_point> parse_xs_datetime(std::string_view text);

// "2026-12-06T12:50:10Z": whole seconds, rounded down, UTC. Years outside 0000-9999
// cannot happen with system_clock's range.
std::string format_xs_datetime(time_point t);

}  // namespace mailbroker::ews
