// VatCore: the part of a vat that other threads may touch: its inbox (an MPSC
// queue guarded by one mutex, with one wake-up per batch), the gate that closes
// it, and the registry of entries it has exported. It is shared: export entries
// and far handlers in other vats keep it alive after the Vat itself is gone, so
// a send into a dead vat fails cleanly instead of touching freed memory.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vat/internal/turn.h"

namespace vatic::detail {

struct ExportEntry;
struct HandlerHold;

// How a vat is woken when work arrives from another thread. The default posts
// into the vat's io_context; a simulation can mark the vat runnable instead.
class Waker {
 public:
  virtual ~Waker() = default;
  virtual void wake() = 0;
};

class VatCore {
 public:
  explicit VatCore(std::string name) : name_(std::move(name)) {}

  const std::string& name() const noexcept { return name_; }

  // Any thread. Queues `t` for the vat; false once the gate closed (then the
  // caller still owns `t`).
  bool push(Turn* t);
  // Any thread. For clean-up turns (releases) that must reach the vat even
  // after the gate closed; false once the vat was released.
  bool push_cleanup(Turn* t);

  // The vat's thread.
  void set_waker(Waker* w);
  void take(TurnQueue& out);
  void close();  // the gate: no more push()
  bool closed() const;
  // Marks the vat released and hands back everything it still owns: queued
  // turns and the targets of live export entries (to destroy on its thread).
  void release(TurnQueue& inbox, std::vector<HandlerHold>& targets);

  // Any thread, for ExportEntry.
  void link(ExportEntry* e);
  // Unlinks `e`; returns false if the vat was already released.
  void unlink(ExportEntry* e);
  bool released() const;
  // Returns once no other thread is inside Waker::wake() (after release()).
  void wait_for_wakes() const;
  std::mutex& mutex() noexcept { return mu_; }

 private:
  Waker* enqueue_locked(Turn* t);  // the waker to call after unlocking, if any
  void finish_wake(Waker* w);

  const std::string name_;
  mutable std::mutex mu_;
  TurnQueue inbox_;
  Waker* waker_ = nullptr;
  bool wake_pending_ = false;
  std::atomic<int> wakes_in_flight_{0};
  bool closed_ = false;
  bool released_ = false;
  ExportEntry* entries_ = nullptr;
};

}  // namespace vatic::detail
