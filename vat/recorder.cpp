#include "vat/recorder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <fmt/format.h>

#include "vat/internal/arg_summary.h"
#include "vat/message.h"
#include "vat/object.h"
#include "vat/value.h"

namespace vatic {

namespace {

using detail::ArgCapture;

constexpr std::uint32_t kNoRow = 0xffffffffu;
// Latency histogram: four buckets per power of two of ticks (within 19%), up
// to 2^41 ticks (ten minutes at 3.5 GHz); longer turns share the last bucket.
constexpr int kBuckets = 160;

enum Kind : std::uint8_t { kDelivery, kEvent };
enum Outcome : std::uint8_t { kRunning, kOk, kPending, kBroken };  // kBroken + ErrorKind

// One ring entry: plain bytes, written in place by every delivery. Names are
// not copied: `row` points into the method statistics, which own them.
struct alignas(64) Entry {
  std::uint64_t seq;
  std::uint64_t start;  // ticks
  std::uint64_t ticks;  // the turn's duration
  const void* object;   // for a short id only; never dereferenced
  std::uint32_t row;
  std::uint8_t kind;
  std::uint8_t outcome;
  // The row does not name the method ("(unknown)", "(other)"): `args` holds
  // "Class\0method" instead of the arguments. For an event: "what\0detail".
  std::uint8_t names_in_args;
  ArgCapture args;
  char sender[24];  // empty: the vat itself; for an event, its source
};
static_assert(sizeof(Entry) == 128, "two cache lines per entry");

struct Row {
  std::string cls;
  std::string method;
  std::uint64_t count = 0;
  std::uint64_t local = 0;  // of count: local deliveries, recorded by sampling
  std::uint64_t failures = 0;
  std::uint64_t max = 0;
  std::uint64_t hist[kBuckets] = {};
};

int bucket_of(std::uint64_t x) noexcept {
  if (x < 4) return static_cast<int>(x);
  int e = 63 - __builtin_clzll(x);
  int i = 4 * (e - 1) + static_cast<int>((x >> (e - 2)) & 3);
  return i < kBuckets ? i : kBuckets - 1;
}

// The middle of bucket i, in ticks.
double bucket_mid(int i) noexcept {
  if (i < 4) return i;
  int e = i / 4 + 1;
  double lo = static_cast<double>((4 + i % 4) * (std::uint64_t{1} << (e - 2)));
  return lo + static_cast<double>(std::uint64_t{1} << (e - 2)) / 2;
}

struct CacheSlot {
  const MethodTable* table = nullptr;
  const char* key = nullptr;
  std::uint32_t row = kNoRow;
};

struct PairHash {
  std::size_t operator()(const std::pair<const void*, const void*>& k) const noexcept {
    auto a = reinterpret_cast<std::uintptr_t>(k.first), b = reinterpret_cast<std::uintptr_t>(k.second);
    return static_cast<std::size_t>((a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull >> 17);
  }
};

void copy_text(char* out, std::size_t cap, std::string_view s) noexcept {
  std::size_t n = std::min(s.size(), cap - 1);
  if (n) std::memcpy(out, s.data(), n);
  out[n] = 0;
}

// "Class\0method" (or "what\0detail") into an entry's argument bytes.
void capture_pair(ArgCapture& c, std::string_view a, std::string_view b) noexcept {
  char text[ArgCapture::kRaw - 1];
  std::size_t na = std::min(a.size(), sizeof text - 1);
  if (na) std::memcpy(text, a.data(), na);
  text[na] = 0;
  std::size_t nb = std::min(b.size(), sizeof text - na - 1);
  if (nb) std::memcpy(text + na + 1, b.data(), nb);
  detail::capture_text(c, std::string_view(text, na + 1 + nb));
}

std::pair<std::string, std::string> split_pair(const ArgCapture& c) {
  std::string_view all(reinterpret_cast<const char*>(c.raw + 1), c.raw[0]);
  auto z = all.find('\0');
  if (z == std::string_view::npos) return {std::string(all), {}};
  return {std::string(all.substr(0, z)), std::string(all.substr(z + 1))};
}

}  // namespace

struct FlightRecorder::Impl {
  Impl(RecorderOptions o, Clock* c, std::string name)
      : cap(std::max<std::size_t>(o.capacity, 1)),
        max_rows(std::max<std::size_t>(o.max_methods, 1)),
        clock(c ? c : &steady_clock()),  // the vat's clock: a simulation's stamps are its own
        manual(clock->manual()),
        vat_name(std::move(name)),
        ring(new Entry[cap]) {  // not value-initialised: pages are touched as the ring fills
    rows.reserve(max_rows + 1);
    tick0 = ticks();
    steady0 = steady_ns();
    wall0_ms = clock->unix_ms();
  }

  std::int64_t steady_ns() const noexcept { return clock->now().time_since_epoch().count(); }

  std::uint64_t ticks() const noexcept {
    if (manual) return static_cast<std::uint64_t>(clock->now().time_since_epoch().count());
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(steady_ns());
#endif
  }

  Entry& claim() noexcept {
    Entry& e = ring[cursor];
    if (++cursor == cap) cursor = 0;
    e.seq = ++last_seq;
    return e;
  }

  std::uint32_t row_for(detail::Message& m, Object& target, Entry& e) noexcept;
  std::uint32_t find_row(const MethodTable* t, const char* key, std::string_view cls, std::string_view method);
  double ns_per_tick() const;
  Value record_of(const Entry& e, double nspt) const;

  const std::size_t cap;
  const std::size_t max_rows;
  Clock* clock;
  const bool manual;
  const std::string vat_name;
  std::unique_ptr<Entry[]> ring;
  std::size_t cursor = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t deliveries = 0;

  std::uint64_t tick0 = 0;
  std::int64_t steady0 = 0;
  std::int64_t wall0_ms = 0;

  std::vector<std::unique_ptr<Row>> rows;
  std::uint32_t other = kNoRow;
  CacheSlot cache[64];
  std::unordered_map<std::pair<const void*, const void*>, std::uint32_t, PairHash> by_key;
  std::unordered_map<std::string, std::uint32_t> by_name;
};

std::uint32_t FlightRecorder::Impl::row_for(detail::Message& m, Object& target, Entry& e) noexcept {
  try {
    const MethodTable* table = &target.vatic_methods();
    std::string_view name = m.static_method();
    if (name.empty()) {
      // By name: the table's entry gives the same static key a typed send has.
      std::string_view asked = m.method();
      if (const MethodEntry* me = table->find(asked)) {
        name = me->name;
      } else if (asked == detail::kWhenBroken || asked == detail::kWhenResolved) {
        name = asked == detail::kWhenBroken ? detail::kWhenBroken : detail::kWhenResolved;  // every object's
      } else {
        capture_pair(e.args, table->class_name, asked);
        e.names_in_args = 1;
        return find_row(table, nullptr, table->class_name, "(unknown)");
      }
    }
    CacheSlot& c = cache[PairHash{}({table, name.data()}) & 63];
    if (c.table != table || c.key != name.data()) {
      c = CacheSlot{table, name.data(), find_row(table, name.data(), table->class_name, name)};
    }
    if (c.row == other) {
      capture_pair(e.args, table->class_name, name);
      e.names_in_args = 1;
    }
    return c.row;
  } catch (...) {
    return kNoRow;  // no memory for a new row: the delivery is recorded without statistics
  }
}

std::uint32_t FlightRecorder::Impl::find_row(const MethodTable* t, const char* key, std::string_view cls,
                                             std::string_view method) {
  auto k = std::make_pair(static_cast<const void*>(t), static_cast<const void*>(key));
  if (auto it = by_key.find(k); it != by_key.end()) return it->second;
  // The same name at another address (a method declared in an interface and
  // listed again by the class; by-name and typed sends): one row.
  std::string text;
  text.reserve(cls.size() + 1 + method.size());
  text.append(cls).push_back('\0');
  text.append(method);
  std::uint32_t row;
  if (auto it = by_name.find(text); it != by_name.end()) {
    row = it->second;
  } else if (rows.size() < max_rows) {
    row = static_cast<std::uint32_t>(rows.size());
    rows.push_back(std::make_unique<Row>(Row{std::string(cls), std::string(method)}));
    by_name.emplace(std::move(text), row);
  } else {
    if (other == kNoRow) {
      other = static_cast<std::uint32_t>(rows.size());
      rows.push_back(std::make_unique<Row>(Row{"(other)", "(other)"}));
    }
    row = other;
  }
  // Keys are static addresses (tables, their entries' names), so their number
  // is bounded by the program, whatever peers send.
  by_key.emplace(k, row);
  return row;
}

FlightRecorder::FlightRecorder(RecorderOptions o, Clock* clock, std::string vat_name)
    : impl_(new Impl(o, clock, std::move(vat_name))),
      every_(o.local_sample_every),
      countdown_(1),
      gap_state_(0x9E3779B97F4A7C15ull) {
  countdown_ = next_gap();
}

// Uniform in [1, 2 * every - 1]: mean `every`, and no fixed period a workload
// that alternates methods could fall in step with. Not a secret, and the same
// sequence on every run (a simulation's vat records the same deliveries).
std::uint32_t FlightRecorder::next_gap() noexcept {
  if (every_ <= 1) return 1;
  gap_state_ ^= gap_state_ << 13;
  gap_state_ ^= gap_state_ >> 7;
  gap_state_ ^= gap_state_ << 17;
  return 1 + static_cast<std::uint32_t>(gap_state_ % (2 * std::uint64_t{every_} - 1));
}

FlightRecorder::~FlightRecorder() { delete impl_; }

FlightRecorder::Ticket FlightRecorder::begin(detail::Message& m, Object& target) noexcept {
  Impl& im = *impl_;
  std::uint64_t now = im.ticks();
  auto slot = static_cast<std::uint32_t>(im.cursor);
  Entry& e = im.claim();
  ++im.deliveries;
  e.start = now;
  e.ticks = 0;
  e.object = &target;
  e.kind = kDelivery;
  e.outcome = kRunning;
  e.names_in_args = 0;
  m.capture_args(e.args);
  e.row = im.row_for(m, target, e);
  if (m.sender_) {
    copy_text(e.sender, sizeof e.sender, m.sender_);
  } else {
    e.sender[0] = 0;
    if (e.row != kNoRow) ++im.rows[e.row]->local;
  }
  return Ticket{now, slot, e.row};
}

void FlightRecorder::end(const Ticket& t, const detail::PromiseBase* result) noexcept {
  Impl& im = *impl_;
  std::uint64_t now = im.ticks();
  std::uint64_t d = now > t.start ? now - t.start : 0;
  std::uint8_t outcome = kPending;
  if (result && result->status() == detail::PromiseBase::Status::fulfilled)
    outcome = kOk;
  else if (result && result->status() == detail::PromiseBase::Status::broken)
    outcome = static_cast<std::uint8_t>(kBroken + static_cast<int>(result->error().kind));
  Entry& e = im.ring[t.slot];
  // Deliveries do not nest, so only events can have taken the slot meanwhile
  // (a whole ring of them during this turn).
  if (e.kind == kDelivery) {
    e.ticks = d;
    e.outcome = outcome;
  }
  if (t.row == kNoRow) return;
  Row& r = *im.rows[t.row];
  ++r.count;
  r.failures += outcome >= kBroken;
  ++r.hist[bucket_of(d)];
  if (d > r.max) r.max = d;
}

void FlightRecorder::event(std::string_view source, std::string_view what, std::string_view detail) noexcept {
  Impl& im = *impl_;
  Entry& e = im.claim();
  e.start = im.ticks();
  e.ticks = 0;
  e.object = nullptr;
  e.row = kNoRow;
  e.kind = kEvent;
  e.outcome = kOk;
  e.names_in_args = 1;
  capture_pair(e.args, what, detail);
  copy_text(e.sender, sizeof e.sender, source);
}

double FlightRecorder::Impl::ns_per_tick() const {
  if (manual) return 1.0;
#if defined(__x86_64__) || defined(__i386__)
  // Calibrated against the steady clock over the recorder's life (at least
  // 2 ms, waited for here when the recorder is younger than that).
  std::uint64_t t1;
  std::int64_t s1;
  do {
    std::uint64_t a = ticks();
    s1 = steady_ns();
    t1 = a + (ticks() - a) / 2;
  } while (s1 - steady0 < 2'000'000);
  return t1 > tick0 ? static_cast<double>(s1 - steady0) / static_cast<double>(t1 - tick0) : 1.0;
#else
  return 1.0;
#endif
}

std::size_t FlightRecorder::capacity() const noexcept { return impl_->cap; }

std::size_t FlightRecorder::size() const noexcept {
  return static_cast<std::size_t>(std::min<std::uint64_t>(impl_->last_seq, impl_->cap));
}

std::uint64_t FlightRecorder::recorded() const noexcept { return impl_->deliveries; }

// --- The read side: the operator's, never on the delivery path.

namespace {

std::string outcome_text(std::uint8_t o) {
  switch (o) {
    case kRunning: return "running";
    case kOk: return "ok";
    case kPending: return "pending";
    default: return "broken:" + std::string(to_string(static_cast<ErrorKind>(o - kBroken)));
  }
}

// A short id that tells objects of one class apart (not an address).
unsigned short_id(const void* p) noexcept {
  return static_cast<unsigned>((reinterpret_cast<std::uintptr_t>(p) * 0x9E3779B97F4A7C15ull) >> 48);
}

Record record(std::string label, std::vector<std::pair<std::string, Value>> fields) {
  return Record{std::move(label), std::move(fields)};
}

}  // namespace

Value FlightRecorder::Impl::record_of(const Entry& e, double nspt) const {
  auto since = static_cast<double>(static_cast<std::int64_t>(e.start - tick0));
  std::int64_t time_ms = wall0_ms + static_cast<std::int64_t>(std::floor(since * nspt / 1e6));
  auto seq = static_cast<std::int64_t>(e.seq);
  if (e.kind == kEvent) {
    auto [what, detail] = split_pair(e.args);
    return record("event", {{"seq", seq},
                            {"time_ms", time_ms},
                            {"source", std::string(e.sender)},
                            {"what", std::move(what)},
                            {"detail", std::move(detail)}});
  }
  std::string cls = "?", method = "?", args;
  if (e.names_in_args) {
    std::tie(cls, method) = split_pair(e.args);
  } else {
    if (e.row != kNoRow) {
      cls = rows[e.row]->cls;
      method = rows[e.row]->method;
    }
    char text[detail::kArgSummaryMax];
    args.assign(text, detail::format_capture(e.args, text, sizeof text));
  }
  double us = e.outcome == kRunning ? 0.0 : static_cast<double>(e.ticks) * nspt / 1e3;
  return record("delivery", {{"seq", seq},
                             {"time_ms", time_ms},
                             {"target", fmt::format("{}#{:04x}", cls, short_id(e.object))},
                             {"method", std::move(method)},
                             {"args", std::move(args)},
                             {"sender", std::string(e.sender[0] ? std::string_view(e.sender) : vat_name)},
                             {"outcome", outcome_text(e.outcome)},
                             {"duration_us", us}});
}

Value FlightRecorder::dump() const {
  const Impl& im = *impl_;
  double nspt = im.ns_per_tick();
  List out;
  std::size_t n = size();
  out.reserve(n);
  // Oldest first: the slot after the newest, once the ring has wrapped.
  std::size_t first = im.last_seq > im.cap ? im.cursor : 0;
  for (std::size_t i = 0; i < n; ++i) out.push_back(im.record_of(im.ring[(first + i) % im.cap], nspt));
  return Value(std::move(out));
}

Value FlightRecorder::method_stats() const {
  const Impl& im = *impl_;
  double nspt = im.ns_per_tick();
  std::vector<const Row*> rows;
  for (const auto& r : im.rows) rows.push_back(r.get());
  const Row* other = im.other == kNoRow ? nullptr : im.rows[im.other].get();
  std::sort(rows.begin(), rows.end(), [&](const Row* a, const Row* b) {
    bool ao = a == other, bo = b == other;
    return std::tie(ao, a->cls, a->method) < std::tie(bo, b->cls, b->method);
  });
  auto estimate = [&](const Row& r) {
    return r.count - r.local + r.local * std::max<std::uint64_t>(local_sample_every(), 1);
  };
  List out;
  for (const Row* r : rows) {
    // Nearest rank over the histogram; a bucket stands for its middle, never
    // above the largest duration seen.
    auto pct = [&](double p) {
      if (r->count == 0) return 0.0;
      auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(r->count)));
      std::uint64_t seen = 0;
      for (int i = 0; i < kBuckets; ++i) {
        seen += r->hist[i];
        if (seen >= std::max<std::uint64_t>(rank, 1))
          return std::min(bucket_mid(i), static_cast<double>(r->max)) * nspt / 1e3;
      }
      return static_cast<double>(r->max) * nspt / 1e3;
    };
    out.push_back(record("method", {{"class", r->cls},
                                    {"method", r->method},
                                    {"count", static_cast<std::int64_t>(r->count)},
                                    // Local deliveries are sampled (recorder.h): what
                                    // the row stands for, all deliveries counted.
                                    {"estimated_count", static_cast<std::int64_t>(estimate(*r))},
                                    {"failures", static_cast<std::int64_t>(r->failures)},
                                    {"p50_us", pct(50)},
                                    {"p90_us", pct(90)},
                                    {"p99_us", pct(99)},
                                    {"max_us", static_cast<double>(r->max) * nspt / 1e3}}));
  }
  return Value(std::move(out));
}

}  // namespace vatic
