// mailbox::watch_position_keeper with a fake watch_positions: a Graph watch's cursor is
// seeded once from a saved position, and its delta link saved only when a news round
// moved it. (folder_watch::poll itself needs a live Graph connection: the end-to-end
// restart test with the fake Graph server covers it.)
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mailbox/watch.hpp"

namespace mailbroker::mailbox {
namespace {

class fake_positions final : public watch_positions {
 public:
  std::optional<std::string> take_saved(const std::string& session, const std::string& folder) override {
    ++takes;
    auto it = saved_before.find({session, folder});
    if (it == saved_before.end()) return std::nullopt;
    auto out = it->second;
    saved_before.erase(it);
    return out;
  }
  void save(const std::string& session, const std::string& folder, const std::string& position) override {
    saves.push_back(session + "|" + folder + "|" + position);
  }

  std::map<std::pair<std::string, std::string>, std::string> saved_before;
  int takes = 0;
  std::vector<std::string> saves;
};

TEST(WatchPositionKeeper, SeedsTheFirstPollFromTheSavedPosition) {
  auto positions = std::make_shared<fake_positions>();
  positions->saved_before[{"bot", "INBOX"}] = "delta?token=saved";
  watch_position_keeper keeper(positions, "bot", "INBOX");
  watch_cursor cursor;
  keeper.seed(cursor);
  EXPECT_EQ(cursor.delta_link, "delta?token=saved");
  EXPECT_TRUE(cursor.delta_news);   // what arrived since is news
  EXPECT_FALSE(cursor.armed);       // the backend announces WATCHING first
  keeper.save_if_moved(cursor);     // the poll did not move it: nothing to write
  EXPECT_TRUE(positions->saves.empty());

  cursor.delta_link = "delta?token=next";
  keeper.seed(cursor);  // only the first poll is seeded
  EXPECT_EQ(cursor.delta_link, "delta?token=next");
  EXPECT_EQ(positions->takes, 1);
  keeper.save_if_moved(cursor);
  EXPECT_EQ(positions->saves, std::vector<std::string>{"bot|INBOX|delta?token=next"});
}

TEST(WatchPositionKeeper, NothingSavedLeavesAFreshCursor) {
  auto positions = std::make_shared<fake_positions>();
  watch_position_keeper keeper(positions, "bot", "INBOX");
  watch_cursor cursor;
  keeper.seed(cursor);
  EXPECT_TRUE(cursor.delta_link.empty());
  EXPECT_FALSE(cursor.delta_news);
}

TEST(WatchPositionKeeper, SavesNewsRoundsOnlyAndOnlyWhenMoved) {
  auto positions = std::make_shared<fake_positions>();
  watch_position_keeper keeper(positions, "bot", "INBOX/Reports");
  watch_cursor cursor;
  keeper.seed(cursor);
  // The baseline round (what was there before the watch): not a resume point.
  cursor.delta_link = "delta?skip=1";
  keeper.save_if_moved(cursor);
  EXPECT_TRUE(positions->saves.empty());
  // The baseline ended: the delta link is where news starts.
  cursor.delta_news = true;
  cursor.delta_link = "delta?token=1";
  keeper.save_if_moved(cursor);
  keeper.save_if_moved(cursor);  // unchanged: no second write
  // An expired link being replaced: nothing to save until the new round has one.
  cursor.delta_link.clear();
  keeper.save_if_moved(cursor);
  cursor.delta_link = "delta?token=2";
  keeper.save_if_moved(cursor);
  EXPECT_EQ(positions->saves,
            (std::vector<std::string>{"bot|INBOX/Reports|delta?token=1", "bot|INBOX/Reports|delta?token=2"}));
}

TEST(WatchPositionKeeper, WithoutPositionsDoesNothing) {
  watch_position_keeper keeper(nullptr, "bot", "INBOX");
  watch_cursor cursor;
  keeper.seed(cursor);
  cursor.delta_news = true;
  cursor.delta_link = "delta?token=1";
  keeper.save_if_moved(cursor);  // no crash, nowhere to save
  EXPECT_EQ(cursor.delta_link, "delta?token=1");
}

}  // namespace
}  // namespace mailbroker::mailbox
