// The Cap'n Proto peer: the server object and the workloads that
// capnp_peer_client (two processes, unix and TCP sockets) and
// capnp_peer_inproc (one process: same loop, two loops, kj::Executor) run.
// They are the workloads of captp_bench and vat_bench with the same counts, so
// that `scripts/bench --peers` can divide our figure by the peer's of the same
// run; bench/README.md states them. Everything here runs on the thread that
// owns the kj event loop it is given; the programs are single-threaded except
// for the second loop of capnp_peer_inproc.
//
// Output follows bench/bench_util.h (one JSON object per line on stdout,
// diagnostics on stderr). Every answer is checked; a wrong one ends the
// program with exit status 1, never a figure.
#pragma once

#include <kj/async.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench.capnp.h"

namespace capnp_peer {

// Prints why on stderr and exits 1 (after the program's exit hooks, which
// kill a spawned server).
[[noreturn]] void fail(const std::string& why);

// The served object: `echo` answers its argument, `next` a fresh BenchServer,
// `data` n bytes of a fixed pattern. Every method answers at once.
class BenchServer final : public Bench::Server {
 protected:
  kj::Promise<void> echo(EchoContext context) override;
  kj::Promise<void> next(NextContext context) override;
  kj::Promise<void> data(DataContext context) override;
};
// The pattern `data` copies from; filled on first use (a server touches it
// before it reports ready, so that no timed call pays for it).
const std::uint8_t* data_pattern();

// Sequential echo: `warm` untimed, then `timed` calls, each awaited before the
// next is built. One sample per timed call, in microseconds, from just before
// send() to the checked answer (building the request is outside the clock).
std::vector<double> echo_rtts_us(Bench::Client& bench, kj::WaitScope& ws, int warm, int timed);

// `window` lanes of echo calls; each lane sends its next call from the
// continuation of its previous answer, until `calls` were sent. Returns calls
// per second from the first send to the last answer.
double echo_window_calls_per_s(Bench::Client& bench, kj::WaitScope& ws, int window, std::int64_t calls);

// `data(bytes)` calls, `window` outstanding at a time; returns MB/s (10^6 bytes).
double data_window_MBps(Bench::Client& bench, kj::WaitScope& ws, int window, std::uint32_t bytes, int calls);

// A chain of `hops` next() calls then echo(x) on the last capability, waited
// for as a whole; with `pipelined` false each next() is awaited and its answer
// used for the next hop. Returns the chain's time in microseconds.
double chain_us(Bench::Client& root, kj::WaitScope& ws, int hops, bool pipelined, std::int64_t x);

// p50 of the pipelined chain and of the awaited one (pipelined first, on the
// same capability, as captp_bench runs them): `warm` untimed then `timed` each.
struct ChainFigures {
  double pipelined_p50_us = 0;
  double awaited_p50_us = 0;
};
ChainFigures chains(Bench::Client& root, kj::WaitScope& ws, int warm, int timed);

}  // namespace capnp_peer
