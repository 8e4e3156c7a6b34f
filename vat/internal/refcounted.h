// Vat-local reference counting. Everything a vat owns (objects, promise states,
// handlers) is counted without atomics: only the owning vat's thread touches the
// count. Anything that crosses threads goes through an ExportEntry (far.h), whose
// lifetime is shared and atomic.
#pragma once

#include <cstdint>
#include <utility>

namespace vatic::detail {

class RefCounted {
 public:
  RefCounted() = default;
  RefCounted(const RefCounted&) = delete;
  RefCounted& operator=(const RefCounted&) = delete;
  virtual ~RefCounted() = default;

  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }
  uint32_t ref_count() const noexcept { return refs_; }

 private:
  uint32_t refs_ = 0;
};

// An owning pointer to a RefCounted; the vat-local counterpart of shared_ptr.
template <class T>
class Ptr {
 public:
  Ptr() noexcept = default;
  Ptr(std::nullptr_t) noexcept {}
  explicit Ptr(T* p) noexcept : p_(p) {
    if (p_) p_->add_ref();
  }
  Ptr(const Ptr& o) noexcept : Ptr(o.p_) {}
  Ptr(Ptr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <class U>
  Ptr(const Ptr<U>& o) noexcept : Ptr(o.get()) {}
  template <class U>
  Ptr(Ptr<U>&& o) noexcept : p_(o.detach()) {}
  ~Ptr() {
    if (p_) p_->release();
  }
  Ptr& operator=(Ptr o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }

  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  T* detach() noexcept { return std::exchange(p_, nullptr); }
  void reset() noexcept { Ptr().swap(*this); }
  void swap(Ptr& o) noexcept { std::swap(p_, o.p_); }

  friend bool operator==(const Ptr& a, const Ptr& b) noexcept { return a.p_ == b.p_; }

 private:
  T* p_ = nullptr;
};

template <class T, class... A>
Ptr<T> make_ptr(A&&... a) {
  return Ptr<T>(new T(std::forward<A>(a)...));
}

}  // namespace vatic::detail
