#pragma once
// How the daemon asks glibc's malloc to keep freed memory for reuse.
//
// By default glibc gives freed memory back to the kernel eagerly: an allocation of 128 KiB
// or more is mmap'ed and unmapped again when freed, and a heap whose free top passes
// 128 KiB is trimmed (madvise). A daemon that builds ~0.5 MiB replies over and over (a
// Status page of 1000 sessions, its 1-2 MiB of arena, gRPC's slices) then faults the same
// memory in afresh for each of them. Measured with scale_bench, 10,000 READY sessions:
// page faults were ~70 % of the daemon's CPU for a FULL Status of all (149 ms per
// listing; 39 ms with the settings below) and ~30 % for a BRIEF one (15 -> 7-11 ms).
#include <cstddef>

namespace mailbroker::daemon {

// Allocations up to this size come from the heap (glibc's default: 128 KiB, growing).
inline constexpr std::size_t malloc_mmap_threshold_bytes = 4u << 20;
// Free memory at the top of a heap (per malloc arena) kept before it is given back.
inline constexpr std::size_t malloc_trim_threshold_bytes = 32u << 20;

// True when `glibc_tunables` (the GLIBC_TUNABLES environment variable; may be null) sets
// any glibc.malloc tunable: the operator has chosen, and the daemon changes nothing.
bool operator_tuned_malloc(const char* glibc_tunables);

// Applies the two thresholds above unless the operator tuned malloc (GLIBC_TUNABLES).
// Returns whether it did. Call once at start, before threads start.
bool keep_freed_memory_for_reuse();

}  // namespace mailbroker::daemon
