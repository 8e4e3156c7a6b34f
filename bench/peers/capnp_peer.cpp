#include "bench/peers/capnp_peer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "bench/bench_util.h"

namespace capnp_peer {

using vatic::bench::BenchClock;
using vatic::bench::micros_since;
using vatic::bench::percentile;
using vatic::bench::seconds_since;

namespace {

constexpr std::uint32_t kPatternBytes = 8u << 20;

// Keeps `window` calls outstanding until `calls` were sent. `issue(seq)`
// sends call number `seq` and returns a promise that checks its answer; the
// next call of a lane leaves from that promise's continuation, so no lane
// waits for another.
template <class Issue>
double run_window(kj::WaitScope& ws, int window, std::int64_t calls, Issue issue) {
  struct Pump {
    Issue issue;
    std::int64_t calls;
    std::int64_t sent = 0;
    std::int64_t answered = 0;
    kj::Promise<void> lane() {
      if (sent == calls) return kj::READY_NOW;
      return issue(sent++).then([this] {
        ++answered;
        return lane();
      });
    }
  };
  Pump pump{std::move(issue), calls};
  auto lanes = kj::heapArrayBuilder<kj::Promise<void>>(window);
  auto t0 = BenchClock::now();
  for (int i = 0; i < window; ++i) lanes.add(pump.lane());
  kj::joinPromises(lanes.finish()).wait(ws);
  double s = seconds_since(t0);
  if (pump.answered != calls) fail("window: " + std::to_string(pump.answered) + " answers to " + std::to_string(calls));
  return static_cast<double>(calls) / s;
}

void check_echo(std::int64_t got, std::int64_t want) {
  if (got != want) fail("echo answered " + std::to_string(got) + " to " + std::to_string(want));
}

}  // namespace

void fail(const std::string& why) {
  std::fprintf(stderr, "[capnp_peer] %s\n", why.c_str());
  std::exit(1);
}

const std::uint8_t* data_pattern() {
  // Leaked on purpose: it lives as long as the process serves.
  static const std::uint8_t* pattern = [] {
    auto* p = new std::uint8_t[kPatternBytes];
    for (std::uint32_t i = 0; i < kPatternBytes; ++i) p[i] = static_cast<std::uint8_t>(i * 131u + 7u);
    return p;
  }();
  return pattern;
}

kj::Promise<void> BenchServer::echo(EchoContext context) {
  context.getResults().setX(context.getParams().getX());
  return kj::READY_NOW;
}

kj::Promise<void> BenchServer::next(NextContext context) {
  context.getResults().setB(kj::heap<BenchServer>());
  return kj::READY_NOW;
}

kj::Promise<void> BenchServer::data(DataContext context) {
  std::uint32_t n = std::min(context.getParams().getN(), kPatternBytes);
  auto out = context.getResults().initD(n);
  std::memcpy(out.begin(), data_pattern(), n);
  return kj::READY_NOW;
}

std::vector<double> echo_rtts_us(Bench::Client& bench, kj::WaitScope& ws, int warm, int timed) {
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(timed));
  for (int i = 0; i < warm + timed; ++i) {
    auto request = bench.echoRequest();
    request.setX(i);
    auto t0 = BenchClock::now();
    auto answer = request.send().wait(ws);
    double us = micros_since(t0);
    check_echo(answer.getX(), i);
    if (i >= warm) samples.push_back(us);
  }
  return samples;
}

double echo_window_calls_per_s(Bench::Client& bench, kj::WaitScope& ws, int window, std::int64_t calls) {
  return run_window(ws, window, calls, [&bench](std::int64_t x) {
    auto request = bench.echoRequest();
    request.setX(x);
    return request.send().then([x](capnp::Response<Bench::EchoResults>&& answer) { check_echo(answer.getX(), x); });
  });
}

double data_window_MBps(Bench::Client& bench, kj::WaitScope& ws, int window, std::uint32_t bytes, int calls) {
  const std::uint8_t* pattern = data_pattern();
  double per_s = run_window(ws, window, calls, [&bench, bytes, pattern](std::int64_t) {
    auto request = bench.dataRequest();
    request.setN(bytes);
    return request.send().then([bytes, pattern](capnp::Response<Bench::DataResults>&& answer) {
      auto d = answer.getD();
      // The size, and the ends of the payload against the pattern: cheap
      // enough not to weigh on the rate, enough to catch a wrong buffer.
      if (d.size() != bytes) fail("data answered " + std::to_string(d.size()) + " bytes, not " + std::to_string(bytes));
      std::size_t edge = std::min<std::size_t>(bytes, 64);
      if (std::memcmp(d.begin(), pattern, edge) != 0 ||
          std::memcmp(d.end() - edge, pattern + bytes - edge, edge) != 0) {
        fail("data answered bytes unlike the pattern");
      }
    });
  });
  return per_s * bytes / 1e6;
}

double chain_us(Bench::Client& root, kj::WaitScope& ws, int hops, bool pipelined, std::int64_t x) {
  auto t0 = BenchClock::now();
  Bench::Client at = root;
  for (int i = 0; i < hops; ++i) {
    auto sent = at.nextRequest().send();
    at = pipelined ? sent.getB() : sent.wait(ws).getB();
  }
  auto request = at.echoRequest();
  request.setX(x);
  check_echo(request.send().wait(ws).getX(), x);
  return micros_since(t0);
}

ChainFigures chains(Bench::Client& root, kj::WaitScope& ws, int warm, int timed) {
  constexpr int kHops = 10;
  ChainFigures f;
  for (bool pipelined : {true, false}) {
    std::vector<double> samples;
    for (int i = 0; i < warm + timed; ++i) {
      double us = chain_us(root, ws, kHops, pipelined, i);
      if (i >= warm) samples.push_back(us);
    }
    (pipelined ? f.pipelined_p50_us : f.awaited_p50_us) = percentile(samples, 50);
  }
  return f;
}

}  // namespace capnp_peer
