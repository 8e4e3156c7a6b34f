#include "vat/internal/vat_core.h"

#include <thread>

#include "vat/internal/far.h"

namespace vatic::detail {

// The wake-up happens after unlocking (a woken thread would otherwise block on
// our lock at once); release() waits for wake-ups in flight before the waker
// (and the io_context it posts to) may go away.
bool VatCore::push(Turn* t) {
  Waker* w = nullptr;
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    w = enqueue_locked(t);
  }
  finish_wake(w);
  return true;
}

bool VatCore::push_cleanup(Turn* t) {
  Waker* w = nullptr;
  {
    std::lock_guard lock(mu_);
    if (released_) return false;
    w = enqueue_locked(t);
  }
  finish_wake(w);
  return true;
}

Waker* VatCore::enqueue_locked(Turn* t) {
  inbox_.push(t);
  if (wake_pending_ || !waker_) return nullptr;
  wake_pending_ = true;
  wakes_in_flight_.fetch_add(1, std::memory_order_relaxed);
  return waker_;
}

void VatCore::finish_wake(Waker* w) {
  if (!w) return;
  w->wake();
  wakes_in_flight_.fetch_sub(1, std::memory_order_release);
}

void VatCore::set_waker(Waker* w) {
  std::lock_guard lock(mu_);
  waker_ = w;
}

void VatCore::take(TurnQueue& out) {
  std::lock_guard lock(mu_);
  out.splice(inbox_);
  wake_pending_ = false;
}

void VatCore::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

bool VatCore::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

bool VatCore::released() const {
  std::lock_guard lock(mu_);
  return released_;
}

void VatCore::release(TurnQueue& inbox, std::vector<HandlerHold>& targets) {
  std::lock_guard lock(mu_);
  closed_ = released_ = true;
  waker_ = nullptr;
  inbox.splice(inbox_);
  for (ExportEntry* e = entries_; e;) {
    ExportEntry* next = e->next;
    if (e->target) targets.push_back(HandlerHold{std::move(e->target)});
    e->prev = e->next = nullptr;
    e = next;
  }
  entries_ = nullptr;
}

void VatCore::wait_for_wakes() const {
  while (wakes_in_flight_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

void VatCore::link(ExportEntry* e) {
  std::lock_guard lock(mu_);
  if (released_) return;
  e->prev = nullptr;
  e->next = entries_;
  if (entries_) entries_->prev = e;
  entries_ = e;
}

void VatCore::unlink(ExportEntry* e) {
  std::lock_guard lock(mu_);
  if (released_) return;
  if (e->prev)
    e->prev->next = e->next;
  else if (entries_ == e)
    entries_ = e->next;
  if (e->next) e->next->prev = e->prev;
  e->prev = e->next = nullptr;
}

}  // namespace vatic::detail
