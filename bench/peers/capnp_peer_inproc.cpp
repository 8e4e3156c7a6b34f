// capnp_peer_inproc: Cap'n Proto and KJ inside one process, the peers of
// vat_bench's local.* and crossvat.* figures (bench/README.md, "Comparing
// with the peer"):
//   capnp.local.*      a capability to a BenchServer in the caller's own loop
//                      (capnp's LocalClient): sequential calls, windows 1 and
//                      256, the chain of 10 pipelined and awaited;
//   capnp.threadpair.* two event loops on two threads, RPC (TwoPartyVatNetwork)
//                      over a socketpair between them: echo RTT, windows;
//   kj.executor.*      kj::Executor::executeAsync into a second thread's loop,
//                      no RPC at all: the cheapest cross-thread call KJ has.
//
//   capnp_peer_inproc [--smoke]
// Output: one JSON object per line on stdout; progress on stderr.
#include <atomic>
#include <cstdio>
#include <future>
#include <string>
#include <string_view>
#include <thread>

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include "bench/bench_util.h"
#include "bench/peers/capnp_peer.h"

namespace {

using namespace vatic::bench;
using namespace capnp_peer;

void same_loop(kj::WaitScope& ws) {
  Bench::Client local = kj::heap<BenchServer>();
  auto rtts = echo_rtts_us(local, ws, scaled(20'000, 100), scaled(200'000, 1'000));
  emit("capnp.local.echo_seq_p50_us", percentile(rtts, 50), "us");

  // The sequential rate from one clock around the batch, not per call.
  const int n = scaled(200'000, 1'000);
  auto t0 = BenchClock::now();
  for (int i = 0; i < n; ++i) {
    auto request = local.echoRequest();
    request.setX(i);
    if (request.send().wait(ws).getX() != i) fail("local echo answered wrongly");
  }
  emit("capnp.local.echo_seq_calls_per_s", n / seconds_since(t0), "calls/s");

  for (int window : {1, 256}) {
    echo_window_calls_per_s(local, ws, window, scaled(20'000, 2 * window));
    emit("capnp.local.echo_window" + std::to_string(window) + "_calls_per_s",
         echo_window_calls_per_s(local, ws, window, scaled(500'000, 4 * window)), "calls/s");
  }

  ChainFigures chain = chains(local, ws, scaled(1'000, 5), scaled(10'000, 50));
  emit("capnp.local.chain10_pipelined_p50_us", chain.pipelined_p50_us, "us");
  emit("capnp.local.chain10_awaited_p50_us", chain.awaited_p50_us, "us");
}

void thread_pair(kj::AsyncIoProvider& io, kj::WaitScope& ws) {
  // The second thread serves a BenchServer over its end of the socketpair
  // until the main thread shuts its end down.
  auto server = io.newPipeThread([](kj::AsyncIoProvider&, kj::AsyncIoStream& stream, kj::WaitScope& tws) {
    capnp::TwoPartyVatNetwork network(stream, capnp::rpc::twoparty::Side::SERVER);
    auto rpc = capnp::makeRpcServer(network, kj::heap<BenchServer>());
    network.onDisconnect().wait(tws);
  });
  {
    capnp::TwoPartyClient client(*server.pipe);
    Bench::Client far = client.bootstrap().castAs<Bench>();
    auto rtts = echo_rtts_us(far, ws, scaled(2'000, 10), scaled(20'000, 100));
    emit("capnp.threadpair.echo_rtt_p50_us", percentile(rtts, 50), "us");
    emit("capnp.threadpair.echo_rtt_p99_us", percentile(rtts, 99), "us");
    for (int window : {1, 16, 256, 1024}) {
      echo_window_calls_per_s(far, ws, window, scaled(5'000, window));
      std::int64_t calls = scaled<std::int64_t>(window == 1 ? 10'000 : 100'000, 2 * window);
      emit("capnp.threadpair.echo_window" + std::to_string(window) + "_calls_per_s",
           echo_window_calls_per_s(far, ws, window, calls), "calls/s");
    }
  }
  server.pipe->shutdownWrite();
}

// What the executor thread publishes once its loop runs: where to send calls,
// and how to end it (the fulfiller lives on that thread's stack and is only
// touched there, through executeSync).
struct ExecutorThread {
  const kj::Executor* executor = nullptr;
  kj::PromiseFulfiller<void>* stop = nullptr;
};

// `window` lanes of executeAsync calls, each answering its argument.
double executor_rate(const kj::Executor& ex, kj::WaitScope& ws, int window, std::int64_t calls) {
  struct Pump {
    const kj::Executor& ex;
    std::int64_t calls;
    std::int64_t sent = 0;
    kj::Promise<void> lane() {
      if (sent == calls) return kj::READY_NOW;
      std::int64_t x = sent++;
      return ex.executeAsync([x] { return x; }).then([this, x](std::int64_t got) {
        if (got != x) fail("executor answered wrongly");
        return lane();
      });
    }
  };
  Pump pump{ex, calls};
  auto lanes = kj::heapArrayBuilder<kj::Promise<void>>(window);
  auto t0 = BenchClock::now();
  for (int i = 0; i < window; ++i) lanes.add(pump.lane());
  kj::joinPromises(lanes.finish()).wait(ws);
  return static_cast<double>(calls) / seconds_since(t0);
}

void executor(kj::WaitScope& ws) {
  std::promise<ExecutorThread> started;
  std::thread thread([&started] {
    kj::EventLoop loop;
    kj::WaitScope tws(loop);
    auto stop = kj::newPromiseAndFulfiller<void>();
    started.set_value({&kj::getCurrentThreadExecutor(), stop.fulfiller.get()});
    stop.promise.wait(tws);
  });
  ExecutorThread t = started.get_future().get();
  const kj::Executor& ex = *t.executor;

  const int warm = scaled(2'000, 10), timed = scaled(20'000, 100);
  std::vector<double> rtts;
  for (int i = 0; i < warm + timed; ++i) {
    auto t0 = BenchClock::now();
    std::int64_t got = ex.executeAsync([i]() -> std::int64_t { return i; }).wait(ws);
    double us = micros_since(t0);
    if (got != i) fail("executor answered wrongly");
    if (i >= warm) rtts.push_back(us);
  }
  emit("kj.executor.rtt_p50_us", percentile(rtts, 50), "us");
  for (int window : {1, 256}) {
    executor_rate(ex, ws, window, scaled(5'000, window));
    std::int64_t calls = scaled<std::int64_t>(window == 1 ? 10'000 : 200'000, 2 * window);
    emit("kj.executor.window" + std::to_string(window) + "_calls_per_s", executor_rate(ex, ws, window, calls),
         "calls/s");
  }
  ex.executeSync([stop = t.stop] { stop->fulfill(); });
  thread.join();
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--smoke") {
      options().smoke = true;
    } else {
      std::fprintf(stderr, "usage: %s [--smoke]\n", argv[0]);
      return 2;
    }
  }
  auto io = kj::setupAsyncIo();
  std::fprintf(stderr, "[capnp_peer] in process: same loop\n");
  same_loop(io.waitScope);
  std::fprintf(stderr, "[capnp_peer] in process: two threads, RPC over a socketpair\n");
  thread_pair(*io.provider, io.waitScope);
  std::fprintf(stderr, "[capnp_peer] in process: kj::Executor\n");
  executor(io.waitScope);
  return 0;
}
