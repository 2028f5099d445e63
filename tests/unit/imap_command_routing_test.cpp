// command_routing.hpp: which of several pipelined commands an untagged response belongs
// to, on responses parsed by the real response_parser.
#include <gtest/gtest.h>

#include "protocol/imap/command_routing.hpp"
#include "protocol/imap/response_parser.hpp"

namespace mailbroker::imap {
namespace {

response parse_one(std::string_view bytes) {
  response_parser p;
  const parse_result r = p.feed(bytes);
  EXPECT_EQ(r.status, parse_status::complete) << p.error() << " in " << bytes;
  return p.take();
}

std::size_t owner(std::string_view bytes, const std::vector<command_route>& routes) {
  std::vector<const command_route*> in_flight;
  for (const auto& r : routes) in_flight.push_back(&r);
  return route_response(parse_one(bytes), in_flight);
}

TEST(CommandRouting, RecognisesWhatEachCommandCollects) {
  EXPECT_EQ(route_of("UID SEARCH UNSEEN").type, command_route::kind::search);
  EXPECT_EQ(route_of("uid search all").type, command_route::kind::search) << "commands are case-insensitive";
  EXPECT_EQ(route_of("SELECT \"INBOX\"").type, command_route::kind::select);
  EXPECT_EQ(route_of("EXAMINE INBOX").type, command_route::kind::select);
  EXPECT_EQ(route_of("LIST \"\" \"*\"").type, command_route::kind::list);
  EXPECT_EQ(route_of("UID MOVE 4 Archive").type, command_route::kind::copy_or_move);
  EXPECT_EQ(route_of("NOOP").type, command_route::kind::other);
  EXPECT_EQ(route_of("UID STORE 1 +FLAGS.SILENT (\\Seen)").type, command_route::kind::other);
  const auto fetch = route_of("UID FETCH 1:3,7,9:* (FLAGS)");
  ASSERT_EQ(fetch.type, command_route::kind::fetch);
  ASSERT_EQ(fetch.uids.size(), 3u);
  EXPECT_EQ(fetch.uids[0], (std::pair<std::uint32_t, std::uint32_t>{1, 3}));
  EXPECT_EQ(fetch.uids[1], (std::pair<std::uint32_t, std::uint32_t>{7, 7}));
  EXPECT_EQ(fetch.uids[2].first, 9u);
  EXPECT_EQ(fetch.uids[2].second, 4294967295u) << "* is the largest uid";
  EXPECT_EQ(route_of("UID FETCH 5:2 (FLAGS)").uids[0], (std::pair<std::uint32_t, std::uint32_t>{2, 5}))
      << "a range may be written backwards (RFC 3501 9: 'seq-range')";
  EXPECT_TRUE(route_of("UID FETCH x:y (FLAGS)").uids.empty()) << "an unreadable set matches any FETCH";
}

TEST(CommandRouting, FetchResponsesGoToTheCommandWhoseSetHoldsTheirUid) {
  const std::vector<command_route> in_flight{route_of("UID FETCH 10 (BODY.PEEK[])"), route_of("UID FETCH 20,30 (BODY.PEEK[])"),
                                             route_of("UID FETCH 30 (FLAGS)")};
  EXPECT_EQ(owner("* 2 FETCH (UID 20 BODY[] {1}\r\nx)\r\n", in_flight), 1u);
  EXPECT_EQ(owner("* 1 FETCH (UID 10 BODY[] {1}\r\nx)\r\n", in_flight), 0u);
  EXPECT_EQ(owner("* 3 FETCH (FLAGS (\\Seen) UID 30)\r\n", in_flight), 1u) << "the oldest asking for it";
  EXPECT_EQ(owner("* 9 FETCH (UID 99 FLAGS (\\Seen))\r\n", in_flight), 0u)
      << "an unsolicited FETCH goes to the oldest command";
  EXPECT_EQ(owner("* 9 FETCH (FLAGS (\\Seen))\r\n", in_flight), 0u) << "no UID: nobody asked for it";
}

TEST(CommandRouting, DataResponsesGoToTheCommandOfTheirKind) {
  const std::vector<command_route> in_flight{route_of("UID FETCH 1 (FLAGS)"), route_of("LIST \"\" *"),
                                             route_of("UID SEARCH ALL"), route_of("UID SEARCH UNSEEN")};
  EXPECT_EQ(owner("* SEARCH 1 2 3\r\n", in_flight), 2u) << "the oldest SEARCH: the server answers them in order";
  EXPECT_EQ(owner("* LIST () \"/\" INBOX\r\n", in_flight), 1u);
  EXPECT_EQ(owner("* 4 EXISTS\r\n", in_flight), 0u) << "news nobody asked for goes to the oldest";
  EXPECT_EQ(owner("* OK [COPYUID 1 2 3] done\r\n", in_flight), 0u);
}

TEST(CommandRouting, SelectCollectsTheSelectedStateNews) {
  const std::vector<command_route> in_flight{route_of("LIST \"\" *"), route_of("SELECT INBOX")};
  EXPECT_EQ(owner("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n", in_flight), 1u);
  EXPECT_EQ(owner("* 172 EXISTS\r\n", in_flight), 1u);
  EXPECT_EQ(owner("* FLAGS (\\Answered \\Seen)\r\n", in_flight), 1u);
  EXPECT_EQ(owner("* LIST () \"/\" INBOX\r\n", in_flight), 0u);
}

TEST(CommandRouting, MoveCollectsItsCopyUid) {
  const std::vector<command_route> in_flight{route_of("UID FETCH 1 (FLAGS)"), route_of("UID MOVE 5 Archive")};
  EXPECT_EQ(owner("* OK [COPYUID 38505 5 3956] moved\r\n", in_flight), 1u);
}

TEST(CommandRouting, CommandsWhoseAnswersCouldMixAreNotPipelined) {
  EXPECT_TRUE(answers_could_mix(route_of("UID SEARCH ALL"), route_of("UID SEARCH UNSEEN")));
  EXPECT_TRUE(answers_could_mix(route_of("SELECT A"), route_of("EXAMINE B")));
  EXPECT_TRUE(answers_could_mix(route_of("UID FETCH 1:5 (FLAGS)"), route_of("UID FETCH 5 (BODY.PEEK[])")))
      << "both would ask for uid 5's FETCH";
  EXPECT_TRUE(answers_could_mix(route_of("FETCH 1 (FLAGS)"), route_of("UID FETCH 9 (FLAGS)")))
      << "a FETCH by sequence number may answer any uid";
  EXPECT_FALSE(answers_could_mix(route_of("UID FETCH 1:4 (FLAGS)"), route_of("UID FETCH 5,7 (FLAGS)")));
  EXPECT_FALSE(answers_could_mix(route_of("NOOP"), route_of("UID SEARCH ALL")));
  EXPECT_FALSE(answers_could_mix(route_of("NOOP"), route_of("NOOP")));
  EXPECT_FALSE(answers_could_mix(route_of("UID SEARCH ALL"), route_of("UID FETCH 1 (FLAGS)")));
}

TEST(CommandRouting, FetchUidReadsTheUidItemWhereverItStands) {
  EXPECT_EQ(fetch_uid(parse_one("* 1 FETCH (FLAGS () UID 42)\r\n")), 42u);
  EXPECT_EQ(fetch_uid(parse_one("* 1 FETCH (uid 7)\r\n")), 7u);
  EXPECT_EQ(fetch_uid(parse_one("* 1 FETCH (FLAGS ())\r\n")), std::nullopt);
  EXPECT_EQ(fetch_uid(parse_one("* 1 EXISTS\r\n")), std::nullopt);
  EXPECT_EQ(fetch_uid(parse_one("* 1 FETCH (UID abc)\r\n")), std::nullopt);
}

}  // namespace
}  // namespace mailbroker::imap
