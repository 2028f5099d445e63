// Subscribe / GetEvents / GetStreamingEvents / Unsubscribe (MS-OXWSNTIF) and the POX
// Autodiscover request: the rest of requests.hpp.
#include "protocol/ews/request_detail.hpp"
#include "protocol/ews/requests.hpp"
#include "protocol/ews/xml_text.hpp"

namespace mailbroker::ews {
namespace {

// Longest subscription id or watermark accepted: Exchange's are ~50-70 base64 characters.
constexpr std::size_t max_token_bytes = 4096;
// Exchange refuses more subscriptions on one GetStreamingEvents connection.
constexpr std::size_t max_streaming_subscriptions = 200;

error check_token(std::string_view token, std::string_view field, bool may_be_empty) {
  if (token.empty() && !may_be_empty) return {errc::invalid_argument, std::string(field) + " is empty"};
  if (token.size() > max_token_bytes) {
    return {errc::invalid_argument, std::string(field) + " is longer than " + std::to_string(max_token_bytes) +
                                        " bytes"};
  }
  return error::none();
}

// <t:FolderIds>...</t:FolderIds><t:EventTypes>...</t:EventTypes>
error append_subscription_core(std::string& out, server_version version, const std::vector<folder_ref>& folders) {
  if (error e = detail::append_folder_ids(out, version, folders, "t:FolderIds", "folders"); !e.ok()) return e;
  out += "<t:EventTypes>";
  for (std::string_view type : subscribed_events) out += "<t:EventType>" + std::string(type) + "</t:EventType>";
  out += "</t:EventTypes>";
  return error::none();
}

}  // namespace

result<std::string> subscribe_pull(server_version version, const std::vector<folder_ref>& folders,
                                   std::string_view watermark, int timeout_minutes) {
  if (timeout_minutes < 1 || timeout_minutes > 1440) {
    return error{errc::invalid_argument, "timeout_minutes must be 1-1440"};
  }
  if (error e = check_token(watermark, "watermark", true); !e.ok()) return e;
  std::string out = "<m:Subscribe><m:PullSubscriptionRequest>";
  if (error e = append_subscription_core(out, version, folders); !e.ok()) return e;
  if (!watermark.empty()) out += "<t:Watermark>" + xml_escape(watermark) + "</t:Watermark>";
  out += "<t:Timeout>" + std::to_string(timeout_minutes) + "</t:Timeout>";
  out += "</m:PullSubscriptionRequest></m:Subscribe>";
  return out;
}

result<std::string> get_events(server_version, std::string_view subscription_id, std::string_view watermark) {
  if (error e = check_token(subscription_id, "subscription_id", false); !e.ok()) return e;
  if (error e = check_token(watermark, "watermark", false); !e.ok()) return e;
  return "<m:GetEvents><m:SubscriptionId>" + xml_escape(subscription_id) + "</m:SubscriptionId><m:Watermark>" +
         xml_escape(watermark) + "</m:Watermark></m:GetEvents>";
}

result<std::string> subscribe_streaming(server_version version, const std::vector<folder_ref>& folders) {
  if (error e = require(version, feature::streaming_notifications); !e.ok()) return e;
  std::string out = "<m:Subscribe><m:StreamingSubscriptionRequest>";
  if (error e = append_subscription_core(out, version, folders); !e.ok()) return e;
  out += "</m:StreamingSubscriptionRequest></m:Subscribe>";
  return out;
}

result<std::string> get_streaming_events(server_version version, const std::vector<std::string>& subscription_ids,
                                         int connection_timeout_minutes) {
  if (error e = require(version, "GetStreamingEvents"); !e.ok()) return e;
  if (subscription_ids.empty()) return error{errc::invalid_argument, "subscription_ids: none given"};
  if (subscription_ids.size() > max_streaming_subscriptions) {
    return error{errc::invalid_argument, "subscription_ids: more than " + std::to_string(max_streaming_subscriptions) +
                                             " on one connection"};
  }
  if (connection_timeout_minutes < 1 || connection_timeout_minutes > 30) {
    return error{errc::invalid_argument, "connection_timeout_minutes must be 1-30"};
  }
  std::string out = "<m:GetStreamingEvents><m:SubscriptionIds>";
  for (std::size_t i = 0; i < subscription_ids.size(); ++i) {
    if (error e = check_token(subscription_ids[i], "subscription_ids[" + std::to_string(i) + "]", false); !e.ok()) {
      return e;
    }
    out += "<t:SubscriptionId>" + xml_escape(subscription_ids[i]) + "</t:SubscriptionId>";
  }
  out += "</m:SubscriptionIds><m:ConnectionTimeout>" + std::to_string(connection_timeout_minutes) +
         "</m:ConnectionTimeout></m:GetStreamingEvents>";
  return out;
}

result<std::string> unsubscribe(server_version, std::string_view subscription_id) {
  if (error e = check_token(subscription_id, "subscription_id", false); !e.ok()) return e;
  return "<m:Unsubscribe><m:SubscriptionId>" + xml_escape(subscription_id) + "</m:SubscriptionId></m:Unsubscribe>";
}

result<std::string> autodiscover_request(std::string_view email) {
  if (error e = detail::check_address(email, "email"); !e.ok()) return e;
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover "
         "xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request>"
         "<EMailAddress>" +
         xml_escape(email) +
         "</EMailAddress><AcceptableResponseSchema>"
         "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
         "</AcceptableResponseSchema></Request></Autodiscover>";
}

}  // namespace mailbroker::ews
