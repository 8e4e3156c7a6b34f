// The session's tables as slot vectors. SlotTable holds ids this side chooses
// (questions, exports, embargoes): freed ids are reused, lowest first, so ids
// stay as small as the number of live entries. PeerTable holds ids the peer
// chooses (answers, imports): the peer may pick any id below kMaxPeerId
// (spec/captp.md), which bounds what a hostile peer can make us allocate.
//
// Both give memory back: the free slots past the highest live id go at once,
// and a vector whose capacity is more than twice what it holds is shrunk to
// fit, so a session that once held 100 000 exports and now holds ten costs
// about what ten cost (once the high ids are free: live entries never move,
// their ids are names on the wire). Each reallocation is paid for by the
// removals that halved the vector since the last one: O(1) amortized.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace vatic::captp {

inline constexpr std::uint32_t kMaxPeerId = 1u << 18;

namespace table_detail {
// Gives back a vector's spare capacity once it is more than twice its size.
template <class V>
void fit(V& v) {
  if (v.capacity() > 2 * v.size() + 16) v.shrink_to_fit();
}
// Drops the free slots past the last live one; how many went.
template <class V>
std::size_t trim(V& slots) {
  std::size_t end = slots.size();
  while (end > 0 && !slots[end - 1]) --end;
  std::size_t gone = slots.size() - end;
  if (gone) {
    slots.resize(end);
    fit(slots);
  }
  return gone;
}
}  // namespace table_detail

template <class T>
class SlotTable {
 public:
  std::uint32_t add(T v) {
    ++live_;
    if (!free_.empty()) {
      // spec/captp.md 2: the lowest freed id first (free_ is a min-heap).
      std::pop_heap(free_.begin(), free_.end(), std::greater<>());
      std::uint32_t id = free_.back();
      free_.pop_back();
      if (id < slots_.size()) {
        slots_[id].emplace(std::move(v));
        return id;
      }
      // The lowest is past the end (trimmed): so is every other. The table
      // grows from its end again, so none of them may stay.
      free_.clear();
      stale_ = 0;
    }
    slots_.emplace_back(std::move(v));
    return static_cast<std::uint32_t>(slots_.size() - 1);
  }
  T* find(std::uint32_t id) noexcept { return id < slots_.size() && slots_[id] ? &*slots_[id] : nullptr; }
  const T* find(std::uint32_t id) const noexcept { return id < slots_.size() && slots_[id] ? &*slots_[id] : nullptr; }
  // Removes the entry; returns it so that what it owns dies after the table
  // is consistent again (destructors may call back into the session).
  std::optional<T> take(std::uint32_t id) {
    std::optional<T> out;
    if (!find(id)) return out;
    out.swap(slots_[id]);
    free_.push_back(id);
    std::push_heap(free_.begin(), free_.end(), std::greater<>());
    --live_;
    // Ids past the end stay in free_ (stale) until they are half of it.
    stale_ += table_detail::trim(slots_);
    if (stale_ > 0 && stale_ * 2 >= free_.size()) {
      std::erase_if(free_, [end = slots_.size()](std::uint32_t f) { return f >= end; });
      std::make_heap(free_.begin(), free_.end(), std::greater<>());
      table_detail::fit(free_);
      stale_ = 0;
    }
    return out;
  }
  std::size_t size() const noexcept { return live_; }
  // Slots held, live or free (what the table costs; for the tests).
  std::size_t slots() const noexcept { return slots_.size(); }
  // Empties the table, handing every entry to f(id, T&&).
  template <class F>
  void drain(F f) {
    auto slots = std::exchange(slots_, {});
    free_ = {};
    stale_ = 0;
    live_ = 0;
    for (std::uint32_t id = 0; id < slots.size(); ++id)
      if (slots[id]) f(id, std::move(*slots[id]));
  }
  template <class F>
  void for_each(F f) {
    for (std::uint32_t id = 0; id < slots_.size(); ++id)
      if (slots_[id]) f(id, *slots_[id]);
  }

 private:
  std::vector<std::optional<T>> slots_;
  std::vector<std::uint32_t> free_;
  std::size_t stale_ = 0;  // ids in free_ that are past the end of slots_
  std::size_t live_ = 0;
};

template <class T>
class PeerTable {
 public:
  // Null when the id is out of range (a protocol violation the caller reports).
  T* insert(std::uint32_t id, T v) {
    if (id >= kMaxPeerId) return nullptr;
    if (id >= slots_.size()) {
      // Grows to the id only (take trims back to the last live id), with
      // room doubling underneath.
      if (id >= slots_.capacity()) slots_.reserve(std::max<std::size_t>(id + 1, slots_.capacity() * 2));
      slots_.resize(id + 1);
    }
    if (!slots_[id]) ++live_;
    slots_[id].emplace(std::move(v));
    return &*slots_[id];
  }
  T* find(std::uint32_t id) noexcept { return id < slots_.size() && slots_[id] ? &*slots_[id] : nullptr; }
  const T* find(std::uint32_t id) const noexcept { return id < slots_.size() && slots_[id] ? &*slots_[id] : nullptr; }
  std::optional<T> take(std::uint32_t id) {
    std::optional<T> out;
    if (!find(id)) return out;
    out.swap(slots_[id]);
    --live_;
    table_detail::trim(slots_);
    return out;
  }
  std::size_t size() const noexcept { return live_; }
  std::size_t slots() const noexcept { return slots_.size(); }
  template <class F>
  void drain(F f) {
    auto slots = std::exchange(slots_, {});
    live_ = 0;
    for (std::uint32_t id = 0; id < slots.size(); ++id)
      if (slots[id]) f(id, std::move(*slots[id]));
  }

 private:
  std::vector<std::optional<T>> slots_;
  std::size_t live_ = 0;
};

}  // namespace vatic::captp
