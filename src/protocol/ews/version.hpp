#pragma once
// The EWS schema versions a request can name in <t:RequestServerVersion Version="...">,
// and which features each lacks. Pure, reentrant.
//
// Exchange 2016, 2019 and Subscription Edition speak Exchange2013_SP1 (issue 11), so it is
// the newest value here. Requirements come from the MS-OXWS* documents and the EWS
// reference ("This element was introduced in ..."):
//   Exchange2010_SP1: streaming notifications (Subscribe StreamingSubscriptionRequest,
//                     GetStreamingEvents), ReturnNewItemIds in MoveItem / CopyItem;
//   Exchange2010:     the TimeZoneContext SOAP header;
//   Exchange2013:     the follow-up flag (item:Flag / t:Flag);
//   every version:    ExchangeImpersonation, delegate mailboxes in DistinguishedFolderId,
//                     pull notifications, FindItem / FindFolder paging, MimeContent.
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::ews {

// Ordered: a later enumerator is a later schema with everything earlier ones have.
enum class server_version {
  exchange2007_sp1,
  exchange2010,
  exchange2010_sp1,
  exchange2010_sp2,
  exchange2013,
  exchange2013_sp1,
};

// "Exchange2010_SP1" -> exchange2010_sp1; exact spelling (case-sensitive, as Exchange
// compares it). Errors: invalid_argument naming every accepted value.
result<server_version> parse_version(std::string_view name);

// The schema name, e.g. "Exchange2013_SP1".
std::string_view version_name(server_version version);

// The features that need more than Exchange2007_SP1, named as require() takes them.
namespace feature {
inline constexpr std::string_view streaming_notifications = "streaming notifications (GetStreamingEvents)";
inline constexpr std::string_view return_new_item_ids = "ReturnNewItemIds";
inline constexpr std::string_view time_zone_context = "TimeZoneContext";
inline constexpr std::string_view follow_up_flag = "the follow-up flag (item:Flag)";
}  // namespace feature

// The oldest version that has `operation` (one of the feature:: names, or an EWS
// operation name such as "GetStreamingEvents", "Subscribe" or "FindItem"); nullopt for an
// unknown name (callers pass constants, so that is a bug: require() reports it).
std::optional<server_version> introduced_in(std::string_view operation);

// ok when `version` has `operation`; otherwise failed_precondition naming the operation,
// the version asked for and the first version that has it, e.g.
//   "streaming notifications (GetStreamingEvents) needs Exchange2010_SP1 or later; the
//    session requests Exchange2010 (use pull notifications or a newer version)".
// An unknown operation name is errc::internal.
error require(server_version version, std::string_view operation);

// What the server says it runs, from <h:ServerVersionInfo MajorVersion="15"
// MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11"/>
// in every response header. `version` is as sent ("" when absent: Exchange 2007 sends
// no Version attribute) and may be newer than any server_version value.
struct server_version_info {
  int major = 0, minor = 0, major_build = 0, minor_build = 0;
  std::string version;

  bool empty() const { return major == 0 && version.empty(); }
};

// "15.1.2507.6 (V2017_07_11)", or "unknown" when empty.
std::string describe(const server_version_info& info);

}  // namespace mailbroker::ews
