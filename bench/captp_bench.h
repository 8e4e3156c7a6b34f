// captp_bench: what its files share (captp_bench.cpp has the usage and the
// method). The floors (captp_bench_floors.cpp) are the figures our targets are
// stated against: a raw socket ping-pong and single-core ChaCha20-Poly1305.
// Everything runs on the bench's main thread (and the ping-pong's echo child).
#pragma once

#include <string>

#include "bench/bench_util.h"

namespace captp_bench {

extern int g_pin[2];  // --pin C,S: the client's and the server's CPU
// Prints why on stderr, kills the servers, exits 1.
[[noreturn]] void die(const std::string& why);

// captp.T.pingpong_rtt_p50_us / _p99_us: 8-byte ping-pong over a raw socket.
void raw_pingpong(bool tcp);
// captp.sodium.*: single-core ChaCha20-Poly1305 seal and open rates.
void sodium_aead();

}  // namespace captp_bench
