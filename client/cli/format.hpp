#pragma once
// Everything the CLI prints on stdout: human-readable blocks and lines, and the
// one-object-per-line JSON of --json.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include "client/broker_client.hpp"
#include "client/cli/printable.hpp"
#include "mailbroker/v1/mailbox.pb.h"

namespace mailbroker::cli {

namespace pb = ::mailbroker::v1;

// ISO-8601 in UTC: "2026-11-27T08:01:02Z", or with milliseconds "...02.123Z".
std::string format_time(const google::protobuf::Timestamp& t, bool with_millis = false);

// "310 B", "1.2 KiB", "3.4 MiB" ...
std::string format_bytes(std::uint64_t bytes);

// "READY", "CONNECTING" ... (the enum name without its prefix).
std::string state_name(pb::SessionState state);

// Accepts "READY", "ready" or "SESSION_STATE_READY".
std::optional<pb::SessionState> parse_state(std::string_view text);

// The multi-line block of `mailbroker status` (also used by connect and disconnect).
void print_status_block(std::ostream& out, const pb::SessionStatus& status);

// One line per watch event, without the newline.
std::string event_line(const pb::SessionEvent& event);

// "Name <a@b>", or "a@b" when there is no name.
std::string format_address(const pb::Address& address);

// The addresses joined with ", "; "" for none.
std::string format_addresses(const google::protobuf::RepeatedPtrField<pb::Address>& list);

// One line per watch-mail event, without the newline, stamped with the current time:
//   TIME FOLDER watching (MODE): uids above N, uidvalidity V
//   TIME FOLDER new uid U [@ ]FROM  SUBJECT        ('@' when it has attachments)
std::string message_event_line(const pb::MessageEvent& event, std::string_view folder);

// The message as compact JSON (proto field names, defaults included) on one line;
// nullopt if protobuf refuses, which would be a bug.
std::optional<std::string> to_json(const google::protobuf::Message& message);

}  // namespace mailbroker::cli
