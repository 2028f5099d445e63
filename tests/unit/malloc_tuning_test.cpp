// The daemon keeps freed memory for reuse unless the operator tuned glibc's malloc.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "daemon/malloc_tuning.hpp"

namespace mailbroker::daemon {
namespace {

TEST(malloc_tuning, AnyMallocTunableIsTheOperatorsChoice) {
  EXPECT_FALSE(operator_tuned_malloc(nullptr));
  EXPECT_FALSE(operator_tuned_malloc(""));
  EXPECT_FALSE(operator_tuned_malloc("glibc.rtld.nns=2"));
  EXPECT_TRUE(operator_tuned_malloc("glibc.malloc.arena_max=2"));
  EXPECT_TRUE(operator_tuned_malloc("glibc.rtld.nns=2:glibc.malloc.trim_threshold=0"));
}

// GLIBC_TUNABLES set for the length of a test, then restored.
class tunables_env {
 public:
  explicit tunables_env(const char* value) {
    if (const char* old = std::getenv("GLIBC_TUNABLES")) old_ = old;
    if (value) ::setenv("GLIBC_TUNABLES", value, 1);
    else ::unsetenv("GLIBC_TUNABLES");
  }
  ~tunables_env() {
    if (old_) ::setenv("GLIBC_TUNABLES", old_->c_str(), 1);
    else ::unsetenv("GLIBC_TUNABLES");
  }

 private:
  std::optional<std::string> old_;
};

TEST(malloc_tuning, AppliedWithoutTunablesAndLeftAloneWithThem) {
  {
    tunables_env env("glibc.malloc.mmap_threshold=65536");
    EXPECT_FALSE(keep_freed_memory_for_reuse());
  }
  tunables_env none(nullptr);
  EXPECT_TRUE(keep_freed_memory_for_reuse());
}

}  // namespace
}  // namespace mailbroker::daemon
