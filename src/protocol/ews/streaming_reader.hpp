#pragma once
// Reads the body of a GetStreamingEvents response as it arrives and says what it means
// for a session waiting on it (session's ews_upstream::wait_for_news). No I/O.
//
// Exchange keeps the response open for up to ConnectionTimeout minutes and writes one
// complete SOAP envelope after another into it: heartbeats (ConnectionStatus OK),
// notifications (events of one or more subscriptions), and at the end ConnectionStatus
// Closed. Or, at once, an error naming the subscriptions it does not know.
//
// Usage:
//   streaming_reader reader(version);
//   on each piece of the body:  if (reader.feed(piece) != streaming_reader::state::reading) stop;
//   then:                       reader.current(), reader.gone_subscriptions(), reader.failure()
//
// The states (the first that is not `reading` is final; later input is ignored):
//   reading             nothing decided yet: heartbeats (ConnectionStatus OK) and
//                       notifications carrying only StatusEvents are not news
//   news                an envelope carried a real event (NewMail, Created, Moved,
//                       Copied, Modified, Deleted, FreeBusyChanged ...): poll now
//   closed              ConnectionStatus Closed: the server ended the stream normally
//   subscriptions_gone  the server no longer knows some subscriptions (ErrorSubscriptionNotFound,
//                       ErrorExpiredSubscription, ErrorInvalidSubscription: error_of maps them
//                       to not_found); gone_subscriptions() lists those it named (empty:
//                       it named none, so any of them may be gone)
//   failed              failure() says why: an envelope that is not SOAP or not a
//                       GetStreamingEvents response, another error response, or more
//                       than max_envelope bytes without a complete envelope
//                       (resource_exhausted: memory stays bounded)
// A chunk with events and Closed is `news`.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "protocol/ews/version.hpp"

namespace mailbroker::ews {

// The longest envelope buffered while it is incomplete. Exchange's notifications of 50
// events are ~30 KiB; a heartbeat is under 1 KiB.
inline constexpr std::size_t max_streaming_envelope_bytes = 1024 * 1024;

class streaming_reader {
 public:
  enum class state { reading, news, closed, subscriptions_gone, failed };

  explicit streaming_reader(server_version version, std::size_t max_envelope = max_streaming_envelope_bytes)
      : version_(version), max_envelope_(max_envelope) {}

  // Takes the next piece of the response body; returns the state after it.
  state feed(std::string_view piece);

  state current() const { return state_; }
  const std::vector<std::string>& gone_subscriptions() const { return gone_; }
  const error& failure() const { return failure_; }
  // Complete envelopes read so far (heartbeats included).
  std::size_t envelopes() const { return envelopes_; }
  // Bytes buffered of an envelope not yet complete (at most max_envelope).
  std::size_t buffered() const { return buffer_.size(); }

 private:
  state read_envelope(std::string_view envelope);

  server_version version_;
  std::size_t max_envelope_;
  std::string buffer_;
  state state_ = state::reading;
  std::vector<std::string> gone_;
  error failure_ = error::none();
  std::size_t envelopes_ = 0;
};

}  // namespace mailbroker::ews
