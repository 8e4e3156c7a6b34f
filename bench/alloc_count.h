// Allocation counting for the benches: alloc_count.cpp replaces the global
// operator new of the binary it is linked into, and counts calls (on every
// thread) while `counting` is on. Heap allocations per message are a
// deterministic figure, unlike timings; switch counting on only around short
// untimed passes.
#pragma once

#include <atomic>
#include <cstdint>

namespace vatic::bench {

extern std::atomic<bool> g_count_allocs;
extern std::atomic<std::uint64_t> g_allocs;

}  // namespace vatic::bench
