#include "protocol/ews/version.hpp"

#include <array>
#include <utility>

namespace mailbroker::ews {
namespace {

constexpr std::array<std::pair<server_version, std::string_view>, 6> names{{
    {server_version::exchange2007_sp1, "Exchange2007_SP1"},
    {server_version::exchange2010, "Exchange2010"},
    {server_version::exchange2010_sp1, "Exchange2010_SP1"},
    {server_version::exchange2010_sp2, "Exchange2010_SP2"},
    {server_version::exchange2013, "Exchange2013"},
    {server_version::exchange2013_sp1, "Exchange2013_SP1"},
}};

struct requirement {
  std::string_view operation;
  server_version since;
  std::string_view instead;  // what to do on an older version ("" = nothing to suggest)
};

constexpr std::array<requirement, 10> requirements{{
    {feature::streaming_notifications, server_version::exchange2010_sp1, "use pull notifications or a newer version"},
    {"GetStreamingEvents", server_version::exchange2010_sp1, "use pull notifications or a newer version"},
    {feature::return_new_item_ids, server_version::exchange2010_sp1, ""},
    {feature::time_zone_context, server_version::exchange2010, ""},
    {feature::follow_up_flag, server_version::exchange2013, ""},
    {"Subscribe", server_version::exchange2007_sp1, ""},
    {"GetEvents", server_version::exchange2007_sp1, ""},
    {"FindItem", server_version::exchange2007_sp1, ""},
    {"FindFolder", server_version::exchange2007_sp1, ""},
    {"ExchangeImpersonation", server_version::exchange2007_sp1, ""},
}};

}  // namespace

result<server_version> parse_version(std::string_view name) {
  for (const auto& [v, n] : names) {
    if (n == name) return v;
  }
  std::string accepted;
  for (const auto& [v, n] : names) {
    if (!accepted.empty()) accepted += ", ";
    accepted += n;
  }
  return error{errc::invalid_argument, "unknown EWS version: expected one of " + accepted +
                                           " (Exchange 2016, 2019 and SE use Exchange2013_SP1)"};
}

std::string_view version_name(server_version version) {
  for (const auto& [v, n] : names) {
    if (v == version) return n;
  }
  return "unknown";
}

std::optional<server_version> introduced_in(std::string_view operation) {
  for (const requirement& r : requirements) {
    if (r.operation == operation) return r.since;
  }
  return std::nullopt;
}

error require(server_version version, std::string_view operation) {
  for (const requirement& r : requirements) {
    if (r.operation != operation) continue;
    if (version >= r.since) return error::none();
    std::string message = std::string(operation) + " needs " + std::string(version_name(r.since)) +
                          " or later; the session requests " + std::string(version_name(version));
    if (!r.instead.empty()) message += " (" + std::string(r.instead) + ")";
    return error{errc::failed_precondition, std::move(message)};
  }
  return error{errc::internal, "no version requirement is known for '" + std::string(operation) + "'"};
}

std::string describe(const server_version_info& info) {
  if (info.empty()) return "unknown";
  std::string s = std::to_string(info.major) + "." + std::to_string(info.minor) + "." +
                  std::to_string(info.major_build) + "." + std::to_string(info.minor_build);
  if (!info.version.empty()) s += " (" + info.version + ")";
  return s;
}

}  // namespace mailbroker::ews
