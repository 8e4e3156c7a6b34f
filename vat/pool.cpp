#include "vat/internal/pool.h"

#include <new>
#include <utility>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VATIC_POOL_DISABLED 1
#endif

namespace vatic::detail {

#ifdef VATIC_POOL_DISABLED

void* pool_alloc(std::size_t n) { return ::operator new(n); }
void pool_free(void* p, std::size_t) noexcept { ::operator delete(p); }

#else

namespace {

constexpr std::size_t kGrain = 32;
constexpr std::size_t kClasses = 8;             // blocks up to 256 bytes
constexpr std::size_t kMaxFreeBytes = 4 << 20;  // per size class and thread

struct Block {
  Block* next;
};

struct FreeLists {
  Block* head[kClasses] = {};
  std::size_t count[kClasses] = {};
  ~FreeLists() {
    for (auto& h : head)
      while (h) ::operator delete(std::exchange(h, h->next));
  }
};

thread_local FreeLists t_lists;

}  // namespace

void* pool_alloc(std::size_t n) {
  std::size_t c = (n - 1) / kGrain;
  if (c >= kClasses) return ::operator new(n);
  if (Block* b = t_lists.head[c]) {
    t_lists.head[c] = b->next;
    --t_lists.count[c];
    return b;
  }
  return ::operator new((c + 1) * kGrain);
}

void pool_free(void* p, std::size_t n) noexcept {
  std::size_t c = (n - 1) / kGrain;
  if (c >= kClasses || t_lists.count[c] * (c + 1) * kGrain >= kMaxFreeBytes) return ::operator delete(p);
  auto* b = static_cast<Block*>(p);
  b->next = t_lists.head[c];
  t_lists.head[c] = b;
  ++t_lists.count[c];
}

#endif

}  // namespace vatic::detail
