// PeerEcho: the object captp_test_peer (tests/captp/peer_main.cpp) serves as
// its bootstrap object and the process tests (tests/captp/process_test.cpp)
// call. Both sides include this header, so method names and signatures agree
// across the wire. It is the session tests' Echo plus what a test in another
// process cannot look up directly: the peer vat's live object count, whether a
// reference came home, calls that never answer, and an object of a third vat.
//
// Threads: as any Object, it is run only by the thread of the vat that made it.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "vat/vatic.h"

namespace vatic::test {

class PeerEcho : public Object {
 public:
  explicit PeerEcho(int depth = 0, Ref<PeerEcho> third = {}) : depth_(depth), third_(std::move(third)) {}

  std::int64_t echo(std::int64_t x) { return x; }
  Ref<PeerEcho> next() { return vat().make<PeerEcho>(depth_ + 1); }
  int depth() const { return depth_; }
  Bytes data(std::uint32_t n) { return Bytes(n, 0x5a); }
  std::uint64_t size_of(const Bytes& b) { return b.size(); }

  // Capability passing: keep a reference, call it back, hand it back.
  void hold(Ref<PeerEcho> r) { held_ = std::move(r); }
  Promise<std::int64_t> call_held(std::int64_t x) { return held_.send<&PeerEcho::order>(x); }
  Ref<PeerEcho> held() const { return held_; }
  // Whether `r` arrived as one of this vat's own objects (not a proxy).
  bool is_mine(Ref<PeerEcho> r) const { return r.is_near(); }

  // Records the order calls arrive in; returns how many arrived so far.
  std::int64_t order(std::int64_t x) {
    seen_.push_back(x);
    return static_cast<std::int64_t>(seen_.size());
  }
  std::vector<std::int64_t> seen() const { return seen_; }

  // The objects of the vat this object lives in (for GC checks).
  std::int64_t live_objects() const { return static_cast<std::int64_t>(vat().live_objects()); }

  // Answers never while this vat lives: the resolvers are kept, not dropped.
  Promise<std::int64_t> hang() {
    auto [p, r] = make_promise<std::int64_t>();
    hung_values_.push_back(std::move(r));
    return p;
  }
  Promise<Ref<PeerEcho>> hang_ref() {
    auto [p, r] = make_promise<Ref<PeerEcho>>();
    hung_refs_.push_back(std::move(r));
    return p;
  }

  // The third vat's bootstrap object as this vat holds it (set by
  // `captp_test_peer --connect`): callers in a fourth vat reach it through
  // this vat, which forwards their calls.
  Ref<PeerEcho> third() const { return third_; }
  // A fresh object of the third vat: the answer waits for the third vat's.
  Promise<Ref<PeerEcho>> third_next() const { return third_.send<&PeerEcho::next>(); }

  // Drops every reference this object holds (not callable remotely).
  void forget() {
    held_ = {};
    third_ = {};
    hung_values_.clear();
    hung_refs_.clear();
  }

  VATIC_METHODS(PeerEcho, echo, next, depth, data, size_of, hold, call_held, held, is_mine, order, seen, live_objects,
                hang, hang_ref, third, third_next)

 private:
  int depth_;
  Ref<PeerEcho> third_;
  Ref<PeerEcho> held_;
  std::vector<std::int64_t> seen_;
  std::vector<Resolver<std::int64_t>> hung_values_;
  std::vector<Resolver<Ref<PeerEcho>>> hung_refs_;
};

}  // namespace vatic::test
