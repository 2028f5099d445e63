// state_store's watch cursors (Graph delta links kept across restarts): put / get /
// replace / delete, bounds, prefix deletion without wildcards, sealing bound to the row,
// and a store created before the table existed.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "store/secret_key.hpp"
#include "store/state_store.hpp"
#include "unit/store_test_support.hpp"

namespace mailbroker::store {
namespace {

using testing::read_file_bytes;
using testing::temp_dir;

secret_key test_key() {
  return parse_key_text("8f1c2e3d4a5b6978a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f50617", "test").value();
}

std::unique_ptr<state_store> open_ok(const std::string& path) {
  auto store = state_store::open(path, test_key());
  EXPECT_TRUE(store.ok()) << store.err().message;
  return store.ok() ? std::move(*store) : nullptr;
}

void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

bool has(const std::unique_ptr<state_store>& store, const std::string& key) {
  auto got = store->get_watch_cursor(key);
  EXPECT_TRUE(got.ok()) << got.err().message;
  return got.ok() && got->has_value();
}

TEST(StateStoreWatchCursors, PutGetReplaceDelete) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"));
  ASSERT_TRUE(store);
  auto none = store->get_watch_cursor("graph-bot:inbox");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  const std::string link = "https://graph.microsoft.com/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=abc";
  ASSERT_TRUE(store->put_watch_cursor("graph-bot:inbox", link).ok());
  EXPECT_EQ(store->get_watch_cursor("graph-bot:inbox")->value(), link);
  ASSERT_TRUE(store->put_watch_cursor("graph-bot:inbox", link + "2").ok());  // the next round's link
  EXPECT_EQ(store->get_watch_cursor("graph-bot:inbox")->value(), link + "2");

  EXPECT_TRUE(store->delete_watch_cursor("graph-bot:inbox").ok());
  EXPECT_FALSE(has(store, "graph-bot:inbox"));
  EXPECT_TRUE(store->delete_watch_cursor("graph-bot:inbox").ok());  // absent: still ok
}

TEST(StateStoreWatchCursors, KeysAndValuesAreBoundedNamingTheBound) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"));
  ASSERT_TRUE(store);
  EXPECT_EQ(store->put_watch_cursor("", "v").code, errc::invalid_argument);
  EXPECT_EQ(store->get_watch_cursor("").err().code, errc::invalid_argument);
  EXPECT_EQ(store->delete_watch_cursor("").code, errc::invalid_argument);
  const auto long_key = store->put_watch_cursor(std::string(max_record_key_length + 1, 'k'), "v");
  EXPECT_EQ(long_key.code, errc::invalid_argument);
  EXPECT_NE(long_key.message.find("at most 1024"), std::string::npos) << long_key.message;
  EXPECT_TRUE(store->put_watch_cursor(std::string(max_record_key_length, 'k'), "v").ok());

  EXPECT_EQ(store->put_watch_cursor("k", "").code, errc::invalid_argument);
  EXPECT_TRUE(store->put_watch_cursor("k", std::string(max_watch_cursor_length, 'x')).ok());
  EXPECT_EQ(store->get_watch_cursor("k")->value().size(), max_watch_cursor_length);
  const auto too_long = store->put_watch_cursor("k", std::string(max_watch_cursor_length + 1, 'x'));
  EXPECT_EQ(too_long.code, errc::invalid_argument);
  EXPECT_NE(too_long.message.find("at most 65536"), std::string::npos) << too_long.message;
  EXPECT_EQ(store->get_watch_cursor("k")->value().size(), max_watch_cursor_length) << "a refused put changes nothing";
}

TEST(StateStoreWatchCursors, PrefixDeletionMatchesBytesExactlyWithoutWildcards) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"));
  ASSERT_TRUE(store);
  for (const char* key : {"s1:inbox", "s1:sent", "s10:inbox", "s2:inbox", "a%b:x", "aXb:x", "a_c:x", "abc:x", "S1:inbox"}) {
    ASSERT_TRUE(store->put_watch_cursor(key, "cursor").ok()) << key;
  }
  EXPECT_TRUE(store->delete_watch_cursors_with_prefix("s1:").ok());
  EXPECT_FALSE(has(store, "s1:inbox"));
  EXPECT_FALSE(has(store, "s1:sent"));
  EXPECT_TRUE(has(store, "s10:inbox")) << "s10 is another session";
  EXPECT_TRUE(has(store, "s2:inbox"));
  EXPECT_TRUE(has(store, "S1:inbox")) << "keys are compared with their case";

  EXPECT_TRUE(store->delete_watch_cursors_with_prefix("a%").ok());  // '%' is not a LIKE wildcard here
  EXPECT_FALSE(has(store, "a%b:x"));
  EXPECT_TRUE(has(store, "aXb:x"));
  EXPECT_TRUE(has(store, "abc:x"));
  EXPECT_TRUE(store->delete_watch_cursors_with_prefix("a_").ok());  // nor is '_'
  EXPECT_FALSE(has(store, "a_c:x"));
  EXPECT_TRUE(has(store, "abc:x"));

  EXPECT_TRUE(store->delete_watch_cursors_with_prefix("nothing:").ok());  // none: still ok
  const auto empty = store->delete_watch_cursors_with_prefix("");
  EXPECT_EQ(empty.code, errc::invalid_argument);
  EXPECT_NE(empty.message.find("every cursor"), std::string::npos) << empty.message;
  EXPECT_TRUE(has(store, "s2:inbox")) << "the refused empty prefix deleted nothing";
  EXPECT_EQ(store->delete_watch_cursors_with_prefix(std::string(max_record_key_length + 1, 's')).code,
            errc::invalid_argument);
}

TEST(StateStoreWatchCursors, SealedToTheirRowAndNeverInPlaintext) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  const std::string token = "deltatoken-5be1c09f";
  {
    auto store = open_ok(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put_watch_cursor("a:inbox", "link-a?$deltatoken=" + token).ok());
    ASSERT_TRUE(store->put_watch_cursor("b:inbox", "link-b").ok());
  }
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) all += read_file_bytes(entry.path());
  EXPECT_NE(all.find("a:inbox"), std::string::npos) << "keys are in clear: the scan does see the data";
  EXPECT_EQ(all.find(token), std::string::npos);

  raw_sql(path, "UPDATE watch_cursors SET sealed = (SELECT sealed FROM watch_cursors WHERE key = 'a:inbox') "
                "WHERE key = 'b:inbox';"
                "INSERT INTO refresh_tokens(key, sealed, updated_at) SELECT key, sealed, 0 FROM watch_cursors "
                "WHERE key = 'a:inbox';");
  auto store = open_ok(path);
  ASSERT_TRUE(store);
  auto moved = store->get_watch_cursor("b:inbox");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.err().code, errc::failed_precondition);
  EXPECT_NE(moved.err().message.find("'b:inbox'"), std::string::npos) << moved.err().message;
  EXPECT_EQ(moved.err().message.find(token), std::string::npos);
  EXPECT_EQ(store->get_refresh_token("a:inbox").err().code, errc::failed_precondition) << "another table's aad";
  EXPECT_EQ(store->get_watch_cursor("a:inbox")->value(), "link-a?$deltatoken=" + token);
}

TEST(StateStoreWatchCursors, AStoreFromBeforeTheTableGetsItWhenOpened) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  {
    auto store = open_ok(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put_refresh_token("session:foo", "rt").ok());
  }
  raw_sql(path, "DROP TABLE watch_cursors;");  // as a store written by an older daemon
  auto store = open_ok(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->get_refresh_token("session:foo")->value(), "rt");
  EXPECT_FALSE(has(store, "foo:inbox"));
  ASSERT_TRUE(store->put_watch_cursor("foo:inbox", "link").ok());
  store.reset();
  auto reopened = open_ok(path);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->get_watch_cursor("foo:inbox")->value(), "link") << "durable across a reopen";
}

}  // namespace
}  // namespace mailbroker::store
