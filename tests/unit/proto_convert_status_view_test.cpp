// StatusRequest.view: to_proto in the brief view leaves out the server's greeting and
// capabilities and nothing else; unknown view values are refused naming the field.
#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>

#include "daemon/proto_convert.hpp"

namespace mailbroker::session {
namespace {

namespace pb = daemon::pb;
using daemon::status_detail;

system_time at(std::int64_t seconds) { return system_time(std::chrono::seconds(seconds)); }

// A READY IMAP session with every optional part of a status set, so a field the brief
// view dropped by mistake shows up as a difference.
status_snapshot everything_set() {
  status_snapshot s;
  s.name = "bot-1";
  s.state = session_state::ready;
  s.state_since = at(1'800'000'000);
  s.host = "imap.example.org";
  s.port = 993;
  s.proto = protocol::imap;
  s.tls = tls_mode::implicit;
  s.tls_verified = true;
  s.greeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE] Dovecot ready.";
  for (const char* cap : {"IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "SORT", "THREAD=REFS",
                          "MULTIAPPEND", "UNSELECT", "CHILDREN", "NAMESPACE", "UIDPLUS", "CONDSTORE", "QRESYNC"}) {
    s.capabilities.emplace_back(cap);
  }
  s.auth_mode = "oauth2_client_credentials";
  s.username = "bot@example.org";
  s.connected_since = at(1'800'000'010);
  s.reconnect_count = 3;
  s.last_error = error_record{errc::unavailable, "connection reset by the server", at(1'800'000'005)};
  s.lease_count = 2;
  s.counters = {.commands_sent = 41, .bytes_in = 123456, .bytes_out = 7890, .connects = 4};
  s.close_reason = "server closed the connection";
  s.linger_until = at(1'800'000'600);
  auto& t = s.token.emplace();
  t.token_url = "https://login.example.org/token";
  t.mechanism = "XOAUTH2";
  t.valid_until = at(1'800'003'600);
  t.last_refresh = at(1'800'000'000);
  t.refresh_count = 5;
  t.last_refresh_error = error_record{errc::unauthenticated, "invalid_client", at(1'799'999'000)};
  auto& m = s.smtp.emplace();
  m.host = "smtp.example.org";
  m.port = 587;
  m.connected = true;
  m.messages_sent = 9;
  m.send_failures = 1;
  m.last_error = error_record{errc::invalid_argument, "550 mailbox unavailable", at(1'800'000'100)};
  s.watch_count = 1;
  s.waiting_for_login = login_wait{.ahead = 7, .since = at(1'800'000'001)};
  auto& h = s.http.emplace();
  h.connections = 2;
  h.requests = 99;
  h.mailbox = "/me";
  auto& pool = s.imap.emplace();
  pool.open = 2;
  pool.max = 3;
  pool.in_flight = 1;
  pool.extra_logins = 6;
  pool.last_extra_error = error_record{errc::resource_exhausted, "too many connections", at(1'800'000'200)};
  return s;
}

TEST(proto_convert_status_view, BriefLeavesOutGreetingAndCapabilitiesOnly) {
  const auto s = everything_set();
  pb::SessionStatus full, brief;
  daemon::to_proto(s, &full, status_detail::full);
  daemon::to_proto(s, &brief, status_detail::brief);

  EXPECT_EQ(full.server().capabilities_size(), 15);
  EXPECT_EQ(full.server().greeting(), s.greeting);
  EXPECT_EQ(brief.server().capabilities_size(), 0);
  EXPECT_TRUE(brief.server().greeting().empty());
  EXPECT_LT(brief.ByteSizeLong(), full.ByteSizeLong());

  // Everything else is the same, field for field.
  auto expected = full;
  expected.mutable_server()->clear_capabilities();
  expected.mutable_server()->clear_greeting();
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(expected, brief)) << diff;

  // ... and what an operator looks at is really there (not equal because both are empty).
  EXPECT_EQ(brief.name(), "bot-1");
  EXPECT_EQ(brief.state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(brief.state_since().seconds(), 1'800'000'000);
  EXPECT_EQ(brief.server().host(), "imap.example.org");
  EXPECT_EQ(brief.server().port(), 993u);
  EXPECT_EQ(brief.server().protocol(), pb::PROTOCOL_IMAP);
  EXPECT_EQ(brief.server().tls_mode(), pb::TLS_MODE_IMPLICIT);
  EXPECT_TRUE(brief.server().tls_verified());
  EXPECT_EQ(brief.auth_mode(), "oauth2_client_credentials");
  EXPECT_EQ(brief.username(), "bot@example.org");
  EXPECT_EQ(brief.lease_count(), 2u);
  EXPECT_EQ(brief.reconnect_count(), 3u);
  EXPECT_EQ(brief.last_error().code(), "UNAVAILABLE");
  EXPECT_EQ(brief.counters().commands_sent(), 41u);
  EXPECT_EQ(brief.counters().connects(), 4u);
  EXPECT_EQ(brief.token().refresh_count(), 5u);
  EXPECT_EQ(brief.token().last_refresh_error().code(), "UNAUTHENTICATED");
  EXPECT_EQ(brief.smtp().messages_sent(), 9u);
  EXPECT_EQ(brief.login_wait().ahead(), 7u);
  EXPECT_EQ(brief.http().requests(), 99u);
  EXPECT_EQ(brief.imap().open(), 2u);
  EXPECT_EQ(brief.imap().last_extra_error().code(), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(brief.close_reason(), "server closed the connection");
  EXPECT_TRUE(brief.has_linger_until());
  EXPECT_EQ(brief.watch_count(), 1u);
}

// Callers that do not choose (Connect's reply, Disconnect's, WatchStatus) get everything.
TEST(proto_convert_status_view, FullIsTheDefaultAndWatchEventsStayFull) {
  const auto s = everything_set();
  pb::SessionStatus plain;
  daemon::to_proto(s, &plain);
  EXPECT_EQ(plain.server().capabilities_size(), 15);
  EXPECT_FALSE(plain.server().greeting().empty());

  status_event ev;
  ev.status = s;
  ev.previous_state = session_state::authenticating;
  pb::SessionEvent event;
  daemon::to_proto(ev, &event);
  EXPECT_EQ(event.status().server().capabilities_size(), 15);
}

TEST(proto_convert_status_view, ViewValues) {
  for (const int v : {static_cast<int>(pb::STATUS_VIEW_UNSPECIFIED), static_cast<int>(pb::STATUS_VIEW_FULL)}) {
    auto d = daemon::status_detail_from_proto(v);
    ASSERT_TRUE(d.ok()) << v;
    EXPECT_EQ(d.value(), status_detail::full) << v;
  }
  auto brief = daemon::status_detail_from_proto(pb::STATUS_VIEW_BRIEF);
  ASSERT_TRUE(brief.ok());
  EXPECT_EQ(brief.value(), status_detail::brief);

  for (const int unknown : {7, 3, -1}) {
    auto d = daemon::status_detail_from_proto(unknown);
    ASSERT_FALSE(d.ok()) << unknown;
    EXPECT_EQ(d.err().code, errc::invalid_argument);
    const auto& msg = d.err().message;
    EXPECT_EQ(msg.rfind("view: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(std::to_string(unknown)), std::string::npos) << msg;
    EXPECT_NE(msg.find("STATUS_VIEW_FULL"), std::string::npos) << msg;
    EXPECT_NE(msg.find("STATUS_VIEW_BRIEF"), std::string::npos) << msg;
  }
}

// An unknown value survives the wire (proto3 enums are open), so the daemon sees it.
TEST(proto_convert_status_view, UnknownViewSurvivesParsing) {
  pb::StatusRequest request;
  request.set_view(static_cast<pb::StatusView>(7));
  pb::StatusRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(request.SerializeAsString()));
  EXPECT_EQ(static_cast<int>(parsed.view()), 7);
  EXPECT_FALSE(daemon::status_detail_from_proto(parsed.view()).ok());
}

}  // namespace
}  // namespace mailbroker::session
