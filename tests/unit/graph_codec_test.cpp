// The Graph request side: service roots, mailbox roots, percent-encoding, links, and every
// request builder compared as exact strings (requests.hpp promises deterministic output).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/base64.hpp"
#include "protocol/graph/batch.hpp"
#include "protocol/graph/endpoints.hpp"
#include "protocol/graph/requests.hpp"

namespace mailbroker::graph {
namespace {

using namespace std::chrono;

const std::string select_encoded =
    "id%2CchangeKey%2Csubject%2Cfrom%2CtoRecipients%2CccRecipients%2CreceivedDateTime%2CsentDateTime%2CisRead%2Cflag%"
    "2ChasAttachments%2CinternetMessageId";

time_point at(int y, unsigned m, unsigned d, int h = 0) {
  return sys_days{year{y} / month{m} / day{d}} + hours{h};
}

// ---- Endpoints --------------------------------------------------------------------------

TEST(GraphEndpoints, ServiceRootPerCloud) {
  EXPECT_EQ(service_root(cloud::global).value(), "https://graph.microsoft.com/v1.0");
  EXPECT_EQ(service_root(cloud::us_gov_high).value(), "https://graph.microsoft.us/v1.0");
  EXPECT_EQ(service_root(cloud::custom, "https://127.0.0.1:8443/").value(), "https://127.0.0.1:8443/v1.0");
  EXPECT_EQ(service_root(cloud::custom, "https://127.0.0.1:8443/graph").value(), "https://127.0.0.1:8443/graph/v1.0");
  EXPECT_EQ(service_root(cloud::custom, "http://127.0.0.1:8080", true).value(), "http://127.0.0.1:8080/v1.0");
}

TEST(GraphEndpoints, BadBaseUrlsAreRefusedWithoutEchoingThem) {
  for (const char* bad : {"", "http://127.0.0.1:8080", "https://user:hunter2@127.0.0.1", "https://h/?q=1", "ftp://h",
                          "https://h/#frag"}) {
    auto r = service_root(cloud::custom, bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find("graph base URL"), std::string::npos);
    EXPECT_EQ(r.err().message.find("hunter2"), std::string::npos);
  }
  EXPECT_FALSE(service_root(cloud::global, "https://127.0.0.1").ok());
}

TEST(GraphEndpoints, DefaultScope) {
  EXPECT_EQ(default_scope(cloud::global).value(), "https://graph.microsoft.com/.default");
  EXPECT_EQ(default_scope(cloud::us_gov_high).value(), "https://graph.microsoft.us/.default");
  EXPECT_EQ(default_scope(cloud::custom, "https://127.0.0.1:8443/graph").value(), "https://127.0.0.1:8443/.default");
}

TEST(GraphEndpoints, MailboxRootEncodesTheUser) {
  EXPECT_EQ(mailbox_root("").value(), "/me");
  EXPECT_EQ(mailbox_root("bot@contoso.com").value(), "/users/bot%40contoso.com");
  EXPECT_EQ(mailbox_root("100%real+x@contoso.com").value(), "/users/100%25real%2Bx%40contoso.com");
  EXPECT_EQ(mailbox_root("o'brien@contoso.com").value(), "/users/o%27brien%40contoso.com");
  EXPECT_EQ(mailbox_root("87d349ed-44d7-43e1-9a83-5f2406dee5bd").value(), "/users/87d349ed-44d7-43e1-9a83-5f2406dee5bd");
  for (const char* bad : {"a b@c", "a/b@c", "a\r\n@c", "a\\b"}) {
    auto r = mailbox_root(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find("graph mailbox"), std::string::npos);
  }
  EXPECT_FALSE(mailbox_root(std::string(321, 'a')).ok());
}

TEST(GraphEndpoints, PercentEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(percent_encode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(percent_encode("a b+c/d=e'f%"), "a%20b%2Bc%2Fd%3De%27f%25");
  EXPECT_EQ(percent_encode("\xC3\xA9"), "%C3%A9");
}

TEST(GraphEndpoints, WellKnownFolders) {
  EXPECT_EQ(well_known_folder("INBOX"), "inbox");
  EXPECT_EQ(well_known_folder("SentItems"), "sentitems");
  EXPECT_EQ(well_known_folder("Inbox/Sub"), "");
  EXPECT_EQ(folder_path("/me", "Inbox", "folder").value(), "/me/mailFolders/inbox");
  EXPECT_EQ(folder_path("/me", "AAMkAGI2=", "folder").value(), "/me/mailFolders/AAMkAGI2%3D");
  EXPECT_EQ(folder_path("/me", "", "folder").err().code, errc::invalid_argument);
  EXPECT_EQ(message_path("/me", "AAMk/+=", "item id").value(), "/me/messages/AAMk%2F%2B%3D");
  EXPECT_EQ(message_path("/me", std::string(1025, 'A'), "item id").err().code, errc::invalid_argument);
}

TEST(GraphEndpoints, RelativeLinkStaysOnTheServiceRoot) {
  const std::string root = "https://graph.microsoft.com/v1.0";
  EXPECT_EQ(relative_link(root, root + "/me/mailFolders/inbox/messages?%24skip=10", "next link").value(),
            "/me/mailFolders/inbox/messages?%24skip=10");
  EXPECT_EQ(relative_link(root, "HTTPS://GRAPH.microsoft.com/v1.0/me/messages?$skiptoken=a b", "next link").value(),
            "/me/messages?$skiptoken=a%20b");
  for (const std::string& bad :
       {std::string("https://evil.example/v1.0/me/messages"), std::string("https://graph.microsoft.com.evil/v1.0/me"),
        std::string("https://graph.microsoft.com/v1.0"), std::string("https://graph.microsoft.com/v1.0x/me"),
        std::string("/me/messages"), root + "/me\r\nHost: evil", root + "/me#x", root + "/" + std::string(17000, 'a')}) {
    auto r = relative_link(root, bad, "next link");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.err().code, errc::failed_precondition);
    EXPECT_EQ(r.err().message.find("evil"), std::string::npos);
  }
}

// ---- Folders and listing ------------------------------------------------------------------

TEST(GraphRequests, FolderListings) {
  const std::string sel = "$select=id%2CdisplayName%2CparentFolderId%2CchildFolderCount%2CunreadItemCount%2CtotalItemCount";
  auto top = list_folders("/me", "", 100).value();
  EXPECT_EQ(top.method, "GET");
  EXPECT_EQ(top.url, "/me/mailFolders?" + sel + "&$top=100");
  EXPECT_TRUE(top.body.empty());
  EXPECT_EQ(list_folders("/users/a%40b", "inbox", 10).value().url,
            "/users/a%40b/mailFolders/inbox/childFolders?" + sel + "&$top=10");
  EXPECT_EQ(get_folder("/me", "Inbox").value().url, "/me/mailFolders/inbox?" + sel);
  EXPECT_EQ(list_folders("/me", "", 0).err().code, errc::invalid_argument);
  EXPECT_EQ(list_folders("/me", "", 1001).err().code, errc::invalid_argument);
}

TEST(GraphRequests, ListMessagesWithoutCriteriaHasNoFilter) {
  message_query q;
  q.top = 50;
  EXPECT_EQ(list_messages("/me", "inbox", q).value().url,
            "/me/mailFolders/inbox/messages?$select=" + select_encoded + "&$orderby=receivedDateTime%20asc&$top=50");
  q.newest_first = true;
  q.with_size = true;
  EXPECT_EQ(list_messages("/me", "inbox", q).value().url,
            "/me/mailFolders/inbox/messages?$select=" + select_encoded +
                "&$expand=singleValueExtendedProperties%28%24filter%3Did%20eq%20%27Integer%200x0E08%27%29"
                "&$orderby=receivedDateTime%20desc&$top=50");
}

TEST(GraphRequests, ListMessagesFilterPutsReceivedDateTimeFirst) {
  message_query q;
  q.is_read = false;
  q.top = 10;
  // Only isRead: receivedDateTime still leads (the $orderby property), with the 1900 floor.
  EXPECT_EQ(list_messages("/me", "inbox", q).value().url,
            "/me/mailFolders/inbox/messages?$select=" + select_encoded +
                "&$filter=receivedDateTime%20ge%201900-01-01T00%3A00%3A00Z%20and%20isRead%20eq%20false"
                "&$orderby=receivedDateTime%20asc&$top=10");
  q.since = at(2026, 12, 1);
  q.before = at(2026, 12, 6, 13);
  q.is_read = true;
  q.from = "bob@example.com";
  q.subject_contains = "Invoice";
  const std::string url = list_messages("/me", "inbox", q).value().url;
  const std::string filter =
      "receivedDateTime ge 2026-12-01T00:00:00Z and receivedDateTime lt 2026-12-06T13:00:00Z and isRead eq true and "
      "from/emailAddress/address eq 'bob@example.com' and contains(subject,'Invoice')";
  EXPECT_NE(url.find("&$filter=" + percent_encode(filter) + "&"), std::string::npos) << url;
}

TEST(GraphRequests, FilterStringsDoubleQuotesAndEncodeUnicode) {
  EXPECT_EQ(odata_string("O'Brien"), "'O''Brien'");
  EXPECT_EQ(odata_string("''"), "''''''");
  message_query q;
  q.from = "o'brien@example.com";
  q.subject_contains = "caf\xC3\xA9 'quoted' 100% & more+";
  const std::string url = list_messages("/me", "inbox", q).value().url;
  const std::string filter =
      "receivedDateTime ge 1900-01-01T00:00:00Z and from/emailAddress/address eq 'o''brien@example.com' and "
      "contains(subject,'caf\xC3\xA9 ''quoted'' 100% & more+')";
  EXPECT_NE(url.find("&$filter=" + percent_encode(filter) + "&"), std::string::npos) << url;
  // Nothing of the text survives unencoded that could end the value or the query.
  EXPECT_NE(url.find("caf%C3%A9%20%27%27quoted%27%27%20100%25%20%26%20more%2B"), std::string::npos) << url;
}

TEST(GraphRequests, PartialFromSearchesNameAndAddress) {
  message_query q;
  q.from = "alice";
  const std::string url = list_messages("/me", "inbox", q).value().url;
  const std::string filter =
      "receivedDateTime ge 1900-01-01T00:00:00Z and (contains(from/emailAddress/address,'alice') or "
      "contains(from/emailAddress/name,'alice'))";
  EXPECT_NE(url.find("&$filter=" + percent_encode(filter) + "&"), std::string::npos) << url;
}

TEST(GraphRequests, ListMessagesRefusesBadQueries) {
  message_query q;
  q.top = 0;
  EXPECT_EQ(list_messages("/me", "inbox", q).err().code, errc::invalid_argument);
  q.top = 10;
  q.subject_contains = std::string(1025, 'x');
  EXPECT_NE(list_messages("/me", "inbox", q).err().message.find("subject"), std::string::npos);
  q.subject_contains = "a\nb";
  EXPECT_EQ(list_messages("/me", "inbox", q).err().code, errc::invalid_argument);
  q.subject_contains = "\xFF";
  EXPECT_EQ(list_messages("/me", "inbox", q).err().code, errc::invalid_argument);
  q.subject_contains.clear();
  q.since = at(2026, 12, 6);
  q.before = at(2026, 12, 6);
  EXPECT_NE(list_messages("/me", "inbox", q).err().message.find("since"), std::string::npos);
  q.since.reset();
  EXPECT_EQ(list_messages("/me", "", q).err().code, errc::invalid_argument);
}

TEST(GraphRequests, GetMessageAndMime) {
  EXPECT_EQ(get_message("/me", "AAMk=", false).value().url, "/me/messages/AAMk%3D?$select=" + select_encoded);
  auto mime = get_mime("/users/x%40y", "AAMk=").value();
  EXPECT_EQ(mime.method, "GET");
  EXPECT_EQ(mime.url, "/users/x%40y/messages/AAMk%3D/$value");
  EXPECT_EQ(get_mime("/me", "").err().code, errc::invalid_argument);
}

// ---- Changing messages ---------------------------------------------------------------------

TEST(GraphRequests, PatchReadAndFlag) {
  auto both = update_message("/me", "id1", true, true).value();
  EXPECT_EQ(both.method, "PATCH");
  EXPECT_EQ(both.url, "/me/messages/id1");
  EXPECT_EQ(both.content_type, "application/json");
  EXPECT_EQ(both.body, R"({"flag":{"flagStatus":"flagged"},"isRead":true})");
  EXPECT_EQ(update_message("/me", "id1", false, std::nullopt).value().body, R"({"isRead":false})");
  EXPECT_EQ(update_message("/me", "id1", std::nullopt, false).value().body, R"({"flag":{"flagStatus":"notFlagged"}})");
  EXPECT_EQ(update_message("/me", "id1", std::nullopt, std::nullopt).err().code, errc::invalid_argument);
}

TEST(GraphRequests, MoveCopyDelete) {
  auto move = move_message("/me", "id1", "DeletedItems").value();
  EXPECT_EQ(move.method, "POST");
  EXPECT_EQ(move.url, "/me/messages/id1/move");
  EXPECT_EQ(move.body, R"({"destinationId":"deleteditems"})");
  EXPECT_EQ(copy_message("/me", "id1", "AAMkFolder\"x").value().body, R"({"destinationId":"AAMkFolder\"x"})");
  EXPECT_EQ(copy_message("/me", "id1", "AAMkFolder").value().url, "/me/messages/id1/copy");
  EXPECT_EQ(move_message("/me", "id1", "").err().code, errc::invalid_argument);
  EXPECT_EQ(move_message("/me", "id1", "a\x01").err().code, errc::invalid_argument);
  auto del = delete_message("/me", "id1", false).value();
  EXPECT_EQ(del.method, "DELETE");
  EXPECT_EQ(del.url, "/me/messages/id1");
  auto gone = delete_message("/me", "id1", true).value();
  EXPECT_EQ(gone.method, "POST");
  EXPECT_EQ(gone.url, "/me/messages/id1/permanentDelete");
}

// ---- Sending ---------------------------------------------------------------------------------

TEST(GraphRequests, SendMailJson) {
  outgoing_message m;
  m.subject = "Meet for lunch? \"today\"";
  m.body = "The new cafeteria is open.\n\xE2\x9C\x93";
  m.to = {{"Fanny Downs", "fannyd@contoso.com"}};
  m.cc = {{"", "danas@contoso.com"}};
  auto r = send_mail("/me", m, false).value();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "/me/sendMail");
  EXPECT_EQ(r.body,
            R"({"message":{"body":{"content":"The new cafeteria is open.\n)"
            "\xE2\x9C\x93"
            R"(","contentType":"Text"},"ccRecipients":[{"emailAddress":{"address":"danas@contoso.com"}}],)"
            R"("subject":"Meet for lunch? \"today\"","toRecipients":[{"emailAddress":{"address":"fannyd@contoso.com",)"
            R"("name":"Fanny Downs"}}]},"saveToSentItems":false})");
  m.body_is_html = true;
  EXPECT_NE(send_mail("/me", m, true).value().body.find(R"("contentType":"HTML")"), std::string::npos);
}

TEST(GraphRequests, SendMailRefusesBadRecipients) {
  outgoing_message m;
  EXPECT_NE(send_mail("/me", m, true).err().message.find("recipients"), std::string::npos);
  for (const char* bad : {"", "nobody", "@x", "x@", "a b@c", "a\x01@c", "\xFF@c"}) {
    m.to = {{"", bad}};
    auto r = send_mail("/me", m, true);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.err().message.find("toRecipients"), std::string::npos) << r.err().message;
  }
  m.to = {{"", "a@b"}};
  m.body = "bad \x01 control";
  EXPECT_NE(send_mail("/me", m, true).err().message.find("body"), std::string::npos);
}

TEST(GraphRequests, SendMime) {
  const std::string mime = "From: a@b\r\nTo: c@d\r\nSubject: hi\r\n\r\nbody\r\n";
  auto r = send_mime("/me", mime).value();
  EXPECT_EQ(r.url, "/me/sendMail");
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(r.body, base64_encode(mime));
  EXPECT_EQ(r.body.find('\n'), std::string::npos);
  EXPECT_EQ(send_mime("/me", "").err().code, errc::invalid_argument);
  EXPECT_EQ(send_mime("/me", std::string(max_send_mime_bytes + 1, 'a')).err().code, errc::invalid_argument);
}

TEST(GraphRequests, ReplyReplyAllForward) {
  auto r = reply("/me", "id1", reply_kind::reply, "Thanks!", {}).value();
  EXPECT_EQ(r.url, "/me/messages/id1/reply");
  EXPECT_EQ(r.body, R"({"comment":"Thanks!"})");
  auto all = reply("/me", "id1", reply_kind::reply_all, "ok", {{"", "x@y.com"}}).value();
  EXPECT_EQ(all.url, "/me/messages/id1/replyAll");
  EXPECT_EQ(all.body, R"({"comment":"ok","message":{"toRecipients":[{"emailAddress":{"address":"x@y.com"}}]}})");
  auto fwd = reply("/me", "id1", reply_kind::forward, "FYI", {{"Dana", "danas@contoso.com"}}).value();
  EXPECT_EQ(fwd.url, "/me/messages/id1/forward");
  EXPECT_EQ(fwd.body, R"({"comment":"FYI","toRecipients":[{"emailAddress":{"address":"danas@contoso.com","name":"Dana"}}]})");
  EXPECT_NE(reply("/me", "id1", reply_kind::forward, "FYI", {}).err().message.find("to"), std::string::npos);
}

// ---- Delta and batch ----------------------------------------------------------------------------

TEST(GraphRequests, DeltaFirstRound) {
  auto d = delta("/users/bot%40contoso.com", "inbox", 50, true).value();
  EXPECT_EQ(d.method, "GET");
  EXPECT_EQ(d.url, "/users/bot%40contoso.com/mailFolders/inbox/messages/delta?$select=" + select_encoded +
                       "&changeType=created");
  ASSERT_EQ(d.headers.size(), 1u);
  EXPECT_EQ(d.headers[0].first, "Prefer");
  EXPECT_EQ(d.headers[0].second, "odata.maxpagesize=50");
  EXPECT_EQ(delta("/me", "inbox", 0, false).err().code, errc::invalid_argument);
  EXPECT_TRUE(follow("/me/mailFolders/inbox/messages/delta?$deltatoken=x").headers.empty());
}

TEST(GraphBatch, RequestBody) {
  std::vector<request> list = {update_message("/me", "id1", true, std::nullopt).value(),
                               delete_message("/me", "id2", false).value(),
                               send_mime("/me", "Subject: x\r\n\r\ny").value()};
  auto b = batch(list).value();
  EXPECT_EQ(b.method, "POST");
  EXPECT_EQ(b.url, "/$batch");
  EXPECT_EQ(b.content_type, "application/json");
  EXPECT_EQ(b.body,
            R"({"requests":[{"body":{"isRead":true},"headers":{"Content-Type":"application/json"},"id":"1",)"
            R"("method":"PATCH","url":"/me/messages/id1"},{"id":"2","method":"DELETE","url":"/me/messages/id2"},)"
            R"({"body":")" + base64_encode("Subject: x\r\n\r\ny") +
                R"(","headers":{"Content-Type":"text/plain"},"id":"3","method":"POST","url":"/me/sendMail"}]})");
}

TEST(GraphBatch, RequestLimits) {
  EXPECT_EQ(batch({}).err().code, errc::invalid_argument);
  std::vector<request> many(21, delete_message("/me", "id", false).value());
  EXPECT_NE(batch(many).err().message.find("20"), std::string::npos);
  many.resize(20);
  EXPECT_TRUE(batch(many).ok());
  request absolute = delete_message("/me", "id", false).value();
  absolute.url = "https://graph.microsoft.com/v1.0/me/messages/id";
  EXPECT_EQ(batch({absolute}).err().code, errc::invalid_argument);
}

}  // namespace
}  // namespace mailbroker::graph
