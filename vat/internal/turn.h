// Turn: one unit of work a vat runs to completion. Turns are linked intrusively
// so queueing one never allocates. A turn that is destroyed without running (its
// vat stopped first) cleans up in its destructor: message turns break their
// result promise with `disconnected`.
#pragma once

#include <cstddef>

#include "vat/internal/pool.h"

namespace vatic::detail {

class Turn : public Pooled {
 public:
  Turn() = default;
  Turn(const Turn&) = delete;
  Turn& operator=(const Turn&) = delete;
  virtual ~Turn() = default;

  // Runs the turn; `this` is deleted by the queue afterwards. Exceptions that
  // escape are caught by the vat and counted: turns that have a result promise
  // catch their own and break it.
  virtual void run() = 0;

  // Called on the receiving vat's thread when a turn arrives from another
  // thread. The default queues it as a turn; deliveries override it to route
  // at once so that E-order holds across promise forwarding.
  virtual void arrive();

  Turn* next_ = nullptr;
};

// A turn made on one thread and freed on another (calls, replies, releases,
// posted functions). It bypasses the per-thread pool: blocks that always
// migrate one way would drain one thread's lists and overfill the other's.
class CrossThreadTurn : public Turn {
 public:
  static void* operator new(std::size_t n) { return ::operator new(n); }
  static void operator delete(void* p) noexcept { ::operator delete(p); }
};

// FIFO of turns, single-threaded.
class TurnQueue {
 public:
  TurnQueue() = default;
  TurnQueue(const TurnQueue&) = delete;
  TurnQueue& operator=(const TurnQueue&) = delete;
  ~TurnQueue() { clear(); }

  bool empty() const noexcept { return head_ == nullptr; }
  size_t size() const noexcept { return size_; }

  void push(Turn* t) noexcept {
    t->next_ = nullptr;
    if (tail_)
      tail_->next_ = t;
    else
      head_ = t;
    tail_ = t;
    ++size_;
  }
  Turn* pop() noexcept {
    Turn* t = head_;
    if (t) {
      head_ = t->next_;
      if (!head_) tail_ = nullptr;
      t->next_ = nullptr;
      --size_;
    }
    return t;
  }
  // Whether f(turn) holds for some turn in the queue.
  template <class F>
  bool any_of(F f) const {
    for (Turn* t = head_; t; t = t->next_)
      if (f(t)) return true;
    return false;
  }
  template <class F>
  void for_each(F f) const {
    for (Turn* t = head_; t; t = t->next_) f(t);
  }
  // Moves all of `o` to the back of this queue.
  void splice(TurnQueue& o) noexcept {
    if (o.empty()) return;
    if (tail_)
      tail_->next_ = o.head_;
    else
      head_ = o.head_;
    tail_ = o.tail_;
    size_ += o.size_;
    o.head_ = o.tail_ = nullptr;
    o.size_ = 0;
  }
  // Destroys queued turns without running them (each cleans up).
  void clear() noexcept {
    while (Turn* t = pop()) delete t;
  }

 private:
  Turn* head_ = nullptr;
  Turn* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vatic::detail
