#include "protocol/ews/streaming_reader.hpp"

#include "protocol/ews/responses.hpp"

namespace mailbroker::ews {

streaming_reader::state streaming_reader::feed(std::string_view piece) {
  if (state_ != state::reading) return state_;
  buffer_.append(piece);
  std::size_t start = 0;
  while (state_ == state::reading) {
    const std::size_t end = streaming_envelope_end(std::string_view(buffer_).substr(start));
    if (end == 0) break;
    state_ = read_envelope(std::string_view(buffer_).substr(start, end));
    start += end;
  }
  buffer_.erase(0, start);
  if (state_ == state::reading && buffer_.size() > max_envelope_) {
    failure_ = error{errc::resource_exhausted, "EWS GetStreamingEvents: an envelope over " +
                                                   std::to_string(max_envelope_) + " bytes (the stream is ended)"};
    state_ = state::failed;
  }
  if (state_ != state::reading) std::string().swap(buffer_);
  return state_;
}

streaming_reader::state streaming_reader::read_envelope(std::string_view envelope) {
  ++envelopes_;
  auto reply = parse_envelope(envelope, 200, version_);
  if (!reply) {
    failure_ = reply.err();
    return state::failed;
  }
  auto chunk = parse_streaming_chunk(reply.value());
  if (!chunk) {
    failure_ = chunk.err();
    return state::failed;
  }
  if (!chunk->failure.ok()) {
    failure_ = chunk->failure;
    if (failure_.code != errc::not_found) return state::failed;
    gone_ = std::move(chunk->error_subscription_ids);
    return state::subscriptions_gone;
  }
  for (const auto& batch : chunk->notifications) {
    for (const auto& ev : batch.events) {
      if (ev.type != "StatusEvent") return state::news;
    }
  }
  if (chunk->status == streaming_chunk::connection::closed) return state::closed;
  return state::reading;
}

}  // namespace mailbroker::ews
