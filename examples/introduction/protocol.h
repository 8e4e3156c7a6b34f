// The introduction example's interfaces (examples/introduction/): what the
// host C serves, what the introducer B hands out, and what the recipient A
// calls. All three roles include this header; host.cpp implements it.
//
// spec/captp.md 11 (three-party handoff): B holds a reference to C's Counter
// and hands it to A. With handoff, A picks the Counter up at C over a session
// of its own, so A's calls go A -> C and outlive B; without it, B proxies and
// A's reference breaks when B goes.
#pragma once

#include <cstdint>
#include <string>

#include "vat/codec.h"
#include "vat/object.h"
#include "vat/ref.h"

namespace introduction {

// One answer of the Counter: the count after this call, and the vat id of the
// vat that counted it. A count that keeps rising across B's death, from the
// host's vat id, is C's live object answering (not a copy, not B).
struct Tick {
  std::int64_t count = 0;
  std::string vat;  // the host's vat id, as text
  VATIC_FIELDS(Tick, count, vat)
};

// Served by the host C as its bootstrap object.
class Counter : public vatic::Object {
 public:
  virtual Tick next() = 0;
  VATIC_METHODS(Counter, next)
};

// The introducer B's bootstrap object: hands out B's reference to C's Counter.
class Introducer : public vatic::Object {
 public:
  virtual vatic::Ref<Counter> counter() = 0;
  VATIC_METHODS(Introducer, counter)
};

}  // namespace introduction
