#include "vat/internal/vat_core.h"

#include "vat/internal/far.h"

namespace vatic::detail {

// The wake-up happens under the lock: once release() cleared the waker, the
// vat (and the io_context a waker posts to) may be gone.
bool VatCore::push(Turn* t) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  enqueue_locked(t);
  return true;
}

bool VatCore::push_cleanup(Turn* t) {
  std::lock_guard lock(mu_);
  if (released_) return false;
  enqueue_locked(t);
  return true;
}

void VatCore::enqueue_locked(Turn* t) {
  inbox_.push(t);
  if (!wake_pending_ && waker_) {
    wake_pending_ = true;
    waker_->wake();
  }
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
