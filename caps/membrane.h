// Membrane: a transitive, revocable wrapper around a reference and around
// everything reachable through it. Calls through a membraned reference are
// lowered to calls by name; every reference or promise that comes out (in a
// result, inside lists and records, or as the resolution of a promise) comes
// out wrapped in the same membrane, and every reference passed in as an
// argument goes in wrapped the other way, so that neither side can use the
// membrane to hand the other an unwrapped reference. A reference that crosses
// back the way it came is unwrapped rather than wrapped twice (as Cap'n
// Proto's membrane does), so each side sees its own objects as they are.
//
// A MembranePolicy is consulted on every call that goes through (in both
// directions) and may refuse it; MembraneControl::revoke cuts the whole
// membrane at once: every reference that ever passed through it, messages
// still waiting in it, and answers still awaited through it. This is how
// attenuation of live references is done: a time window (token expiry), a
// method allow-list at the root, revocation, or any mix of them (AllOf).
// Pipelining works through the membrane: the promise a membraned call returns
// accepts sends at once, and they go through the membrane in order.
//
// Identity: within one membrane, the same target wrapped twice yields the same
// wrapper while that wrapper lives (a weak cache keyed by target identity), so
// Ref equality on references obtained through the membrane is stable. A
// wrapper never equals its target.
//
// Owned by whoever holds the references and the control. A membrane belongs to
// the vat of the reference it was made from: its wrappers, its policy and its
// control are used only on that vat's thread (policies are called there too).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vat/error.h"
#include "vat/ref.h"

namespace vatic::caps {

class MembranePolicy {
 public:
  virtual ~MembranePolicy() = default;

  // Consulted just before a call leaves the membrane for its target, on the
  // membrane's thread. `at_root`: the call goes to the membrane's original
  // target (however the reference to it was obtained), not to another
  // reference that passed through. Returns the error to break the call with,
  // or nothing to let it through. Exceptions break the call too.
  virtual std::optional<Error> admit(std::string_view method, bool at_root) = 0;
};

// Admits every call: the membrane is cut only by its control's revoke.
class RevocableOnly final : public MembranePolicy {
 public:
  std::optional<Error> admit(std::string_view method, bool at_root) override;
};

// Calls to the root must name a listed method; calls to other references that
// came through are not filtered by name (theirs is another interface). The
// refusal is `failed` "refused: method <m> is not allowed by this capability",
// or `refusal` verbatim when given (the sturdy-ref layer's wording).
class AllowMethodsAtRoot final : public MembranePolicy {
 public:
  explicit AllowMethodsAtRoot(std::vector<std::string> methods, std::optional<std::string> refusal = std::nullopt);
  std::optional<Error> admit(std::string_view method, bool at_root) override;

 private:
  std::vector<std::string> methods_;
  std::optional<std::string> refusal_;
};

// Admits calls only while not_before - skew <= now < expires + skew (each
// bound optional; caps::check_time_window, token.md Clock skew), reading
// `now_unix` (unix seconds) on every call, so an expiry that passes cuts a
// live reference too. Refusals: `failed` "refused: token expired" and
// "refused: token not yet valid".
class TimeWindow final : public MembranePolicy {
 public:
  TimeWindow(std::function<std::int64_t()> now_unix, std::optional<std::int64_t> not_before,
             std::optional<std::int64_t> expires, std::int64_t skew_seconds = 0);
  std::optional<Error> admit(std::string_view method, bool at_root) override;

 private:
  std::function<std::int64_t()> now_unix_;
  std::optional<std::int64_t> not_before_;
  std::optional<std::int64_t> expires_;
  std::int64_t skew_;
};

// Admits a call only if every policy does; the first refusal (in list order) wins.
class AllOf final : public MembranePolicy {
 public:
  explicit AllOf(std::vector<std::shared_ptr<MembranePolicy>> policies);
  std::optional<Error> admit(std::string_view method, bool at_root) override;

 private:
  std::vector<std::shared_ptr<MembranePolicy>> policies_;
};

namespace internal {
class MembraneCore;
}

// The right to cut a membrane. Copies share it; a default-constructed control
// controls nothing.
class MembraneControl {
 public:
  MembraneControl() = default;
  // For caps' own code.
  explicit MembraneControl(std::shared_ptr<internal::MembraneCore> core) : core_(std::move(core)) {}

  // Cuts every reference that ever passed through the membrane: calls through
  // them, queued ones included, break with `why`; wrapped targets are dropped
  // (so they can be freed); answers still awaited break. First call wins.
  void revoke(Error why);
  // The same with `failed` "revoked: <reason>".
  void revoke(std::string_view reason);
  bool revoked() const noexcept;
  // How many wrappers of this membrane are alive (for tests and inspection).
  std::size_t live_wrappers() const noexcept;

 private:
  std::shared_ptr<internal::MembraneCore> core_;
};

template <class T>
struct Membraned {
  Ref<T> ref;
  MembraneControl control;
};

namespace internal {
// The root wrapper of a new membrane around `target` (not empty), and its control.
std::pair<detail::HandlerPtr, MembraneControl> make_membrane(detail::HandlerPtr target,
                                                             std::shared_ptr<MembranePolicy> policy);
}  // namespace internal

// Wraps `target` in a new membrane governed by `policy`:
//   auto [ref, control] = caps::membrane(dir, std::make_shared<caps::TimeWindow>(now, {}, expiry));
// Throws `failed` for an empty reference or a null policy.
template <class T>
Membraned<T> membrane(const Ref<T>& target, std::shared_ptr<MembranePolicy> policy) {
  auto [h, control] = internal::make_membrane(detail::RefAccess::handler(target), std::move(policy));
  return Membraned<T>{detail::RefAccess::make<T>(std::move(h)), std::move(control)};
}

}  // namespace vatic::caps
