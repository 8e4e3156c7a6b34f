// The filesystem client commands: ls, cat, get, put, rm, mkdir. Each enlivens
// the token's directory and sends by-name calls to it (caps/fs/directory.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "caps/byte_sink.h"
#include "caps/fs/directory.h"
#include "caps/fs/file.h"
#include "tools/client.h"
#include "tools/commands.h"
#include "tools/json_out.h"

namespace vatic::cli {
namespace {

using caps::Directory;
using caps::File;

// Writes streamed chunks to a descriptor; draws a progress bar when asked.
class FdSink final : public caps::ByteSink {
 public:
  FdSink(int fd, std::uint64_t total, bool progress) : fd_(fd), total_(total), progress_(progress) {}
  Promise<void> write(Bytes chunk) override {
    const std::uint8_t* p = chunk.data();
    std::size_t left = chunk.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_error(ErrorKind::failed, fmt::format("writing output: {}", std::strerror(errno)));
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    written_ += chunk.size();
    if (progress_) draw();
    return Promise<void>::resolved();
  }
  Promise<void> done() override {
    if (progress_) fmt::print(stderr, "\n");
    return Promise<void>::resolved();
  }
  std::uint64_t written() const { return written_; }

 private:
  void draw() const {
    constexpr int kWidth = 30;
    double f = total_ ? static_cast<double>(written_) / static_cast<double>(total_) : 1.0;
    int fill = static_cast<int>(f * kWidth);
    fmt::print(stderr, "\r[{:=<{}}{: <{}}] {:5.1f}% {} / {} bytes", "", fill, "", kWidth - fill, f * 100.0, written_,
               total_);
  }
  int fd_;
  std::uint64_t total_, written_ = 0;
  bool progress_;
};

void print_ok(const FsArgs& a, const char* verb) {
  if (a.common.json) print_json(boost::json::object{{"ok", true}, {"op", verb}, {"path", json_text(a.path)}});
}

std::string base_name(const std::string& path) {
  std::filesystem::path p(path);
  std::string name = p.filename().string();
  return name.empty() || name == "." || name == ".." ? std::string() : name;
}

// Streams PATH into `fd`; returns the bytes written.
std::uint64_t stream_file(Client& c, const FsArgs& a, int fd, bool progress) {
  auto dir = c.open<Directory>(a.token);
  Ref<File> file = c.wait(dir.send<&Directory::open>(a.path));
  caps::Stat st = c.wait(file.send<&File::stat>());
  Ref<FdSink> sink = c.vat().make<FdSink>(fd, st.size, progress);
  c.wait(file.send<&File::stream_to>(Ref<caps::ByteSink>(sink), std::uint64_t{0}, std::int64_t{-1}));
  return sink.call<&FdSink::written>();
}

}  // namespace

int cmd_ls(const FsArgs& a) {
  Client c(store_dir(a.common.store));
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
  Client c(store_dir(a.common.store));
  stream_file(c, a, STDOUT_FILENO, false);
  return kOk;
}

int cmd_get(const FsArgs& a) {
  std::string out = a.local.empty() ? base_name(a.path) : a.local;
  if (out.empty()) throw CliError(kUsage, fmt::format("cannot name a local file after {:?}: give OUT", a.path));
  Client c(store_dir(a.common.store));
  if (out == "-") {
    std::uint64_t n = stream_file(c, a, STDOUT_FILENO, false);
    if (a.common.json) fmt::print(stderr, "{{\"ok\":true,\"bytes\":{}}}\n", n);
    return kOk;
  }
  // Into OUT.part, renamed when complete: a failed transfer never leaves a
  // truncated file under the final name.
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
    n = stream_file(c, a, fd, !a.common.json && ::isatty(STDERR_FILENO));
  } catch (...) {
    ::close(fd);
    ::unlink(part.c_str());
    throw;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(part.c_str(), out.c_str()) != 0)
    throw CliError(kOther, fmt::format("cannot write {}: {}", out, std::strerror(errno)));
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
  Client c(store_dir(a.common.store));
  auto dir = c.open<Directory>(a.token);
  // An existing file is overwritten (needs write); a new one is created
  // (needs create). The failed open tells which.
  Ref<File> file;
  bool created = false;
  try {
    file = c.vat().wait(dir.send<&Directory::open>(a.path));
  } catch (const VatError& e) {
    if (e.error().reason.rfind("not found", 0) != 0) throw CliError(exit_code_for(e.error()), e.error().reason);
    file = c.wait(dir.send<&Directory::create>(a.path));
    created = true;
  }
  if (!created) c.wait(file.send<&File::truncate>(std::uint64_t{0}));
  // Chunks go out with a bounded window of unacknowledged writes.
  constexpr std::size_t kChunk = 256 << 10, kWindow = 4;
  std::vector<Promise<void>> inflight;
  std::uint64_t offset = 0;
  for (;;) {
    Bytes chunk(kChunk);
    std::size_t got = 0;
    while (got < kChunk) {
      ssize_t n = ::read(fd, chunk.data() + got, kChunk - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw CliError(kOther, fmt::format("reading input: {}", std::strerror(errno)));
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    if (got == 0) break;
    chunk.resize(got);
    if (inflight.size() == kWindow) {
      c.wait(inflight.front());
      inflight.erase(inflight.begin());
    }
    inflight.push_back(file.send<&File::write>(offset, std::move(chunk)));
    offset += got;
    if (got < kChunk) break;
  }
  for (auto& p : inflight) c.wait(p);
  if (fd != STDIN_FILENO) ::close(fd);
  if (a.common.json)
    print_json(boost::json::object{{"ok", true}, {"op", "put"}, {"path", json_text(a.path)}, {"bytes", offset}});
  return kOk;
}

namespace {

// A one-call command on the token's directory, such as rm or mkdir.
template <auto Method>
int one_call(const FsArgs& a, const char* verb) {
  Client c(store_dir(a.common.store));
  auto dir = c.open<Directory>(a.token);
  c.wait(dir.send<Method>(a.path));
  print_ok(a, verb);
  return kOk;
}

}  // namespace

int cmd_rm(const FsArgs& a) { return one_call<&Directory::remove>(a, "rm"); }
int cmd_mkdir(const FsArgs& a) { return one_call<&Directory::mkdir>(a, "mkdir"); }

}  // namespace vatic::cli
