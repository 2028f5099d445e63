// The Graph response side on literal bodies shaped like the samples in Microsoft's Graph
// reference (list messages, list mailFolders, message delta, JSON batching, errors),
// with our own values, plus malformed and hostile bodies.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "protocol/graph/batch.hpp"
#include "protocol/graph/errors.hpp"
#include "protocol/graph/json_text.hpp"
#include "protocol/graph/responses.hpp"

namespace mailbroker::graph {
namespace {

using namespace std::chrono;

time_point at(int y, unsigned m, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days{year{y} / month{m} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

const char* const message_list_sample = R"({
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('bot%40contoso.com')/mailFolders('inbox')/messages",
  "value": [
    {
      "@odata.etag": "W/\"CQAAABYAAAB8\"",
      "id": "AAMkAGI2THVSAAA=",
      "changeKey": "CQAAABYAAAB8",
      "subject": "Quarterly report",
      "from": {"emailAddress": {"name": "Megan Bowen", "address": "MeganB@contoso.com"}},
      "toRecipients": [
        {"emailAddress": {"name": "Bot", "address": "bot@contoso.com"}},
        {"emailAddress": {"name": "Alex Wilber", "address": "AlexW@contoso.com"}}
      ],
      "ccRecipients": [],
      "receivedDateTime": "2026-12-06T12:50:10Z",
      "sentDateTime": "2026-12-06T12:50:08Z",
      "isRead": true,
      "flag": {"flagStatus": "flagged"},
      "hasAttachments": true,
      "internetMessageId": "<MW2PR00MB01@contoso.com>",
      "singleValueExtendedProperties": [{"id": "Integer 0xe08", "value": "48213"}]
    },
    {
      "id": "AAMkAGI2THVTAAA=",
      "changeKey": "CQAAABYAAAB9",
      "subject": "",
      "from": {"emailAddress": {"name": "", "address": "noreply@fabrikam.com"}},
      "receivedDateTime": "2026-12-06T13:01:00Z",
      "sentDateTime": "2026-12-06T13:00:59Z",
      "isRead": false,
      "flag": {"flagStatus": "notFlagged"},
      "hasAttachments": false,
      "internetMessageId": "<x@fabrikam.com>"
    }
  ],
  "@odata.nextLink": "https://graph.microsoft.com/v1.0/users/bot%40contoso.com/mailFolders/inbox/messages?%24top=2&%24skip=2"
})";

// ---- Message lists ---------------------------------------------------------------------

TEST(GraphResponses, MessageListMapsEverySummaryField) {
  auto page = parse_message_list(message_list_sample);
  ASSERT_TRUE(page.ok()) << page.err().message;
  ASSERT_EQ(page->messages.size(), 2u);
  const auto& m = page->messages[0];
  EXPECT_EQ(m.uid, 0u);
  EXPECT_EQ(m.item_id, "AAMkAGI2THVSAAA=");
  EXPECT_EQ(m.change_key, "CQAAABYAAAB8");
  EXPECT_EQ(m.subject, "Quarterly report");
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].name, "Megan Bowen");
  EXPECT_EQ(m.from[0].address, "MeganB@contoso.com");
  ASSERT_EQ(m.to.size(), 2u);
  EXPECT_EQ(m.to[1].address, "AlexW@contoso.com");
  EXPECT_TRUE(m.cc.empty());
  EXPECT_EQ(m.internal_date, at(2026, 12, 6, 12, 50, 10));
  EXPECT_EQ(m.date, at(2026, 12, 6, 12, 50, 8));
  EXPECT_TRUE(m.seen);
  EXPECT_EQ(m.flags, (std::vector<std::string>{"\\Seen", "\\Flagged"}));
  EXPECT_TRUE(m.has_attachments);
  EXPECT_EQ(m.message_id, "<MW2PR00MB01@contoso.com>");
  EXPECT_EQ(m.size, 48213u);
  EXPECT_FALSE(m.summary_incomplete);

  const auto& n = page->messages[1];
  EXPECT_FALSE(n.seen);
  EXPECT_TRUE(n.flags.empty());
  EXPECT_EQ(n.size, 0u);
  EXPECT_FALSE(n.summary_incomplete);
  EXPECT_EQ(page->next_link,
            "https://graph.microsoft.com/v1.0/users/bot%40contoso.com/mailFolders/inbox/messages?%24top=2&%24skip=2");
}

TEST(GraphResponses, LastPageHasNoNextLinkAndCountIsRead) {
  auto page = parse_message_list(R"({"@odata.count": 7, "value": []})");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->messages.empty());
  EXPECT_TRUE(page->next_link.empty());
  EXPECT_EQ(page->count, 7u);
}

TEST(GraphResponses, WrongTypesMarkTheSummaryIncomplete) {
  auto page = parse_message_list(R"({"value": [
    {"id": "a", "subject": 5, "isRead": "yes"},
    {"id": "b", "receivedDateTime": "yesterday"},
    {"id": "c", "from": "someone"},
    {"id": "d", "toRecipients": {"emailAddress": {}}},
    {"id": "e", "singleValueExtendedProperties": [{"id": "Integer 0xE08", "value": "-1"}]},
    {"subject": "no id: skipped"},
    17,
    {"id": "f", "subject": null, "flag": null}
  ]})");
  ASSERT_TRUE(page.ok()) << page.err().message;
  ASSERT_EQ(page->messages.size(), 6u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(page->messages[i].summary_incomplete) << i;
  EXPECT_FALSE(page->messages[0].seen);
  EXPECT_EQ(page->messages[4].size, 0u);
  EXPECT_FALSE(page->messages[5].summary_incomplete);
  EXPECT_EQ(page->messages[5].item_id, "f");
}

TEST(GraphResponses, ControlCharactersAndBadTextBecomeReplacementCharacters) {
  auto page = parse_message_list(R"({"value": [{"id": "a",
    "subject": "caf\u00e9 \u0001bell\u0007 tab\tok \ud83d\ude00 \ufffe",
    "from": {"emailAddress": {"name": "O'Brien \"Bob\"", "address": "o'brien@example.com"}}}]})");
  ASSERT_TRUE(page.ok()) << page.err().message;
  const auto& m = page->messages[0];
  EXPECT_EQ(m.subject, "caf\xC3\xA9 \xEF\xBF\xBD" "bell\xEF\xBF\xBD tab\tok \xF0\x9F\x98\x80 \xEF\xBF\xBD");
  EXPECT_EQ(m.from[0].name, "O'Brien \"Bob\"");
  EXPECT_EQ(m.from[0].address, "o'brien@example.com");
}

TEST(GraphResponses, LongTextIsCutAtACharacterBoundary) {
  std::string subject;
  while (subject.size() < max_text_bytes + 10) subject += "\xE2\x82\xAC";  // 3-byte euro signs
  auto page = parse_message_list(R"({"value":[{"id":"a","subject":")" + subject + R"("}]})");
  ASSERT_TRUE(page.ok());
  const std::string& s = page->messages[0].subject;
  EXPECT_LE(s.size(), max_text_bytes);
  EXPECT_EQ(s.size() % 3, 0u);
  EXPECT_EQ(clean_text(s), s);
}

TEST(GraphResponses, MalformedBodiesNameTheHttpStatus) {
  for (const std::string& body : {std::string(""), std::string("  "), std::string("<html><body>Bad gateway</body></html>"),
                                 std::string(R"({"value": [{"id": "a")"), std::string("[1,2]"), std::string("null")}) {
    auto page = parse_message_list(body, 200);
    ASSERT_FALSE(page.ok()) << body;
    EXPECT_EQ(page.err().code, errc::unavailable);
    EXPECT_TRUE(has(page.err().message, "HTTP 200")) << page.err().message;
  }
  EXPECT_TRUE(has(parse_message_list("<html>", 200).err().message, "HTML"));
  EXPECT_TRUE(has(parse_message_list(R"({"value": [)", 200).err().message, "truncated"));
  EXPECT_TRUE(has(parse_message_list(R"({"value": 3})", 200).err().message, "value"));
}

TEST(GraphResponses, DeepNestingAndHugeBodiesAreRefused) {
  const std::string deep = R"({"value":[{"id":"a","x":)" + std::string(100000, '[') + std::string(100000, ']') + "}]}";
  auto page = parse_message_list(deep);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.err().code, errc::unavailable);
  EXPECT_TRUE(has(page.err().message, "deeper"));
  // Brackets inside strings do not count.
  EXPECT_TRUE(parse_message_list(R"({"value":[{"id":"a","subject":")" + std::string(1000, '[') + R"(\""}]})").ok());
  EXPECT_EQ(json_depth(R"({"a":"\"[[["})"), 1u);

  const std::string huge(max_body_bytes + 1, ' ');
  EXPECT_EQ(parse_message_list(huge).err().code, errc::resource_exhausted);
}

TEST(GraphResponses, TooManyEntriesIsResourceExhausted) {
  std::string body = R"({"value":[)";
  for (std::size_t i = 0; i <= max_entries_per_page; ++i) body += (i ? ",{}" : "{}");
  body += "]}";
  EXPECT_EQ(parse_message_list(body).err().code, errc::resource_exhausted);
}

TEST(GraphResponses, TooManyRecipientsAreCut) {
  std::string body = R"({"id":"a","toRecipients":[)";
  for (std::size_t i = 0; i < max_recipients_kept + 5; ++i) {
    body += (i ? "," : "") + std::string(R"({"emailAddress":{"address":"x@y"}})");
  }
  body += "]}";
  auto m = parse_message(body);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->to.size(), max_recipients_kept);
  EXPECT_TRUE(m->summary_incomplete);
}

TEST(GraphResponses, MovedMessageHasItsNewId) {
  auto m = parse_message(R"({"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('x')/messages/$entity",
    "id":"AAMkNEWID=","changeKey":"CQAAAB","parentFolderId":"AAMkDeleted","subject":"s","isRead":false})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->item_id, "AAMkNEWID=");
  EXPECT_EQ(parse_message(R"({"subject":"no id"})").err().code, errc::unavailable);
}

// ---- Folders ---------------------------------------------------------------------------

TEST(GraphResponses, FolderList) {
  auto page = parse_folder_list(R"({
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/mailFolders",
    "value": [
      {"id": "AAMkInbox=", "displayName": "Inbox", "parentFolderId": "AAMkRoot=", "childFolderCount": 2,
       "unreadItemCount": 59, "totalItemCount": 60, "sizeInBytes": 1024, "isHidden": false},
      {"id": "AAMkSent=", "displayName": "Sent Items", "parentFolderId": "AAMkRoot=", "childFolderCount": 0,
       "unreadItemCount": 0, "totalItemCount": 0},
      {"displayName": "no id"},
      {"id": "AAMkOdd=", "displayName": "Odd", "childFolderCount": -4, "unreadItemCount": "many"}
    ],
    "@odata.nextLink": "https://graph.microsoft.com/v1.0/me/mailFolders?%24skip=10"
  })");
  ASSERT_TRUE(page.ok()) << page.err().message;
  ASSERT_EQ(page->folders.size(), 3u);
  EXPECT_EQ(page->folders[0].id, "AAMkInbox=");
  EXPECT_EQ(page->folders[0].display_name, "Inbox");
  EXPECT_EQ(page->folders[0].parent_id, "AAMkRoot=");
  EXPECT_EQ(page->folders[0].child_folder_count, 2u);
  EXPECT_EQ(page->folders[0].unread_item_count, 59u);
  EXPECT_EQ(page->folders[0].total_item_count, 60u);
  EXPECT_EQ(page->folders[2].child_folder_count, 0u);
  EXPECT_EQ(page->folders[2].unread_item_count, 0u);
  EXPECT_EQ(page->next_link, "https://graph.microsoft.com/v1.0/me/mailFolders?%24skip=10");
  auto one = parse_folder(R"({"id":"AAMkInbox=","displayName":"Inbox"})");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->display_name, "Inbox");
}

// ---- Delta -----------------------------------------------------------------------------

TEST(GraphResponses, DeltaPages) {
  auto middle = parse_delta_page(R"j({
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(message)",
    "@odata.nextLink": "https://graph.microsoft.com/v1.0/me/mailfolders('inbox')/messages/delta?$skiptoken=GwcBoTmPuoTQWfcsAbkYM",
    "value": [
      {"@odata.type": "#microsoft.graph.message", "@odata.etag": "W/\"CQAAABYAAAB\"", "id": "AAMkNew=",
       "subject": "New arrival", "isRead": false, "receivedDateTime": "2026-12-06T14:00:00Z"},
      {"@odata.type": "#microsoft.graph.message", "id": "AAMkGone=", "@removed": {"reason": "deleted"}},
      {"id": "AAMkOther=", "@removed": {}}
    ]
  })j");
  ASSERT_TRUE(middle.ok()) << middle.err().message;
  ASSERT_EQ(middle->changed.size(), 1u);
  EXPECT_EQ(middle->changed[0].item_id, "AAMkNew=");
  EXPECT_EQ(middle->changed[0].subject, "New arrival");
  ASSERT_EQ(middle->removed.size(), 2u);
  EXPECT_EQ(middle->removed[0].id, "AAMkGone=");
  EXPECT_EQ(middle->removed[0].reason, "deleted");
  EXPECT_EQ(middle->removed[1].reason, "");
  EXPECT_FALSE(middle->next_link.empty());
  EXPECT_TRUE(middle->delta_link.empty());

  auto last = parse_delta_page(R"j({"value": [],
    "@odata.deltaLink": "https://graph.microsoft.com/v1.0/me/mailfolders('inbox')/messages/delta?$deltatoken=LztZwWjo5IivWBhyxw5rAKHQ"})j");
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->next_link.empty());
  EXPECT_TRUE(has(last->delta_link, "$deltatoken=LztZwWjo5IivWBhyxw5rAKHQ"));

  auto endless = parse_delta_page(R"({"value": []})");
  ASSERT_FALSE(endless.ok());
  EXPECT_EQ(endless.err().code, errc::unavailable);
}

// ---- Errors ----------------------------------------------------------------------------

const auto now = at(2026, 12, 6, 12, 0, 0);

std::string graph_error(std::string_view code, std::string_view message) {
  return R"({"error":{"code":")" + std::string(code) + R"(","message":")" + std::string(message) +
         R"(","innerError":{"date":"2026-12-06T12:00:00","request-id":"3f2c8e1a-0b5d-4a9e-9e3b-7c1d2e4f5a6b",)"
         R"("client-request-id":"3f2c8e1a-0b5d-4a9e-9e3b-7c1d2e4f5a6b"}}})";
}

TEST(GraphErrors, ItemNotFoundNamesTheItemCodeAndRequestId) {
  auto f = response_error(404, graph_error("ErrorItemNotFound", "The specified object was not found in the store."),
                          "", now, "item AAMkGone=");
  EXPECT_EQ(f.err.code, errc::not_found);
  EXPECT_EQ(f.code, "ErrorItemNotFound");
  EXPECT_EQ(f.request_id, "3f2c8e1a-0b5d-4a9e-9e3b-7c1d2e4f5a6b");
  EXPECT_TRUE(has(f.err.message, "Graph ErrorItemNotFound (HTTP 404, request-id 3f2c8e1a-0b5d-4a9e-9e3b-7c1d2e4f5a6b)"))
      << f.err.message;
  EXPECT_TRUE(has(f.err.message, "item AAMkGone= does not exist"));
  EXPECT_FALSE(f.retry_after);
}

TEST(GraphErrors, StatusAndCodeMapping) {
  struct row {
    int status;
    const char* code;
    errc expected;
  };
  for (const row& r : {row{401, "InvalidAuthenticationToken", errc::unauthenticated},
                       row{403, "ErrorAccessDenied", errc::permission_denied},
                       row{404, "ErrorInvalidUser", errc::not_found},
                       row{404, "MailboxNotEnabledForRESTAPI", errc::not_found},
                       row{400, "ErrorInvalidIdMalformed", errc::invalid_argument},
                       row{400, "BadRequest", errc::invalid_argument},
                       row{409, "ErrorIrresolvableConflict", errc::failed_precondition},
                       row{410, "SyncStateNotFound", errc::failed_precondition},
                       row{429, "ApplicationThrottled", errc::unavailable},
                       row{503, "ServiceUnavailable", errc::unavailable},
                       row{500, "ErrorInternalServerError", errc::unavailable},
                       row{405, "MethodNotAllowed", errc::internal},
                       row{400, "ErrorItemNotFound", errc::not_found}}) {
    auto f = response_error(r.status, graph_error(r.code, "m"), "", now);
    EXPECT_EQ(f.err.code, r.expected) << r.status << " " << r.code << ": " << f.err.message;
    EXPECT_TRUE(has(f.err.message, r.code));
  }
  EXPECT_TRUE(has(response_error(410, graph_error("SyncStateNotFound", "x"), "", now).err.message, "new delta round"));
  EXPECT_TRUE(has(response_error(401, graph_error("InvalidAuthenticationToken", "Access token has expired."), "", now)
                      .err.message,
                  "new token"));
}

TEST(GraphErrors, PermissionDeniedNamesTheMissingPermission) {
  auto f = response_error(403,
                          graph_error("ErrorAccessDenied",
                                      "Missing scope permissions on the request. API requires one of "
                                      "'Mail.ReadWrite, Mail.Send'. Scopes on the request 'User.Read'"),
                          "", now);
  EXPECT_EQ(f.err.code, errc::permission_denied);
  EXPECT_TRUE(has(f.err.message, "lacks the permission Mail.ReadWrite, Mail.Send or User.Read")) << f.err.message;
  auto generic = response_error(403, graph_error("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
                                "", now);
  EXPECT_TRUE(has(generic.err.message, "Mail.ReadWrite")) << generic.err.message;
}

TEST(GraphErrors, ThrottlingCarriesRetryAfter) {
  auto f = response_error(429, graph_error("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
                          "17", now);
  EXPECT_EQ(f.err.code, errc::unavailable);
  ASSERT_TRUE(f.retry_after);
  EXPECT_EQ(*f.retry_after, seconds{17});
  EXPECT_TRUE(has(f.err.message, "retry after 17 s"));
  auto no_header = response_error(503, "", "", now);
  EXPECT_EQ(no_header.retry_after, default_retry_after);
  auto date = response_error(429, "", "Sun, 06 Dec 2026 12:01:30 GMT", now);
  EXPECT_EQ(date.retry_after, seconds{90});
}

TEST(GraphErrors, HtmlAndTruncatedBodiesNameTheStatus) {
  auto html = response_error(502, "<html><head><title>502 Bad Gateway</title></head></html>", "", now);
  EXPECT_EQ(html.err.code, errc::unavailable);
  EXPECT_TRUE(has(html.err.message, "HTTP 502"));
  EXPECT_TRUE(has(html.err.message, "not a Graph error body"));
  auto truncated = response_error(400, R"({"error":{"code":"ErrorInvalidIdMal)", "", now);
  EXPECT_EQ(truncated.err.code, errc::unavailable);
  EXPECT_TRUE(has(truncated.err.message, "HTTP 400"));
  EXPECT_EQ(response_error(401, "<html>denied</html>", "", now).err.code, errc::unauthenticated);
}

TEST(GraphErrors, ServerTextIsCleanedCutAndNeverATokenEcho) {
  auto noisy = response_error(400, graph_error("BadRequest", "line1\\nline2\\u0001" + std::string(1000, 'x')), "", now);
  EXPECT_FALSE(has(noisy.err.message, "\n"));
  EXPECT_LT(noisy.err.message.size(), 500u);
  auto token = response_error(401, graph_error("InvalidAuthenticationToken", "Bearer eyJ0eXAiOiJKV1Qi.abc.def is bad"),
                              "", now);
  EXPECT_FALSE(has(token.err.message, "eyJ0eXAi"));
  auto odd_code = response_error(400, graph_error("Bad code <script>", "m"), "", now);
  EXPECT_EQ(odd_code.code, "");
  EXPECT_FALSE(has(odd_code.err.message, "<script>"));
}

TEST(GraphErrors, RetryAfterForms) {
  EXPECT_EQ(parse_retry_after("120", now), seconds{120});
  EXPECT_EQ(parse_retry_after(" 0 ", now), seconds{0});
  EXPECT_EQ(parse_retry_after("99999999999999999999999", now), max_retry_after);
  EXPECT_EQ(parse_retry_after("Sun, 06 Dec 2026 12:00:10 GMT", now), seconds{10});
  EXPECT_EQ(parse_retry_after("Sunday, 06-Dec-26 12:00:20 GMT", now), seconds{20});
  EXPECT_EQ(parse_retry_after("Sun Dec  6 12:00:30 2026", now), seconds{30});
  EXPECT_EQ(parse_retry_after("Sun, 06 Dec 2026 11:00:00 GMT", now), seconds{0});
  EXPECT_EQ(parse_retry_after("Mon, 07 Dec 2026 12:00:00 GMT", now), max_retry_after);
  for (const char* bad : {"", "soon", "-5", "1.5", "Sun, 31 Feb 2026 12:00:00 GMT", "Sun, 06 Dec 2026 25:00:00 GMT"}) {
    EXPECT_FALSE(parse_retry_after(bad, now)) << bad;
  }
}

// ---- Batch -----------------------------------------------------------------------------

TEST(GraphBatch, ResponsesPerId) {
  auto r = parse_batch(R"({"responses": [
    {"id": "2", "status": 204, "headers": {"Cache-Control": "private"}},
    {"id": "1", "status": 200, "headers": {"Content-Type": "application/json; odata.metadata=minimal"},
     "body": {"id": "AAMkMoved=", "subject": "s"}},
    {"id": "3", "status": 429, "headers": {"Retry-After": "7", "Content-Type": "application/json"},
     "body": {"error": {"code": "ApplicationThrottled", "message": "Too many requests",
                        "innerError": {"request-id": "rid-3"}}}},
    {"id": "4", "status": 404, "body": {"error": {"code": "ErrorItemNotFound", "message": "gone"}}},
    {"id": "5", "status": 200, "headers": {"Content-Type": "text/plain"}, "body": "RnJvbTogYUBi"},
    {"status": 200},
    {"id": "6", "status": "200"}
  ]})");
  ASSERT_TRUE(r.ok()) << r.err().message;
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0].id, "2");
  EXPECT_EQ((*r)[0].status, 204);
  EXPECT_TRUE((*r)[0].body.empty());
  EXPECT_TRUE(batch_member_error((*r)[0], now).err.ok());

  EXPECT_EQ((*r)[1].header("content-type"), "application/json; odata.metadata=minimal");
  EXPECT_TRUE((*r)[1].body_is_json);
  auto moved = parse_message((*r)[1].body);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->item_id, "AAMkMoved=");

  auto throttled = batch_member_error((*r)[2], now);
  EXPECT_EQ(throttled.err.code, errc::unavailable);
  EXPECT_EQ(throttled.retry_after, seconds{7});
  EXPECT_EQ(throttled.request_id, "rid-3");

  auto missing = batch_member_error((*r)[3], now, "item AAMkX=");
  EXPECT_EQ(missing.err.code, errc::not_found);
  EXPECT_TRUE(has(missing.err.message, "item AAMkX="));

  EXPECT_FALSE((*r)[4].body_is_json);
  EXPECT_EQ((*r)[4].body, "RnJvbTogYUBi");
}

TEST(GraphBatch, MalformedResponses) {
  EXPECT_EQ(parse_batch(R"({"value": []})").err().code, errc::unavailable);
  EXPECT_EQ(parse_batch("<html/>", 502).err().code, errc::unavailable);
  std::string many = R"({"responses":[)";
  for (int i = 0; i < 21; ++i) many += (i ? "," : "") + std::string(R"({"id":"1","status":200})");
  many += "]}";
  EXPECT_EQ(parse_batch(many).err().code, errc::resource_exhausted);
}

// ---- Dates -----------------------------------------------------------------------------

TEST(GraphText, Iso8601) {
  EXPECT_EQ(parse_iso8601("2026-12-06T12:50:10Z"), at(2026, 12, 6, 12, 50, 10));
  EXPECT_EQ(parse_iso8601("2026-12-06T12:50:10.1234567Z"), at(2026, 12, 6, 12, 50, 10) + nanoseconds{123456700});
  EXPECT_EQ(parse_iso8601("2026-12-06T13:50:10+01:00"), at(2026, 12, 6, 12, 50, 10));
  EXPECT_EQ(parse_iso8601("2026-12-06T12:50:10"), at(2026, 12, 6, 12, 50, 10));
  for (const char* bad : {"", "2026-02-30T00:00:00Z", "4501-01-01T00:00:00Z", "2026-12-06 12:50:10Z",
                          "2026-12-06T12:50:10+15:00", "2026-12-06T12:50:10.Z", "2026-12-06T12:50:10Zjunk"}) {
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
  }
  EXPECT_EQ(format_iso8601(at(2026, 1, 2, 3, 4, 5) + milliseconds{999}), "2026-01-02T03:04:05Z");
}

}  // namespace
}  // namespace mailbroker::graph
