// Pooled: small-block recycling for the objects every send makes and drops
// (messages, turns, promise states). Each thread keeps a short free list per
// size class, so the hot path of a send reuses memory instead of calling
// malloc twice. Blocks freed on another thread simply join that thread's list
// (lists are capped, the rest goes back to malloc). Sanitizer builds bypass
// the pool so that use-after-free stays visible.
#pragma once

#include <cstddef>

namespace vatic::detail {

void* pool_alloc(std::size_t n);
void pool_free(void* p, std::size_t n) noexcept;

struct Pooled {
  static void* operator new(std::size_t n) { return pool_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { pool_free(p, n); }
};

}  // namespace vatic::detail
