// Readers for Subscribe, GetEvents and GetStreamingEvents (MS-OXWSNTIF), and the
// splitter for the stream of envelopes GetStreamingEvents sends.
#include "protocol/ews/responses.hpp"
#include "protocol/ews/xml_nodes.hpp"
#include "protocol/ews/xml_text.hpp"

namespace mailbroker::ews {
namespace {

using detail::attribute;
using detail::child;
using detail::local_name;
using detail::raw_text;
using detail::text;

bool is_event_element(std::string_view name) {
  return name == "NewMailEvent" || name == "CreatedEvent" || name == "MovedEvent" || name == "DeletedEvent" ||
         name == "CopiedEvent" || name == "ModifiedEvent" || name == "StatusEvent" || name == "FreeBusyChangedEvent";
}

std::string id_of(pugi::xml_node node) { return clean_text(attribute(node, "Id")); }

notification_event read_event(pugi::xml_node node) {
  notification_event e;
  e.type = std::string(local_name(node));
  e.watermark = text(child(node, "Watermark"));
  if (const pugi::xml_node stamp = child(node, "TimeStamp")) e.stamp = parse_xs_datetime(raw_text(stamp));
  if (const pugi::xml_node item = child(node, "ItemId")) {
    e.item_id = id_of(item);
    e.folder_id = id_of(child(node, "ParentFolderId"));
  } else if (const pugi::xml_node folder = child(node, "FolderId")) {
    e.about_folder = true;
    e.folder_id = id_of(folder);
  }
  e.old_item_id = id_of(child(node, "OldItemId"));
  e.old_folder_id = id_of(child(node, "OldParentFolderId"));
  if (e.about_folder && e.old_folder_id.empty()) e.old_folder_id = id_of(child(node, "OldFolderId"));
  return e;
}

// One <m:Notification>; `events_left` bounds the events of a whole response.
error read_notification(pugi::xml_node node, event_batch& out, std::size_t& events_left) {
  out.subscription_id = text(child(node, "SubscriptionId"));
  out.previous_watermark = text(child(node, "PreviousWatermark"));
  out.more_events = detail::to_bool(raw_text(child(node, "MoreEvents"))).value_or(false);
  for (pugi::xml_node n = node.first_child(); n; n = n.next_sibling()) {
    if (n.type() != pugi::node_element || !is_event_element(local_name(n))) continue;
    if (events_left == 0) {
      return {errc::resource_exhausted,
              "EWS notification holds more than " + std::to_string(max_items_per_response) + " events"};
    }
    --events_left;
    out.events.push_back(read_event(n));
  }
  return error::none();
}

}  // namespace

std::string event_batch::last_watermark() const {
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (!it->watermark.empty()) return it->watermark;
  }
  return previous_watermark;
}

result<subscription> parse_subscribe(const soap_reply& reply) {
  if (reply.operation != "SubscribeResponse") {
    return error{errc::internal, "expected an EWS SubscribeResponse, got <" + reply.operation + ">"};
  }
  if (reply.messages.size() != 1) return detail::protocol_error("SubscribeResponse without exactly one message");
  const response_message& m = reply.messages.front();
  if (error e = error_of(m); !e.ok()) return e;
  subscription s{text(child(m.node, "SubscriptionId")), text(child(m.node, "Watermark"))};
  if (s.subscription_id.empty()) return detail::protocol_error("SubscribeResponse without SubscriptionId");
  return s;
}

result<event_batch> parse_events(const soap_reply& reply) {
  if (reply.operation != "GetEventsResponse") {
    return error{errc::internal, "expected an EWS GetEventsResponse, got <" + reply.operation + ">"};
  }
  if (reply.messages.size() != 1) return detail::protocol_error("GetEventsResponse without exactly one message");
  const response_message& m = reply.messages.front();
  if (error e = error_of(m); !e.ok()) return e;
  const pugi::xml_node notification = child(m.node, "Notification");
  if (!notification) return detail::protocol_error("GetEventsResponse without Notification");
  event_batch batch;
  std::size_t events_left = max_items_per_response;
  if (error e = read_notification(notification, batch, events_left); !e.ok()) return e;
  return batch;
}

result<streaming_chunk> parse_streaming_chunk(const soap_reply& reply) {
  if (reply.operation != "GetStreamingEventsResponse") {
    return error{errc::internal, "expected an EWS GetStreamingEventsResponse, got <" + reply.operation + ">"};
  }
  streaming_chunk chunk;
  std::size_t events_left = max_items_per_response;
  std::size_t notifications_left = max_items_per_response;
  for (const response_message& m : reply.messages) {
    if (error e = error_of(m); !e.ok() && chunk.failure.ok()) chunk.failure = std::move(e);
    for (pugi::xml_node id = child(m.node, "ErrorSubscriptionIds").first_child(); id; id = id.next_sibling()) {
      if (id.type() != pugi::node_element || local_name(id) != "SubscriptionId") continue;
      if (chunk.error_subscription_ids.size() == max_items_per_response) break;
      chunk.error_subscription_ids.push_back(text(id));
    }
    for (pugi::xml_node n = child(m.node, "Notifications").first_child(); n; n = n.next_sibling()) {
      if (n.type() != pugi::node_element || local_name(n) != "Notification") continue;
      if (notifications_left-- == 0) {
        return error{errc::resource_exhausted,
                     "EWS streaming response holds more than " + std::to_string(max_items_per_response) +
                         " notifications"};
      }
      event_batch batch;
      if (error e = read_notification(n, batch, events_left); !e.ok()) return e;
      chunk.notifications.push_back(std::move(batch));
    }
    const std::string_view status = raw_text(child(m.node, "ConnectionStatus"));
    if (status == "OK") chunk.status = streaming_chunk::connection::ok;
    else if (status == "Closed") chunk.status = streaming_chunk::connection::closed;
  }
  return chunk;
}

std::size_t streaming_envelope_end(std::string_view buffered) {
  // Looks for "</" [prefix ":"] "Envelope" [white space] ">". Exchange writes no CDATA
  // or comments in these responses, so a plain scan is enough.
  for (std::size_t pos = buffered.find("</"); pos != std::string_view::npos; pos = buffered.find("</", pos + 2)) {
    std::size_t name = pos + 2;
    std::size_t end = name;
    while (end < buffered.size() && buffered[end] != '>' && buffered[end] != '<' && end - name < 128) ++end;
    if (end >= buffered.size() || buffered[end] != '>') continue;
    std::string_view tag = buffered.substr(name, end - name);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t' || tag.back() == '\r' || tag.back() == '\n')) {
      tag.remove_suffix(1);
    }
    if (const std::size_t colon = tag.find(':'); colon != std::string_view::npos) tag = tag.substr(colon + 1);
    if (tag == "Envelope") return end + 1;
  }
  return 0;
}

}  // namespace mailbroker::ews
