// The filesystem client commands: ls, cat, get, put, rm, mkdir. Each enlivens
// the token's directory and sends by-name calls to it (caps/fs/directory.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "caps/fs/directory.h"
#include "caps/fs/file.h"
#include "caps/fs/upload.h"
#include "tools/client.h"
#include "tools/commands.h"
#include "tools/local_io.h"
#include "tools/progress.h"
#include "vat/byte_sink.h"
#include "vat/json.h"

namespace vatic::cli {
namespace {

using caps::Directory;
using caps::File;

// Writes streamed chunks to a descriptor, off the loop (tools/local_io.h: a
// reader that pauses, such as `less`, must not stall the keepalives), and
// shows the progress. The sink owns its Progress and its LocalIo: a chunk
// delivered after the command gave up must not reach a dead one.
class FdSink final : public ByteSink {
 public:
  FdSink(Vat& vat, int fd, bool progress, std::uint64_t total)
      : fd_(fd), progress_(progress, total, Progress::Clock::now), io_(std::make_unique<LocalIo>(vat)) {}
  // The vat waits for the promise (spec: stream_to keeps a window of
  // unacknowledged writes), so a slow reader slows the sender down.
  Promise<void> write(Bytes chunk) override {
    std::size_t n = chunk.size();
    Ref<FdSink> self = ref_to(this);
    return io_->write(fd_, std::move(chunk)).then([self, n] { self.call<&FdSink::wrote>(n); });
  }
  Promise<void> end() override { return Promise<void>::resolved(); }
  // The vat's stream_to breaks with the reason too, which the command reports.
  void abort(std::string) override {}
  std::uint64_t written() const { return written_; }
  void finish_progress() { progress_.finish(); }
  void wrote(std::size_t n) {
    written_ += n;
    progress_.update(written_);
  }

 private:
  int fd_;
  Progress progress_;
  std::unique_ptr<LocalIo> io_;
  std::uint64_t written_ = 0;
};

void print_ok(const FsArgs& a, const char* verb) {
  if (a.common.json) print_json(boost::json::object{{"ok", true}, {"op", verb}, {"path", json_text(a.path)}});
}

std::string base_name(const std::string& path) {
  std::filesystem::path p(path);
  std::string name = p.filename().string();
  return name.empty() || name == "." || name == ".." ? std::string() : name;
}

// Streams PATH into `fd`; returns the bytes written. With `progress`, shows
// it (tools/progress.h) while the file comes in.
std::uint64_t stream_file(Client& c, const FsArgs& a, int fd, bool progress) {
  auto dir = c.open<Directory>(a.token);
  Ref<File> file = c.wait(dir.send<&Directory::open>(a.path));
  caps::Stat st = c.wait(file.send<&File::stat>());
  Ref<FdSink> sink = c.vat().make<FdSink>(c.vat(), fd, progress, st.size);
  try {
    c.wait(file.send<&File::stream_to>(Ref<ByteSink>(sink), std::uint64_t{0}, std::int64_t{-1}));
  } catch (...) {
    sink.call<&FdSink::finish_progress>();  // the failure line starts on a clean line
    throw;
  }
  sink.call<&FdSink::finish_progress>();
  return sink.call<&FdSink::written>();
}

}  // namespace

int cmd_ls(const FsArgs& a) {
  Client c(a.common);
  auto dir = c.open<Directory>(a.token);
  std::vector<caps::DirEntry> entries = c.wait(dir.send<&Directory::list>(a.path));
  if (a.common.json) {
    boost::json::array list;
    for (const auto& e : entries)
      list.push_back(boost::json::object{
          {"name", json_text(e.name)}, {"type", json_text(e.type)}, {"size", e.size}, {"mtime", e.mtime}});
    print_json(boost::json::object{{"path", json_text(a.path)}, {"entries", std::move(list)}});
    return kOk;
  }
  bool tty = ::isatty(STDOUT_FILENO);
  for (const auto& e : entries) {
    // Names (and, from a hostile vat, types) may hold newlines, tabs or
    // terminal escapes: escaped, each entry stays one line of four fields.
    std::string name = printable(e.type == "dir" ? e.name + "/" : e.name);
    std::string type = printable(e.type);
    if (tty)
      fmt::print("{:<5} {:>12}  {}  {}\n", type, e.size, format_rfc3339(e.mtime), name);
    else
      fmt::print("{}\t{}\t{}\t{}\n", type, e.size, e.mtime, name);
  }
  return kOk;
}

int cmd_cat(const FsArgs& a) {
  Client c(a.common);
  stream_file(c, a, STDOUT_FILENO, false);
  return kOk;
}

namespace {

// Whether something (a dangling symlink too) is at `p`.
bool exists_at(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

std::string overwrite_refused(const std::string& out) {
  return fmt::format("{} exists; pass --force to overwrite it", out);
}

// Moves the complete `part` to `out`. Without `force`, an `out` that appeared
// during the transfer is not replaced: RENAME_NOREPLACE checks and renames in
// one step (link(2) does where the file system lacks it).
void install(const std::string& part, const std::string& out, bool force) {
  auto failed = [&] { return CliError(kOther, fmt::format("cannot write {}: {}", out, std::strerror(errno))); };
  if (force) {
    if (::rename(part.c_str(), out.c_str()) != 0) throw failed();
    return;
  }
  if (::renameat2(AT_FDCWD, part.c_str(), AT_FDCWD, out.c_str(), RENAME_NOREPLACE) == 0) return;
  if (errno == EEXIST) throw CliError(kOther, overwrite_refused(out));
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) throw failed();
  if (::link(part.c_str(), out.c_str()) != 0)
    throw errno == EEXIST ? CliError(kOther, overwrite_refused(out)) : failed();
  ::unlink(part.c_str());
}

// The rename is durable once the directory holding it is synced (best effort:
// the data itself was synced before the rename).
void sync_directory_of(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

int cmd_get(const FsArgs& a) {
  std::string out = a.local.empty() ? base_name(a.path) : a.local;
  if (out.empty()) throw CliError(kUsage, fmt::format("cannot name a local file after {:?}: give OUT", a.path));
  // Refused before anything is fetched, written or truncated.
  if (out != "-" && !a.force && exists_at(out)) throw CliError(kOther, overwrite_refused(out));
  Client c(a.common);
  if (out == "-") {
    std::uint64_t n = stream_file(c, a, STDOUT_FILENO, false);
    if (a.common.json) fmt::print(stderr, "{{\"ok\":true,\"bytes\":{}}}\n", n);
    return kOk;
  }
  // Into OUT.part (in OUT's directory, so the rename cannot cross file
  // systems), synced, then renamed: a failed transfer never leaves a truncated
  // file under the final name, nor destroys the one --force would replace.
  std::string part = out + ".part";
  // O_EXCL, never O_TRUNC: an existing OUT.part (left by a killed transfer, or
  // planted in a shared directory as a hard link to another file or as someone
  // else's file) is unlinked, not written through; one that reappears in
  // between fails the command.
  constexpr int kPartFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
  int fd = ::open(part.c_str(), kPartFlags, 0644);
  if (fd < 0 && errno == EEXIST && ::unlink(part.c_str()) == 0) fd = ::open(part.c_str(), kPartFlags, 0644);
  if (fd < 0) throw CliError(kOther, fmt::format("cannot write {}: {}", part, std::strerror(errno)));
  std::uint64_t n = 0;
  try {
    n = stream_file(c, a, fd, progress_wanted(a.common.json, a.quiet));
    if (::fsync(fd) != 0) throw CliError(kOther, fmt::format("cannot write {}: {}", part, std::strerror(errno)));
    int closed = ::close(fd);
    fd = -1;
    if (closed != 0) throw CliError(kOther, fmt::format("cannot write {}: {}", part, std::strerror(errno)));
    install(part, out, a.force);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(part.c_str());
    throw;
  }
  sync_directory_of(out);
  if (a.common.json)
    print_json(boost::json::object{
        {"ok", true}, {"op", "get"}, {"path", json_text(a.path)}, {"out", json_text(out)}, {"bytes", n}});
  return kOk;
}

int cmd_put(const FsArgs& a) {
  int fd = STDIN_FILENO;
  if (!a.local.empty() && a.local != "-") {
    fd = ::open(a.local.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw CliError(kOther, fmt::format("cannot read {}: {}", a.local, std::strerror(errno)));
  }
  Client c(a.common);
  auto dir = c.open<Directory>(a.token);
  // The vat writes aside and renames over PATH only on commit (caps/fs/upload.h):
  // a failed or interrupted put leaves the old file whole. Replacing needs
  // write, a new file create; the vat checks which applies.
  Ref<caps::Upload> file = c.wait(dir.send<&Directory::upload>(a.path));
  // The size is known when IN is a regular file (not a pipe).
  struct stat in_stat {};
  std::optional<std::uint64_t> total;
  if (::fstat(fd, &in_stat) == 0 && S_ISREG(in_stat.st_mode)) total = static_cast<std::uint64_t>(in_stat.st_size);
  // Progress counts what the vat acknowledged, not what is queued.
  Progress progress(progress_wanted(a.common.json, a.quiet), total, Progress::Clock::now);
  std::uint64_t acknowledged = 0;
  // Chunks go out with a bounded window of unacknowledged writes.
  constexpr std::size_t kChunk = 256 << 10, kWindow = 4;
  std::vector<std::pair<Promise<void>, std::size_t>> inflight;
  auto wait_oldest = [&] {
    c.wait(inflight.front().first);
    acknowledged += inflight.front().second;
    inflight.erase(inflight.begin());
    progress.update(acknowledged);
  };
  // Input is read off the loop (tools/local_io.h): a producer that pauses
  // longer than the idle deadline must not stall the keepalives.
  LocalIo local(c.vat());
  std::uint64_t offset = 0;
  for (;;) {
    Bytes chunk;
    try {
      chunk = c.vat().wait(local.read(fd, kChunk));
    } catch (const VatError& e) {
      throw CliError(kOther, e.error().reason);
    }
    std::size_t got = chunk.size();
    if (got == 0) break;
    if (inflight.size() == kWindow) wait_oldest();
    inflight.emplace_back(file.send<&caps::Upload::write>(offset, std::move(chunk)), got);
    offset += got;
    if (got < kChunk) break;
  }
  while (!inflight.empty()) wait_oldest();
  c.wait(file.send<&caps::Upload::commit>());
  progress.finish();
  if (fd != STDIN_FILENO) ::close(fd);
  if (a.common.json)
    print_json(boost::json::object{{"ok", true}, {"op", "put"}, {"path", json_text(a.path)}, {"bytes", offset}});
  return kOk;
}

namespace {

// A one-call command on the token's directory, such as rm or mkdir.
template <auto Method>
int one_call(const FsArgs& a, const char* verb) {
  Client c(a.common);
  auto dir = c.open<Directory>(a.token);
  c.wait(dir.send<Method>(a.path));
  print_ok(a, verb);
  return kOk;
}

}  // namespace

int cmd_rm(const FsArgs& a) { return one_call<&Directory::remove>(a, "rm"); }
int cmd_mkdir(const FsArgs& a) { return one_call<&Directory::mkdir>(a, "mkdir"); }

}  // namespace vatic::cli
