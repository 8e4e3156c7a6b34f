// Helpers for the tests of three-party handoff (spec/captp.md 11) that run
// several vatic Nodes, each on a Vat of its own, in the test's one thread:
// the vats run in turn until a condition holds (within a bound, so that a
// handoff that never completes fails the test instead of hanging it), and
// sessions are looked up by peer to read their handoff counts (11.9).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>
#include <type_traits>
#include <vector>

#include "captp/node.h"
#include "vat/vat.h"

namespace vatic::test {

class HandoffVats {
 public:
  explicit HandoffVats(std::initializer_list<Vat*> vats) : vats_(vats) {}

  // Every node speaks handoff, whatever the default.
  static captp::NodeOptions handoff_on() {
    captp::NodeOptions o;
    o.session.handoff = true;
    return o;
  }
  // Runs each vat until idle, once.
  void pump() {
    for (Vat* v : vats_) v->run_until_idle();
  }
  // Pumps `only` (default: every vat) until `pred` holds; false after 10 s.
  bool run_until(const std::function<bool()>& pred, std::initializer_list<Vat*> only = {}) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      if (only.size() == 0) pump();
      for (Vat* v : only) v->run_until_idle();
    }
    return true;
  }
  template <class T>
  T get(Promise<T> p) {
    EXPECT_TRUE(run_until([&] { return !p.pending(); })) << "promise did not settle";
    if (p.is_broken()) throw VatError(p.error());
    if constexpr (!std::is_void_v<T>) return p.value();
  }
  // `n`'s session with `peer`, if it has one.
  static std::optional<captp::SessionInfo> session(captp::Node& n, const VatId& peer) {
    for (const auto& s : n.sessions())
      if (s.peer == peer) return s;
    return std::nullopt;
  }

 private:
  std::vector<Vat*> vats_;
};

}  // namespace vatic::test
