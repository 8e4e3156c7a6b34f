// fs_bench: what the workload files share (see fs_bench.cpp for usage and
// method): options, output, failure handling, and the bench's scratch tree.
// Everything here runs on the bench's main thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "bench/bench_util.h"

namespace fs_bench {

using namespace vatic::bench;

using Bytes = std::vector<std::uint8_t>;

// --- Options and output (fs_bench.cpp) ----------------------------------------

template <class... A>
void progress(const char* fmt, A... args) {
  std::fprintf(stderr, "[fs_bench] ");
  std::fprintf(stderr, fmt, args...);
  std::fputc('\n', stderr);
}
// Prints why on stderr, kills the server, removes the scratch tree, exits 1.
[[noreturn]] void die(const std::string& why);

// User plus system CPU seconds of a whole process, every thread (/proc/PID/stat).
double process_cpu_seconds(pid_t pid);

// --- The scratch tree (fs_bench_data.cpp) -------------------------------------
//
//   /tmp/fs_bench.XXXXXX/        (0700, made by main)
//     data/big.bin                the file the read workloads stream
//     data/many/f00000..          the directory the list workloads list
//     store/                      the server's sturdy-ref store
//     fs.sock                     the server's unix socket

inline constexpr std::size_t kBlockBytes = std::size_t{1} << 20;
inline constexpr const char* kBigName = "big.bin";
inline constexpr const char* kManyName = "many";

struct Scratch {
  std::string root;  // the mkdtemp'd directory
  std::string data() const { return root + "/data"; }
  std::string big() const { return data() + "/" + kBigName; }
  std::string many() const { return data() + "/" + kManyName; }
  std::string store() const { return root + "/store"; }
  std::string socket() const { return root + "/fs.sock"; }

  Bytes block;                 // big.bin is this block repeated
  std::uint64_t big_size = 0;  // 0 until made
  int many_count = 0;          // 0 until made
};

// The 1 MiB pseudo-random block big.bin repeats (fixed seed: same every run).
Bytes pattern_block();
// How big big.bin may be: `want`, or less (with a note on stderr) when the
// filesystem holding `dir` has under 3x that free.
std::uint64_t fitting_size(const std::string& dir, std::uint64_t want);
// Writes big.bin (once) and syncs it, so writeback does not run during the reads.
void make_big_file(Scratch& s, std::uint64_t size);
// Creates many/ with `count` empty files named f00000, f00001, ...
void make_many(Scratch& s, int count);
std::string many_name(int i);

// --- The server process (fs_bench.cpp) ------------------------------------------

struct Server {
  pid_t pid = -1;
  std::string root_ref;  // the sturdy ref of data/, read-only, as text
  std::string file_io;   // the server's FileIo backend
};
// Forks and execs `fs_bench --serve s.root`; returns what it reports on its first line.
Server start_server(const Scratch& s);

// --- Workloads (fs_bench_token.cpp, fs_bench_fs.cpp) ---------------------------

void token_workload();
// Single-core ChaCha20-Poly1305 on 256 KiB buffers; returns MB/s.
double crypto_bound();
// The fs.*_local_* metrics: the Directory and File objects in one vat, no CapTP.
void local_workloads(const Scratch& s, bool read, bool list);
// Through the server: fs.read_1GiB_unix_MBps (and its ratio to `crypto_bound`
// MB/s when that is non-zero) and fs.list_10k_entries_ms.
void captp_workloads(const Scratch& s, const Server& server, bool read, bool list, double crypto_bound);

}  // namespace fs_bench
