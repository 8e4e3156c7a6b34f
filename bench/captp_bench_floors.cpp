// captp_bench: the floors our CapTP targets are stated against (see
// captp_bench.cpp for usage and bench/README.md for each metric).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bench/captp_bench.h"

namespace captp_bench {

using namespace vatic::bench;
using Bytes = std::vector<std::uint8_t>;

// --- Floors --------------------------------------------------------------------

// 8-byte ping-pong between two processes, blocking I/O (as phys/pingpong.cpp).
void raw_pingpong(bool tcp) {
  int fd[2];
  if (!tcp) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fd) != 0) die(std::string("socketpair: ") + std::strerror(errno));
  } else {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (l < 0 || bind(l, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(l, 1) != 0 ||
        getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      die(std::string("raw tcp listen: ") + std::strerror(errno));
    fd[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd[0], reinterpret_cast<sockaddr*>(&a), len) != 0 || (fd[1] = accept(l, nullptr, nullptr)) < 0)
      die(std::string("raw tcp connect: ") + std::strerror(errno));
    close(l);
    int one = 1;
    for (int s : fd) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  pid_t pid = fork();
  if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pin_to_cpu(g_pin[1]);
    close(fd[0]);
    char buf[64 << 10];
    for (ssize_t n; (n = read(fd[1], buf, sizeof buf)) > 0;)
      if (write(fd[1], buf, static_cast<std::size_t>(n)) != n) break;
    _exit(0);
  }
  close(fd[1]);
  const auto warm = scaled(2'000, 10), count = scaled(20'000, 100);
  std::vector<double> lat;
  lat.reserve(count);
  for (std::int64_t i = 0; i < warm + count; ++i) {
    std::int64_t x = i, y = -1;
    auto t0 = BenchClock::now();
    if (write(fd[0], &x, 8) != 8) die("raw ping-pong: write failed");
    for (std::size_t got = 0; got < 8;) {
      ssize_t n = read(fd[0], reinterpret_cast<char*>(&y) + got, 8 - got);
      if (n <= 0) die("raw ping-pong: read failed");
      got += static_cast<std::size_t>(n);
    }
    double us = micros_since(t0);
    if (y != x) die("raw ping-pong: wrong echo");
    if (i >= warm) lat.push_back(us);
  }
  close(fd[0]);
  waitpid(pid, nullptr, 0);
  std::string p = tcp ? "captp.raw.tcp." : "captp.raw.unix.";
  emit(p + "pingpong_rtt_p50_us", percentile(lat, 50), "us");
  emit(p + "pingpong_rtt_p99_us", percentile(lat, 99), "us");
}

// Single-core ChaCha20-Poly1305 (IETF, what the channel's frames use), MB/s of plaintext.
void sodium_aead() {
  if (sodium_init() < 0) die("sodium_init failed");
  std::uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES], nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES]{};
  std::uint8_t tag[crypto_aead_chacha20poly1305_ietf_ABYTES];
  crypto_aead_chacha20poly1305_ietf_keygen(key);
  auto run = [&](std::size_t size, std::int64_t count, bool open, const char* metric) {
    Bytes in(size, 0x5a), out(size);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(out.data(), tag, nullptr, in.data(), size, nullptr, 0, nullptr,
                                                       nonce, key);
    auto once = [&] {
      if (!open) {
        sodium_increment(nonce, sizeof nonce);
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(out.data(), tag, nullptr, in.data(), size, nullptr, 0,
                                                           nullptr, nonce, key);
      } else if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(in.data(), nullptr, out.data(), size, tag, nullptr,
                                                                    0, nonce, key) != 0) {
        die("ChaCha20-Poly1305: decryption failed");
      }
    };
    for (std::int64_t i = 0; i < count / 10; ++i) once();
    auto t0 = BenchClock::now();
    for (std::int64_t i = 0; i < count; ++i) once();
    emit(metric, static_cast<double>(count) * static_cast<double>(size) / seconds_since(t0) / 1e6, "MB/s");
  };
  run(64 << 10, scaled(20'000, 200), false, "captp.sodium.chachapoly_64KiB_MBps");
  run(64 << 10, scaled(20'000, 200), true, "captp.sodium.chachapoly_open_64KiB_MBps");
  run(1 << 20, scaled(1'280, 12), false, "captp.sodium.chachapoly_1MiB_MBps");
}

}  // namespace captp_bench
