// fs_bench: the filesystem workloads, read and list, through CapTP and locally.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "bench/fs_bench.h"
#include "caps/caveat.h"
#include "caps/fs/directory.h"
#include "caps/fs/file.h"
#include "caps/fs/file_io.h"
#include "captp/node.h"
#include "sturdyrefs/enliven.h"
#include "sturdyrefs/uri.h"
#include "vat/byte_sink.h"
#include "vat/vat.h"

namespace fs_bench {

using vatic::ByteSink;
using vatic::Promise;
using vatic::Ref;
using vatic::Vat;
using vatic::caps::Directory;
using vatic::caps::DirEntry;
using vatic::caps::File;

// What a CountingSink saw, kept by the caller so it outlives the sink.
struct Counts {
  std::uint64_t bytes = 0;
  std::uint64_t chunks = 0;
  std::uint64_t bad_samples = 0;  // chunks whose sampled bytes differ from the pattern
  int dones = 0;
};

// The client's end of a stream: writes each chunk to /dev/null (so the bytes
// leave the process as a real consumer's would, at the cost of one syscall per
// chunk), counts them, and compares 64 bytes at each end of every chunk with
// the pattern at their offset in the file: cheap, and it catches a lost,
// repeated or reordered chunk.
class CountingSink final : public ByteSink {
 public:
  CountingSink(int devnull, const Bytes& block, Counts& counts) : devnull_(devnull), block_(block), c_(counts) {}

  Promise<void> write(vatic::Bytes chunk) override {
    if (!sample_matches(chunk)) ++c_.bad_samples;
    for (std::size_t at = 0; at < chunk.size();) {
      ssize_t n = ::write(devnull_, chunk.data() + at, chunk.size() - at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) vatic::throw_error(vatic::ErrorKind::failed, std::string("/dev/null: ") + std::strerror(errno));
      at += static_cast<std::size_t>(n);
    }
    c_.bytes += chunk.size();
    ++c_.chunks;
    return Promise<void>::resolved();
  }
  Promise<void> end() override {
    ++c_.dones;
    return Promise<void>::resolved();
  }
  void abort(std::string reason) override { die("the server aborted the stream: " + reason); }

 private:
  bool sample_matches(const vatic::Bytes& chunk) const {
    std::size_t k = std::min<std::size_t>(64, chunk.size());
    auto at = [&](std::size_t i) { return chunk[i] == block_[(c_.bytes + i) % kBlockBytes]; };
    for (std::size_t i = 0; i < k; ++i)
      if (!at(i) || !at(chunk.size() - 1 - i)) return false;
    return true;
  }

  int devnull_;
  const Bytes& block_;
  Counts& c_;
};

namespace {

// One File::stream_to of `length` bytes from offset 0 (-1: the whole file) into
// a fresh CountingSink; returns the wall time of the call, checked.
double stream_once(Vat& vat, const Ref<File>& file, const Scratch& s, std::int64_t length) {
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull < 0) die(std::string("/dev/null: ") + std::strerror(errno));
  Counts counts;
  auto t0 = BenchClock::now();
  {
    Ref<CountingSink> sink = vat.make<CountingSink>(devnull, s.block, counts);
    std::int64_t sent = vat.wait(file.send<&File::stream_to>(Ref<ByteSink>(sink), std::uint64_t{0}, length));
    std::uint64_t want = length < 0 ? s.big_size : static_cast<std::uint64_t>(length);
    if (static_cast<std::uint64_t>(sent) != want)
      die("stream_to answered " + std::to_string(sent) + " bytes, not " + std::to_string(want));
  }
  double sec = seconds_since(t0);
  ::close(devnull);
  std::uint64_t want = length < 0 ? s.big_size : static_cast<std::uint64_t>(length);
  if (counts.bytes != want || counts.dones != 1 || counts.bad_samples != 0)
    die("the sink got " + std::to_string(counts.bytes) + " of " + std::to_string(want) + " bytes, " +
        std::to_string(counts.dones) + " done(), " + std::to_string(counts.bad_samples) + " chunks unlike the file");
  return sec;
}

// A warm-up stream of the first 64 MiB (untimed), then the whole file, timed.
// `server` is the other process, or our own pid for a local read.
void read_workload(Vat& vat, const Ref<File>& file, const Scratch& s, pid_t server, const char* metric, double* mbps) {
  stream_once(vat, file, s, static_cast<std::int64_t>(std::min<std::uint64_t>(s.big_size, 64 * kBlockBytes)));
  pid_t self = getpid();
  double c0 = process_cpu_seconds(self), s0 = server != self ? process_cpu_seconds(server) : 0;
  double sec = stream_once(vat, file, s, -1);
  double c1 = process_cpu_seconds(self), s1 = server != self ? process_cpu_seconds(server) : 0;
  *mbps = static_cast<double>(s.big_size) / sec / 1e6;
  if (server != self)
    progress("%s: %.0f MiB in %.2f s; CPU: client %.2f s, server %.2f s (both processes, every thread)", metric,
             static_cast<double>(s.big_size) / kBlockBytes, sec, c1 - c0, s1 - s0);
  else
    progress("%s: %.0f MiB in %.2f s; CPU %.2f s", metric, static_cast<double>(s.big_size) / kBlockBytes, sec, c1 - c0);
  emit(metric, *mbps, "MB/s");
}

// p50 of the wall time of `list()`, which must return many/'s entries.
template <class L>
void list_workload(const Scratch& s, const char* metric, L list) {
  const int warm = scaled(3, 1), count = scaled(20, 3);
  std::vector<double> ms;
  for (int i = 0; i < warm + count; ++i) {
    auto t0 = BenchClock::now();
    std::vector<DirEntry> entries = list();
    double t = seconds_since(t0) * 1e3;
    if (entries.size() != static_cast<std::size_t>(s.many_count))
      die(std::string(metric) + ": " + std::to_string(entries.size()) + " entries, not " +
          std::to_string(s.many_count));
    for (int e = 0; e < s.many_count; ++e)
      if (entries[e].name != many_name(e) || entries[e].type != "file" || entries[e].size != 0)
        die(std::string(metric) + ": entry " + std::to_string(e) + " is " + entries[e].name);
    if (i >= warm) ms.push_back(t);
  }
  progress("%s: min %.2f ms, p50 %.2f ms, max %.2f ms over %d lists", metric, percentile(ms, 0), percentile(ms, 50),
           percentile(ms, 100), count);
  emit(metric, percentile(ms, 50), "ms");
}

}  // namespace

void local_workloads(const Scratch& s, bool read, bool list) {
  Vat vat(vatic::VatOptions{.name = "fs-local"});
  auto io = std::make_unique<vatic::caps::FileIo>(vat);
  progress("local file I/O: %s", std::string(vatic::caps::to_string(io->backend())).c_str());
  {
    Ref<Directory> dir = vatic::caps::open_directory(vat, *io, s.data(), vatic::caps::kReadOnlyFsOps, std::nullopt);
    if (read) {
      Ref<File> file = dir.call<&Directory::open>(std::string(kBigName));
      double mbps;
      read_workload(vat, file, s, getpid(), "fs.read_1GiB_local_MBps", &mbps);
    }
    if (list)
      list_workload(s, "fs.list_10k_entries_local_ms",
                    [&] { return dir.call<&Directory::list>(std::string(kManyName)); });
  }
  // The objects (which use the FileIo) go first, then the FileIo, then the vat.
  vat.release();
  io.reset();
}

void captp_workloads(const Scratch& s, const Server& server, bool read, bool list, double crypto_bound) {
  using namespace vatic;
  Vat vat(VatOptions{.name = "fs-client"});
  captp::Node node(vat, captp::Identity::generate());
  auto enliven = [&](const std::string& text) {
    auto ref = sturdyrefs::parse_sturdy_ref(text);
    if (!ref) die("the server's sturdy ref does not parse: " + ref.error());
    return sturdyrefs::enliven_as<Directory>(node, ref.value());
  };
  try {
    if (read) {
      // open() is pipelined behind the redeem: one round trip after the handshake.
      Ref<File> file = vat.wait(enliven(server.root_ref).send<&Directory::open>(std::string(kBigName)));
      double mbps;
      read_workload(vat, file, s, server.pid, "fs.read_1GiB_unix_MBps", &mbps);
      if (crypto_bound > 0) emit("fs.read_vs_crypto_bound", mbps / crypto_bound, "x");
    }
    if (list) {
      // A holder narrows the root ref offline to many/ (a path caveat) and
      // enlivens that: the server applies the caveat through Directory::sub.
      auto ref = sturdyrefs::parse_sturdy_ref(server.root_ref).value();
      ref.token = caps::attenuate(ref.token, caps::caveat_path(kManyName).value()).value();
      Ref<Directory> many = enliven(sturdyrefs::format_sturdy_ref(ref));
      list_workload(s, "fs.list_10k_entries_ms", [&] { return vat.wait(many.send<&Directory::list>(std::string())); });
    }
  } catch (const VatError& e) {
    die("a call to the server broke: " + to_string(e.error()));
  }
  node.close("done");
  vat.run_until_idle();
}

}  // namespace fs_bench
