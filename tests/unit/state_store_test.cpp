#include "store/state_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <thread>
#include <vector>

#include "store/secret_key.hpp"
#include "unit/store_test_support.hpp"

namespace mailbroker::store {
namespace {

using testing::read_file_bytes;
using testing::temp_dir;
using testing::write_file_bytes;

const std::string key_hex_a = "8f1c2e3d4a5b6978a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f50617";
const std::string key_hex_b = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

secret_key key_a() { return parse_key_text(key_hex_a, "test").value(); }
secret_key key_b() { return parse_key_text(key_hex_b, "test").value(); }

std::unique_ptr<state_store> open_ok(const std::string& path, secret_key key) {
  auto store = state_store::open(path, std::move(key));
  EXPECT_TRUE(store.ok()) << store.err().message;
  return store.ok() ? std::move(*store) : nullptr;
}

// Runs fixed SQL on the file directly, as an attacker or a broken tool would.
void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

std::string all_files_bytes(const temp_dir& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) all += read_file_bytes(entry.path());
  return all;
}

TEST(StateStore, CreatesFileWithMode0600AndReportsPathAndKeyId) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  const mode_t old_umask = ::umask(0);
  auto store = open_ok(path, key_a());
  ::umask(old_umask);
  ASSERT_TRUE(store);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(store->path(), path);
  EXPECT_EQ(store->key_id(), key_a().key_id());
}

TEST(StateStore, MissingDirectoryIsNamed) {
  temp_dir dir;
  const std::string path = dir.file("no-such-dir/state.db");
  auto store = state_store::open(path, key_a());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.err().code, errc::failed_precondition);
  EXPECT_NE(store.err().message.find(path), std::string::npos) << store.err().message;
  EXPECT_NE(store.err().message.find("mkdir -p"), std::string::npos) << store.err().message;
}

TEST(StateStore, UnsetKeyIsRefused) {
  temp_dir dir;
  auto store = state_store::open(dir.file("state.db"), secret_key());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.err().code, errc::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(dir.file("state.db")));
}

TEST(StateStore, FileThatIsNotAStoreIsRefused) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  write_file_bytes(path, std::string(8192, 'x'));
  auto store = state_store::open(path, key_a());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.err().code, errc::failed_precondition);
  EXPECT_NE(store.err().message.find(path), std::string::npos) << store.err().message;
}

TEST(StateStore, VaultPutGetListDelete) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"), key_a());
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put_secret("imap.password", "hunter2").ok());
  ASSERT_TRUE(store->put_secret("A-client_secret.2", "s3cr3t").ok());
  EXPECT_EQ(store->get_secret("imap.password").value(), "hunter2");
  EXPECT_EQ(store->get_secret("A-client_secret.2").value(), "s3cr3t");

  auto list = store->list_secrets();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "A-client_secret.2");
  EXPECT_EQ((*list)[1].name, "imap.password");
  const auto now = std::chrono::system_clock::now();
  for (const auto& info : *list) {
    EXPECT_LE(info.created_at, info.updated_at);
    EXPECT_LT(now - info.updated_at, std::chrono::minutes(1));
  }

  EXPECT_TRUE(store->delete_secret("imap.password").ok());
  EXPECT_EQ(store->get_secret("imap.password").err().code, errc::not_found);
  EXPECT_EQ(store->list_secrets()->size(), 1u);
}

TEST(StateStore, VaultUpsertReplacesValueAndKeepsCreatedAt) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"), key_a());
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put_secret("pw", "first").ok());
  const auto before = store->list_secrets().value().at(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(store->put_secret("pw", "second").ok());
  EXPECT_EQ(store->get_secret("pw").value(), "second");
  const auto after = store->list_secrets().value();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].created_at, before.created_at);
  EXPECT_GT(after[0].updated_at, before.updated_at);
}

TEST(StateStore, VaultRefusesBadNamesAndEmptyValues) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"), key_a());
  ASSERT_TRUE(store);
  for (const std::string& name : {std::string(), std::string(129, 'a'), std::string("a b"), std::string("x/y"),
                                  std::string("caf\xc3\xa9"), std::string("a\nb")}) {
    const error e = store->put_secret(name, "value");
    EXPECT_EQ(e.code, errc::invalid_argument) << name;
    EXPECT_NE(e.message.find("name"), std::string::npos) << e.message;
    EXPECT_EQ(store->get_secret(name).err().code, errc::invalid_argument);
    EXPECT_EQ(store->delete_secret(name).code, errc::invalid_argument);
  }
  EXPECT_TRUE(store->put_secret(std::string(128, 'a'), "value").ok());
  const error empty = store->put_secret("pw", "");
  EXPECT_EQ(empty.code, errc::invalid_argument);
  EXPECT_NE(empty.message.find("empty"), std::string::npos);
}

TEST(StateStore, VaultNotFoundMessagesSayWhatToDo) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"), key_a());
  ASSERT_TRUE(store);
  auto missing = store->get_secret("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.err().code, errc::not_found);
  EXPECT_EQ(missing.err().message, "vault entry 'nope' does not exist: add it with `mailbroker vault put nope`");
  const error del = store->delete_secret("nope");
  EXPECT_EQ(del.code, errc::not_found);
  EXPECT_NE(del.message.find("'nope'"), std::string::npos);
}

TEST(StateStore, ListSecretsNeverReturnsValues) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"), key_a());
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put_secret("pw", "value-that-must-not-be-listed", {"imap.example.com:993"}).ok());
  auto list = store->list_secrets();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  // vault_entry_info has no value field: a name, times and the allowed hosts.
  EXPECT_EQ((*list)[0].name, "pw");
  EXPECT_EQ((*list)[0].allowed_hosts, std::vector<std::string>{"imap.example.com:993"});
  static_assert(sizeof(vault_entry_info) == sizeof(std::string) +
                                                2 * sizeof(std::chrono::system_clock::time_point) +
                                                sizeof(std::vector<std::string>));
}

TEST(StateStore, AllowedHostsAreSealedWithTheValue) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"), key_a());
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put_secret("pw", "hunter2", {"a.example:993", "*.b.example"}).ok());
  auto entry = store->get_secret_entry("pw");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->value, "hunter2");
  EXPECT_EQ(entry->allowed_hosts, (std::vector<std::string>{"a.example:993", "*.b.example"}));
  EXPECT_EQ(store->get_secret("pw").value(), "hunter2");
  EXPECT_EQ(store->put_secret("pw", "x", {"a,b"}).code, errc::invalid_argument);
  EXPECT_EQ(store->put_secret("pw", "x", {"a\nb"}).code, errc::invalid_argument);
  // An entry without hosts (as before issue #10) keeps working, bound nowhere.
  ASSERT_TRUE(store->put_secret("old", "v").ok());
  EXPECT_TRUE(store->get_secret_entry("old")->allowed_hosts.empty());
}

TEST(StateStore, RefreshTokensPutGetReplaceDelete) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"), key_a());
  ASSERT_TRUE(store);
  auto none = store->get_refresh_token("session:foo");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(store->put_refresh_token("session:foo", "rt-1").ok());
  ASSERT_TRUE(store->put_refresh_token("managed:contoso:alice", "rt-alice").ok());
  EXPECT_EQ(store->get_refresh_token("session:foo")->value(), "rt-1");
  ASSERT_TRUE(store->put_refresh_token("session:foo", "rt-2").ok());  // rotation
  EXPECT_EQ(store->get_refresh_token("session:foo")->value(), "rt-2");
  EXPECT_EQ(store->get_refresh_token("managed:contoso:alice")->value(), "rt-alice");

  EXPECT_TRUE(store->delete_refresh_token("session:foo").ok());
  EXPECT_FALSE(store->get_refresh_token("session:foo")->has_value());
  EXPECT_TRUE(store->delete_refresh_token("session:foo").ok());  // absent: still ok

  EXPECT_EQ(store->put_refresh_token("", "rt").code, errc::invalid_argument);
  EXPECT_EQ(store->put_refresh_token("k", "").code, errc::invalid_argument);
  EXPECT_EQ(store->put_refresh_token(std::string(1025, 'k'), "rt").code, errc::invalid_argument);
  EXPECT_EQ(store->get_refresh_token("").err().code, errc::invalid_argument);
}

TEST(StateStore, SessionsPutListReplaceDelete) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"), key_a());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->list_sessions()->empty());
  const std::string binary("\x08\x01\x12\x00\xff proto", 11);
  ASSERT_TRUE(store->put_session("work", binary).ok());
  ASSERT_TRUE(store->put_session("alpha", "").ok());
  ASSERT_TRUE(store->put_session("zeta", "z").ok());
  ASSERT_TRUE(store->put_session("zeta", "z2").ok());

  auto list = store->list_sessions();
  ASSERT_TRUE(list.ok()) << list.err().message;
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0], std::make_pair(std::string("alpha"), std::string()));
  EXPECT_EQ((*list)[1], std::make_pair(std::string("work"), binary));
  EXPECT_EQ((*list)[2], std::make_pair(std::string("zeta"), std::string("z2")));

  EXPECT_TRUE(store->delete_session("work").ok());
  EXPECT_TRUE(store->delete_session("work").ok());  // absent: still ok
  EXPECT_EQ(store->list_sessions()->size(), 2u);
  EXPECT_EQ(store->put_session("", "x").code, errc::invalid_argument);
}

TEST(StateStore, ValuesAreNeverInTheFilesInPlaintext) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  const std::string secret = "vault-value-7f3a9c";
  const std::string token = "refresh-token-b81e22";
  const std::string record = "session-bytes-d04c55";
  {
    auto store = open_ok(path, key_a());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put_secret("pw", secret).ok());
    ASSERT_TRUE(store->put_refresh_token("session:foo", token).ok());
    ASSERT_TRUE(store->put_session("foo", record).ok());
    // While open, the data sits in the WAL file.
    const std::string live = all_files_bytes(dir);
    EXPECT_NE(live.find("session:foo"), std::string::npos);  // keys are in clear: the scan does see the data
    for (const auto& s : {secret, token, record, key_hex_a}) EXPECT_EQ(live.find(s), std::string::npos) << s;
  }
  const std::string closed = all_files_bytes(dir);  // checkpointed into the main file
  EXPECT_NE(closed.find("session:foo"), std::string::npos);
  for (const auto& s : {secret, token, record, key_hex_a}) EXPECT_EQ(closed.find(s), std::string::npos) << s;
}

TEST(StateStore, ReopenWithTheSameKeyKeepsData) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  {
    auto store = open_ok(path, key_a());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put_secret("pw", "hunter2").ok());
    ASSERT_TRUE(store->put_refresh_token("session:foo", "rt").ok());
    ASSERT_TRUE(store->put_session("foo", "bytes").ok());
  }
  auto store = open_ok(path, key_a());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->get_secret("pw").value(), "hunter2");
  EXPECT_EQ(store->get_refresh_token("session:foo")->value(), "rt");
  ASSERT_EQ(store->list_sessions()->size(), 1u);
  EXPECT_EQ(store->list_sessions()->at(0).second, "bytes");
}

TEST(StateStore, ReopenWithAnotherKeyIsRefusedNamingBothKeyIds) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  {
    auto store = open_ok(path, key_a());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put_secret("pw", "hunter2").ok());
  }
  auto wrong = state_store::open(path, key_b());
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.err().code, errc::failed_precondition);
  const std::string& m = wrong.err().message;
  EXPECT_EQ(m, "the vault key (id " + key_b().key_id() + ") does not open " + path +
                   ", which was created with key id " + key_a().key_id() +
                   ": start the daemon with the key it was created with (vault-key-file or MAILBROKER_VAULT_KEY)");
  for (const auto& hex : {key_hex_a, key_hex_b}) EXPECT_EQ(m.find(hex.substr(0, 16)), std::string::npos);

  // The refused open changed nothing: the right key still works.
  auto right = open_ok(path, key_a());
  ASSERT_TRUE(right);
  EXPECT_EQ(right->get_secret("pw").value(), "hunter2");
}

TEST(StateStore, SealedBlobMovedToAnotherRowDoesNotOpen) {
  temp_dir dir;
  const std::string path = dir.file("state.db");
  {
    auto store = open_ok(path, key_a());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put_secret("a", "value-a").ok());
    ASSERT_TRUE(store->put_secret("b", "value-b").ok());
    ASSERT_TRUE(store->put_session("s1", "one").ok());
    ASSERT_TRUE(store->put_session("s2", "two").ok());
  }
  raw_sql(path, "UPDATE vault SET sealed = (SELECT sealed FROM vault WHERE name = 'b') WHERE name = 'a';"
                "INSERT INTO refresh_tokens(key, sealed, updated_at) SELECT name, sealed, 0 FROM vault WHERE name = 'b';"
                "UPDATE sessions SET sealed = (SELECT sealed FROM sessions WHERE name = 's1') WHERE name = 's2';");

  auto store = open_ok(path, key_a());
  ASSERT_TRUE(store);
  auto swapped = store->get_secret("a");
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.err().code, errc::failed_precondition);
  EXPECT_NE(swapped.err().message.find("cannot decrypt: wrong key or corrupted data"), std::string::npos);
  EXPECT_NE(swapped.err().message.find("'a'"), std::string::npos) << swapped.err().message;
  EXPECT_EQ(swapped.err().message.find("value-b"), std::string::npos);
  EXPECT_EQ(store->get_secret("b").value(), "value-b");  // the untouched row still opens

  auto cross_table = store->get_refresh_token("b");
  ASSERT_FALSE(cross_table.ok());
  EXPECT_EQ(cross_table.err().code, errc::failed_precondition);

  auto sessions = store->list_sessions();
  ASSERT_FALSE(sessions.ok());
  EXPECT_EQ(sessions.err().code, errc::failed_precondition);
  EXPECT_NE(sessions.err().message.find("'s2'"), std::string::npos) << sessions.err().message;
}

TEST(StateStore, ConcurrentCallsFromManyThreads) {
  temp_dir dir;
  auto store = open_ok(dir.file("state.db"), key_a());
  ASSERT_TRUE(store);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string name = "t" + std::to_string(t) + "." + std::to_string(i);
        EXPECT_TRUE(store->put_secret(name, "v" + name).ok());
        EXPECT_TRUE(store->put_refresh_token("session:" + name, "rt" + name).ok());
        EXPECT_EQ(store->get_secret(name).value(), "v" + name);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store->list_secrets()->size(), 100u);
}

}  // namespace
}  // namespace mailbroker::store
