#include "daemon/malloc_tuning.hpp"

#include <malloc.h>

#include <cstdlib>
#include <string_view>

namespace mailbroker::daemon {

bool operator_tuned_malloc(const char* glibc_tunables) {
  return glibc_tunables != nullptr && std::string_view(glibc_tunables).find("glibc.malloc.") != std::string_view::npos;
}

bool keep_freed_memory_for_reuse() {
  if (operator_tuned_malloc(std::getenv("GLIBC_TUNABLES"))) return false;
  // Setting either threshold also ends glibc's own adjustment of them.
  const bool mmap_set = ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(malloc_mmap_threshold_bytes)) == 1;
  const bool trim_set = ::mallopt(M_TRIM_THRESHOLD, static_cast<int>(malloc_trim_threshold_bytes)) == 1;
  return mmap_set && trim_set;
}

}  // namespace mailbroker::daemon
