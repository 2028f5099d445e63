// daemon::watch_position_store over a real state_store in a temp dir: a Graph watch's
// saved delta link is handed out once, and only by a later daemon process (a new store
// object over the same file: the "restart"); a session's positions go with the session.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "daemon/watch_position_store.hpp"
#include "store/secret_key.hpp"
#include "store/state_store.hpp"
#include "unit/store_test_support.hpp"

namespace mailbroker::daemon {
namespace {

using store::testing::temp_dir;

const std::string link_a = "users/bot@example.com/mailFolders/AAMk=/messages/delta?$deltatoken=first";
const std::string link_b = "users/bot@example.com/mailFolders/AAMk=/messages/delta?$deltatoken=second";

// One daemon process's view of the state file.
std::shared_ptr<watch_position_store> open_positions(const std::string& path) {
  auto key = store::parse_key_text("8f1c2e3d4a5b6978a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f50617", "test");
  EXPECT_TRUE(key.ok());
  auto opened = store::state_store::open(path, std::move(key.value()));
  EXPECT_TRUE(opened.ok()) << opened.err().message;
  if (!opened) return nullptr;
  return std::make_shared<watch_position_store>(std::shared_ptr<store::state_store>(std::move(opened.value())));
}

TEST(WatchPositionStore, SavedPositionIsHandedOutOnceByTheNextProcessOnly) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  {
    auto first = open_positions(path);
    ASSERT_TRUE(first);
    EXPECT_FALSE(first->take_saved("bot", "INBOX").has_value());  // nothing saved yet
    first->save("bot", "INBOX", link_a);
    first->save("bot", "INBOX", link_b);  // the last save wins
    // The process that saved it never resumes from it: its watches start from now on.
    EXPECT_FALSE(first->take_saved("bot", "INBOX").has_value());
  }
  {
    auto second = open_positions(path);  // the daemon restarted
    ASSERT_TRUE(second);
    auto resumed = second->take_saved("bot", "INBOX");
    ASSERT_TRUE(resumed.has_value());
    EXPECT_EQ(*resumed, link_b);
    EXPECT_FALSE(second->take_saved("bot", "INBOX").has_value());  // a second watch starts fresh
    // Other sessions and folders are separate positions.
    EXPECT_FALSE(second->take_saved("bot", "Archive").has_value());
    EXPECT_FALSE(second->take_saved("other", "INBOX").has_value());
  }
  {
    // Handing out does not delete: a restart before the resumed watch moved resumes again.
    auto third = open_positions(path);
    ASSERT_TRUE(third);
    EXPECT_EQ(third->take_saved("bot", "INBOX").value_or(""), link_b);
  }
}

TEST(WatchPositionStore, SaveBeforeTakeHidesThePreviousProcessPosition) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  open_positions(path)->save("bot", "INBOX", link_a);
  auto next = open_positions(path);
  next->save("bot", "INBOX", link_b);  // a watch of this process already moved on
  EXPECT_FALSE(next->take_saved("bot", "INBOX").has_value());
  EXPECT_EQ(open_positions(path)->take_saved("bot", "INBOX").value_or(""), link_b);
}

TEST(WatchPositionStore, ForgetDropsOneSessionsPositionsOnly) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  {
    auto first = open_positions(path);
    first->save("bot", "INBOX", link_a);
    first->save("bot", "INBOX/Reports", link_a);
    first->save("bot2", "INBOX", link_b);  // "bot" is a prefix of this name, not of its key prefix
    first->save("other", "INBOX", link_b);
    ASSERT_TRUE(first->forget("bot").ok());
    // A new session under the forgotten name, in the same process, finds nothing either.
    EXPECT_FALSE(first->take_saved("bot", "INBOX").has_value());
  }
  auto second = open_positions(path);
  EXPECT_FALSE(second->take_saved("bot", "INBOX").has_value());
  EXPECT_FALSE(second->take_saved("bot", "INBOX/Reports").has_value());
  EXPECT_EQ(second->take_saved("bot2", "INBOX").value_or(""), link_b);
  EXPECT_EQ(second->take_saved("other", "INBOX").value_or(""), link_b);
  // An empty name is not a prefix of every session's keys.
  ASSERT_TRUE(second->forget("").ok());
  EXPECT_EQ(open_positions(path)->take_saved("other", "INBOX").value_or(""), link_b);
}

TEST(WatchPositionStore, FolderNamesWithOddCharactersAreTheirOwnKeys) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  const std::string folders[] = {"INBOX/Sub", "Archiv 2026/Überfällig", "a%b_c*d", "quote'\"; DROP TABLE x;--",
                                 "line\nbreak", std::string("nul\0byte", 8), "INBOX/Sub/"};
  {
    auto first = open_positions(path);
    int i = 0;
    for (const auto& f : folders) first->save("bot", f, link_a + std::to_string(i++));
  }
  auto second = open_positions(path);
  int i = 0;
  for (const auto& f : folders) {
    EXPECT_EQ(second->take_saved("bot", f).value_or("<none>"), link_a + std::to_string(i++)) << f;
  }
  // LIKE-style wildcards in a session name match nothing else when forgetting.
  EXPECT_EQ(watch_position_store::key_of("b%", "INBOX"), std::string("graph-delta:b%\nINBOX"));
  ASSERT_TRUE(second->forget("b%").ok());
  EXPECT_FALSE(open_positions(path)->take_saved("bot", "INBOX/Sub").value_or("").empty());
}

TEST(WatchPositionStore, AnOverLongKeyIsLoggedNotFatal) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  const std::string huge(store::max_record_key_length, 'f');
  open_positions(path)->save("bot", huge, link_a);  // refused by the store: logged, the watch goes on
  EXPECT_FALSE(open_positions(path)->take_saved("bot", huge).has_value());
}

}  // namespace
}  // namespace mailbroker::daemon
