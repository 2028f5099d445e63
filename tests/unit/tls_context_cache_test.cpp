// net::tls_context_cache: one shared client context per trust configuration, the
// system store loaded once, and contexts that follow CA-file changes and reload().
#include "net/tls_context_cache.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <barrier>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "fakes/https_test_server.hpp"

namespace mailbroker::net {
namespace {

using mailbroker::testing::test_pki;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// A CA file of our own that a test may rewrite; removed at the end of the test.
struct temp_ca_file {
  std::string path;
  explicit temp_ca_file(const std::string& content) {
    char name[] = "/tmp/mb-tls-cache-XXXXXX";
    const int fd = ::mkstemp(name);
    EXPECT_GE(fd, 0);
    ::close(fd);
    path = name;
    write(content);
  }
  ~temp_ca_file() { std::filesystem::remove(path); }
  void write(const std::string& content) const { std::ofstream(path, std::ios::binary | std::ios::trunc) << content; }
};

std::shared_ptr<asio::ssl::context> must_get(tls_context_cache& cache, const tls_settings& s) {
  auto ctx = cache.get(s);
  EXPECT_TRUE(ctx.ok()) << ctx.err().message;
  return ctx.ok() ? ctx.value() : nullptr;
}

TEST(tls_context_cache, SameSettingsShareOneContext) {
  tls_context_cache cache;
  const auto& pki = test_pki::get();
  auto a = must_get(cache, {pki.ca_file, true});
  auto b = must_get(cache, {pki.ca_file, true});
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);
  EXPECT_EQ(cache.builds(), 1u);
}

TEST(tls_context_cache, DifferentCaFilesOrVerifyFlagsGetDifferentContexts) {
  tls_context_cache cache;
  const auto& pki = test_pki::get();
  auto ca = must_get(cache, {pki.ca_file, true});
  auto other = must_get(cache, {pki.other_ca_file, true});
  auto unverified = must_get(cache, {pki.ca_file, false});
  ASSERT_NE(ca, nullptr);
  EXPECT_NE(ca, other);
  EXPECT_NE(ca, unverified);
  EXPECT_NE(other, unverified);
  EXPECT_EQ(cache.builds(), 3u);
  EXPECT_EQ(SSL_CTX_get_verify_mode(ca->native_handle()), SSL_VERIFY_PEER);
  EXPECT_EQ(SSL_CTX_get_verify_mode(unverified->native_handle()), SSL_VERIFY_NONE);
}

TEST(tls_context_cache, SystemStoreIsLoadedOnceUnderConcurrentFirstUse) {
  tls_context_cache cache;
  constexpr int threads = 8;
  std::barrier start(threads);
  std::vector<std::shared_ptr<asio::ssl::context>> got(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      start.arrive_and_wait();  // all ask at once: only one may build
      auto ctx = cache.get({std::string(), true});
      if (ctx) got[static_cast<std::size_t>(i)] = ctx.value();
    });
  }
  for (auto& t : pool) t.join();
  for (const auto& ctx : got) {
    ASSERT_NE(ctx, nullptr);
    EXPECT_EQ(ctx, got[0]);
  }
  EXPECT_EQ(cache.system_store_loads(), 1u);
  EXPECT_EQ(cache.builds(), 1u);
  // Pinned: still the same one after every caller let go.
  const auto* first = got[0].get();
  got.clear();
  EXPECT_EQ(must_get(cache, {std::string(), true}).get(), first);
  EXPECT_EQ(cache.system_store_loads(), 1u);
  EXPECT_EQ(cache.warm_system_store().code, errc::ok);
  EXPECT_EQ(cache.system_store_loads(), 1u);
}

TEST(tls_context_cache, UnverifiedSystemContextLoadsNoStore) {
  tls_context_cache cache;
  auto ctx = must_get(cache, {std::string(), false});
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(cache.system_store_loads(), 0u);
  EXPECT_EQ(cache.builds(), 1u);
}

TEST(tls_context_cache, ContextsReleaseIdleBuffers) {
  tls_context_cache cache;
  auto ctx = must_get(cache, {test_pki::get().ca_file, true});
  ASSERT_NE(ctx, nullptr);
  EXPECT_NE(SSL_CTX_get_mode(ctx->native_handle()) & SSL_MODE_RELEASE_BUFFERS, 0u);
}

TEST(tls_context_cache, ChangedCaFileGetsANewContextOldHoldersKeepTheirs) {
  tls_context_cache cache;
  const auto& pki = test_pki::get();
  temp_ca_file file(read_all(pki.ca_file));
  auto before = must_get(cache, {file.path, true});
  file.write(read_all(pki.ca_file) + read_all(pki.other_ca_file));  // a CA added: size changes
  auto after = must_get(cache, {file.path, true});
  ASSERT_NE(before, nullptr);
  ASSERT_NE(after, nullptr);
  EXPECT_NE(before, after);
  EXPECT_EQ(cache.builds(), 2u);
  EXPECT_EQ(must_get(cache, {file.path, true}), after);
}

TEST(tls_context_cache, ReloadForgetsContextsButHoldersKeepThem) {
  tls_context_cache cache;
  const auto& pki = test_pki::get();
  auto file_ctx = must_get(cache, {pki.ca_file, true});
  auto system_ctx = must_get(cache, {std::string(), false});
  cache.reload();
  EXPECT_EQ(cache.size(), 0u);
  auto file_again = must_get(cache, {pki.ca_file, true});
  auto system_again = must_get(cache, {std::string(), false});
  EXPECT_NE(file_ctx, file_again);
  EXPECT_NE(system_ctx, system_again);
  EXPECT_EQ(cache.builds(), 4u);
  // The old ones are still whole for the connections that use them.
  EXPECT_EQ(SSL_CTX_get_verify_mode(file_ctx->native_handle()), SSL_VERIFY_PEER);
}

TEST(tls_context_cache, CaFileContextsDieWithTheirLastUserAndEntriesStayBounded) {
  tls_context_cache cache;
  const auto& pki = test_pki::get();
  for (int i = 0; i < 20; ++i) {
    temp_ca_file file(read_all(pki.ca_file));  // a new path (new key) each time
    auto ctx = must_get(cache, {file.path, true});
    ASSERT_NE(ctx, nullptr);
  }
  EXPECT_EQ(cache.builds(), 20u);
  EXPECT_LE(cache.size(), 2u);  // dead entries are pruned when new keys arrive

  std::weak_ptr<asio::ssl::context> weak = must_get(cache, {pki.ca_file, true});
  EXPECT_TRUE(weak.expired());  // the cache itself does not keep a CA-file context alive
  must_get(cache, {pki.ca_file, true});
  EXPECT_EQ(cache.builds(), 22u);
}

TEST(tls_context_cache, MissingCaFileIsAPreconditionAndNotCached) {
  tls_context_cache cache;
  auto ctx = cache.get({"/nonexistent/mb-ca.pem", true});
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.err().code, errc::failed_precondition);
  EXPECT_NE(ctx.err().message.find("cannot load CA file '/nonexistent/mb-ca.pem'"), std::string::npos);
  EXPECT_EQ(cache.builds(), 0u);
}

TEST(tls_context_cache, MakeClientTlsContextSharesProcessWide) {
  auto a = make_client_tls_context({test_pki::get().ca_file, true});
  auto b = make_client_tls_context({test_pki::get().ca_file, true});
  ASSERT_TRUE(a.ok()) << a.err().message;
  ASSERT_TRUE(b.ok()) << b.err().message;
  EXPECT_EQ(a.value(), b.value());
}

}  // namespace
}  // namespace mailbroker::net
