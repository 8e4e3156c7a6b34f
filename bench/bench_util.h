// What every vatic bench binary shares: the metric filter and --smoke scaling,
// the one-JSON-object-per-line output that scripts/bench and other tools read
// (`{"metric": NAME, "value": N, "unit": U}`: a contract, keep it exact),
// timing helpers and the nearest-rank percentile every bench reports.
// Everything here runs on a bench's main thread.
#pragma once

#include <malloc.h>
#include <sched.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace vatic::bench {

using BenchClock = std::chrono::steady_clock;

// The command line's metric filter (empty: every metric) and --smoke.
struct Options {
  std::string filter;
  bool smoke = false;
};
inline Options& options() {
  static Options o;
  return o;
}

// A workload size: `full` normally, `smoke` under --smoke.
template <class T>
T scaled(T full, T smoke) {
  return options().smoke ? smoke : full;
}

inline bool wanted(std::string_view metric) {
  const std::string& f = options().filter;
  return f.empty() || metric.substr(0, f.size()) == f;
}

// One JSON line on stdout, if `metric` is wanted; a value that is not finite
// is reported as 0 (and said on stderr).
inline void emit(std::string_view metric, double value, std::string_view unit) {
  if (!wanted(metric)) return;
  if (!std::isfinite(value)) {
    std::fprintf(stderr, "%.*s is not finite; reported as 0\n", static_cast<int>(metric.size()), metric.data());
    value = 0;
  }
  char num[64];
  std::snprintf(num, sizeof num, std::fabs(value) >= 1000 ? "%.0f" : "%.4g", value);
  std::printf("{\"metric\": \"%.*s\", \"value\": %s, \"unit\": \"%.*s\"}\n", static_cast<int>(metric.size()),
              metric.data(), num, static_cast<int>(unit.size()), unit.data());
  std::fflush(stdout);
}

inline double seconds_since(BenchClock::time_point t0) {
  return std::chrono::duration<double>(BenchClock::now() - t0).count();
}
inline double micros_since(BenchClock::time_point t0) {
  return std::chrono::duration<double, std::micro>(BenchClock::now() - t0).count();
}

// Nearest-rank percentile, as the peer programs compute it too (bench/peers/).
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

// Pins the calling thread to `cpu` (nothing for a negative cpu).
inline void pin_to_cpu(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) std::perror("sched_setaffinity");
}

// On-CPU time of `pid`'s main thread (/proc/PID/schedstat, ns resolution).
inline double cpu_seconds(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/schedstat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return NAN;
  unsigned long long ns = 0;
  int got = std::fscanf(f, "%llu", &ns);
  std::fclose(f);
  return got == 1 ? static_cast<double>(ns) / 1e9 : NAN;
}

// The calling thread's CPU time so far, in microseconds.
inline double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Bytes this process's malloc hands out to live allocations (glibc's
// mallinfo2: in-use chunks of every arena, headers included, plus mmapped
// chunks). Exact to the chunk, unlike RSS, which lags frees (freed chunks
// stay resident and are reused) and counts whole pages.
inline double heap_in_use_bytes() {
  struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd);
}

// Resident set size of `pid` (0: this process), in bytes (/proc/PID/statm).
inline double rss_bytes(pid_t pid = 0) {
  char path[64];
  if (pid == 0)
    std::snprintf(path, sizeof path, "/proc/self/statm");
  else
    std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return NAN;
  unsigned long long size = 0, resident = 0;
  int got = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return got == 2 ? static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) : NAN;
}

// Keeps the compiler from folding away a computed value.
template <class T>
inline void keep(const T& v) {
  asm volatile("" : : "r,m"(v) : "memory");
}

}  // namespace vatic::bench
