// vat_bench: what many live objects cost one vat. Memory per object (the
// allocator's count of live bytes, before and after making them) and the send
// rate as the number of live objects that the sends spread over grows from 1
// to 10^6: the curve bends where the objects a batch touches stop fitting a
// cache level (bench/README.md, "How cost grows").
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/vat_bench.h"
#include "vat/vatic.h"

// Named (not anonymous): the objects instantiate vat templates with external
// linkage (-Wsubobject-linkage).
namespace vat_bench {

using namespace vatic;
using namespace vatic::bench;

namespace {

// The live object: a counter, as local.send's, so that the 1-object point of
// the curve is that workload.
class Tally : public Object {
 public:
  std::int64_t add(std::int64_t by) { return n_ += by; }
  std::int64_t get() const { return n_; }
  VATIC_METHODS(Tally, add, get)

 private:
  std::int64_t n_ = 0;
};

void progress(const char* fmt, auto... args) {
  std::fprintf(stderr, "[vat_bench] ");
  std::fprintf(stderr, fmt, args...);
  std::fputc('\n', stderr);
}

// The CPU's data cache sizes as sysfs states them, for the stderr note that
// sets the working set of each point against them.
std::string cache_sizes() {
  std::string out;
  for (int i = 0; i < 8; ++i) {
    std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream level(dir + "level"), type(dir + "type"), size(dir + "size");
    std::string l, t, s;
    if (!(level >> l) || !(type >> t) || !(size >> s)) break;
    if (t == "Instruction") continue;
    out += (out.empty() ? "L" : ", L") + l + " " + s;
  }
  return out.empty() ? "unknown" : out;
}

// `n` Tallies of one vat, in the order they were made (which is, nearly,
// their order in memory).
std::vector<Ref<Tally>> make_tallies(Vat& vat, std::size_t n) {
  std::vector<Ref<Tally>> refs;
  refs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) refs.push_back(vat.make<Tally>());
  return refs;
}

// Sends `add(1)` to the objects round-robin, `batch` sends per posted turn,
// until `total` were delivered; returns the sends per second.
double send_round_robin(Vat& vat, const std::vector<Ref<Tally>>& refs, std::int64_t batch, std::int64_t total,
                        std::size_t& cursor) {
  auto t0 = BenchClock::now();
  for (std::int64_t sent = 0; sent < total; sent += batch) {
    vat.post([&refs, &cursor, batch] {
      for (std::int64_t i = 0; i < batch; ++i) {
        refs[cursor].send<&Tally::add>(1);
        if (++cursor == refs.size()) cursor = 0;
      }
    });
    if (vat.run_until_idle() != static_cast<std::size_t>(batch + 1)) fail("objects: a batch did not run every send");
  }
  return static_cast<double>(total) / seconds_since(t0);
}

std::int64_t sum_of(const std::vector<Ref<Tally>>& refs) {
  std::int64_t sum = 0;
  for (const auto& r : refs) sum += r.call<&Tally::get>();
  return sum;
}

}  // namespace

void bench_object_memory() {
  const std::size_t n = scaled<std::size_t>(1'000'000, 1'000);
  Vat vat;
  std::vector<Ref<Tally>> refs;
  refs.reserve(n);                       // the holder's own array is not the objects' cost
  Ref<Tally> first = vat.make<Tally>();  // anything made once per vat or per class, out of the delta
  double heap0 = heap_in_use_bytes(), rss0 = rss_bytes();
  for (std::size_t i = 0; i < n; ++i) refs.push_back(vat.make<Tally>());
  double heap1 = heap_in_use_bytes(), rss1 = rss_bytes();
  vat.post([&refs] {
    refs.front().send<&Tally::add>(1);
    refs.back().send<&Tally::add>(1);
  });
  vat.run_until_idle();
  if (refs.size() != n || sum_of(refs) != 2) fail("local.mem: the objects do not answer");
  double per = (heap1 - heap0) / static_cast<double>(n);
  progress(
      "local.mem: %zu objects: %.1f B each by the allocator (sizeof(Tally) %zu), %.1f B each by RSS; "
      "the holder's Ref is %zu B more",
      n, per, sizeof(Tally), (rss1 - rss0) / static_cast<double>(n), sizeof(Ref<Tally>));
  emit("local.mem.object_bytes", per, "bytes");
}

// The send rate with the sends spread over n live objects; the 10^6 point is
// local.objects_1M_send_per_s, the others local.curve.objects_<n>_send_per_s.
void bench_object_curve() {
  const std::int64_t kBatch = scaled(10'000, 1'000);
  const std::int64_t kTotal = scaled(4'000'000, 4'000);
  progress("objects: data caches %s", cache_sizes().c_str());
  for (std::size_t n :
       {std::size_t{1}, std::size_t{1'000}, std::size_t{10'000}, std::size_t{100'000}, std::size_t{1'000'000}}) {
    std::string metric =
        n == 1'000'000 ? "local.objects_1M_send_per_s" : "local.curve.objects_" + std::to_string(n) + "_send_per_s";
    if (!wanted(metric)) continue;
    const std::size_t live = options().smoke ? std::min<std::size_t>(n, 2'000) : n;
    Vat vat;
    double heap0 = heap_in_use_bytes();
    const auto in_order = make_tallies(vat, live);
    double bytes = heap_in_use_bytes() - heap0;
    // The sends walk a shuffled copy (fixed seed), so consecutive sends hit
    // objects far apart in memory, as a server's many clients would, rather
    // than the allocation order a prefetcher follows.
    auto refs = in_order;
    std::shuffle(refs.begin(), refs.end(), std::mt19937_64(16));
    std::size_t cursor = 0;
    // Warm-up: every object once (at least 200 k sends), untimed.
    std::int64_t warm = std::max<std::int64_t>(scaled(200'000, 1'000), static_cast<std::int64_t>(live));
    warm = (warm + kBatch - 1) / kBatch * kBatch;
    send_round_robin(vat, refs, kBatch, warm, cursor);
    double rate = send_round_robin(vat, refs, kBatch, kTotal, cursor);
    // Diagnostic (stderr): the same sends in allocation order. Where this
    // stays fast while the shuffled walk slows, the cost is the memory
    // hierarchy (cache and TLB misses), not the vat's work per object.
    cursor = 0;
    double sequential = send_round_robin(vat, in_order, kBatch, kTotal / 2, cursor);
    if (sum_of(refs) != warm + kTotal + kTotal / 2) fail("objects: the counters do not add up to the sends");
    progress("objects: %zu live (%.1f MB with their Refs): %.3g sends/s shuffled, %.3g in allocation order", live,
             bytes / 1e6, rate, sequential);
    emit(metric, rate, "msg/s");
  }
}

}  // namespace vat_bench
