// FlightRecorder: each vat's fixed-size ring of its most recent deliveries
// (sequence, time, target, method, a capped argument summary, sender, outcome,
// duration) and supervisor events, plus cumulative per-method counts and
// latency percentiles. Memory is bounded by the ring's capacity and the number
// of distinct methods; recording is switchable per vat at run time. What an
// operator reads through the admin capability (`vatic inspect`).
//
// Owned by its vat (VatImpl::recorder, null while recording is off) and touched
// only by the vat's thread. The ring is allocated once (128 bytes an entry,
// its pages touched as it fills); a recorded delivery writes one entry and
// bumps one histogram: no formatting (the arguments are kept as raw bytes and
// turned into text by dump()) and no allocation, but for a method's first
// delivery, which makes its statistics row (1.3 KB, at most max_methods + 1 of
// them). Times come from the CPU's time-stamp counter (or the vat's clock when
// it is a manual one), converted to wall time and nanoseconds only when read.
//
// Recording is on by default, so that the first crash in production already
// has its history. What makes that affordable: a recorded delivery costs
// ~24 ns, while a local send costs ~30 ns in all, so recording every one of
// them cost 45% of `local.send_per_s`. Every delivery that crossed a boundary
// (sent from another vat, a CapTP peer: it has a sender) is recorded, as
// those are the ones an operator traces and they cost hundreds of ns anyway;
// a vat's sends to its own objects are sampled, about one in
// `local_sample_every` (at random gaps, so a periodic workload cannot hide a
// method), and the per-method counts of sampled rows say so. Set
// `local_sample_every = 1` to record everything (tests, debugging), or
// `enabled = false` for none. bench/README.md, `recorder.*`, has the figures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "vat/clock.h"

namespace vatic {

class Object;
class Value;

namespace detail {
class Message;
class PromiseBase;
}  // namespace detail

struct RecorderOptions {
  bool enabled = true;
  std::size_t capacity = 4096;     // ring entries (deliveries and events together)
  std::size_t max_methods = 1024;  // distinct (class, method) rows; the rest add up in "(other)"
  // A delivery without a sender (a vat's send to its own object) is recorded
  // with probability 1/local_sample_every; 1 records every one, 0 none.
  std::uint32_t local_sample_every = 64;
};

class FlightRecorder {
 public:
  struct Ticket {
    std::uint64_t start = 0;
    std::uint32_t slot = 0;
    std::uint32_t row = 0;
  };

  // `vat_name` names the sender of deliveries that came from the vat itself.
  explicit FlightRecorder(RecorderOptions o, Clock* clock, std::string vat_name = {});
  ~FlightRecorder();
  FlightRecorder(const FlightRecorder&) = delete;
  FlightRecorder& operator=(const FlightRecorder&) = delete;

  // Whether to record this local delivery (one without a sender): the test
  // every unrecorded local send pays, so it is inline and a countdown.
  bool sample_local() noexcept {
    if (--countdown_ != 0) return false;
    countdown_ = next_gap();
    return every_ != 0;
  }
  std::uint32_t local_sample_every() const noexcept { return every_; }

  // The hot path, around each delivery to a near object (see run_observed).
  Ticket begin(detail::Message& m, Object& target) noexcept;
  // `result` is null when the delivery took its own result. A result still
  // pending is recorded as "pending" (the turn ended, the answer did not).
  void end(const Ticket& t, const detail::PromiseBase* result) noexcept;

  // A supervisor event: a crash, restart, escalation or stop. Texts are cut to
  // fit the entry (source 23 bytes, what and detail 46 together).
  void event(std::string_view source, std::string_view what, std::string_view detail) noexcept;

  // The ring, oldest first, as a list of "delivery" and "event" records (see
  // vat/introspect.h). A delivery still running (the one that asks for the
  // dump) has outcome "running".
  Value dump() const;
  // Per-method counts and latency percentiles as a list of "method" records,
  // sorted by class and method, "(other)" last.
  Value method_stats() const;

  std::size_t capacity() const noexcept;
  // Entries the ring holds now (at most capacity()).
  std::size_t size() const noexcept;
  // Deliveries recorded since recording began (also those the ring forgot).
  std::uint64_t recorded() const noexcept;

 private:
  std::uint32_t next_gap() noexcept;

  struct Impl;
  Impl* impl_;
  std::uint32_t every_;
  std::uint32_t countdown_;
  std::uint64_t gap_state_;  // xorshift64: the gaps between samples
};

}  // namespace vatic
