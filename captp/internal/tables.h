// The session's tables as slot vectors. SlotTable holds ids this side chooses
// (questions, exports, embargoes): freed ids are reused, lowest first, so ids
// stay as small as the number of live entries. PeerTable holds ids the peer
// chooses (answers, imports): the peer may pick any id below kMaxPeerId
// (spec/captp.md), which bounds what a hostile peer can make us allocate.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace vatic::captp {

inline constexpr std::uint32_t kMaxPeerId = 1u << 18;

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
      slots_[id].emplace(std::move(v));
      return id;
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
    return out;
  }
  std::size_t size() const noexcept { return live_; }
  // Empties the table, handing every entry to f(id, T&&).
  template <class F>
  void drain(F f) {
    auto slots = std::exchange(slots_, {});
    free_.clear();
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
  std::size_t live_ = 0;
};

template <class T>
class PeerTable {
 public:
  // Null when the id is out of range (a protocol violation the caller reports).
  T* insert(std::uint32_t id, T v) {
    if (id >= kMaxPeerId) return nullptr;
    if (id >= slots_.size()) slots_.resize(std::max<std::size_t>(id + 1, slots_.size() * 2));
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
    return out;
  }
  std::size_t size() const noexcept { return live_; }
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
