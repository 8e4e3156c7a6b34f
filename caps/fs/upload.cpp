#include "caps/fs/upload.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "caps/fs/path.h"

namespace vatic::caps {
namespace {

[[noreturn]] void fail(std::string reason) { throw_error(ErrorKind::failed, std::move(reason)); }

std::string random_part_name() {
  std::uint8_t r[16];
  randombytes_buf(r, sizeof r);
  char hex[sizeof r * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, r, sizeof r);
  return std::string(kPartialUploadPrefix) + hex;
}

std::uint64_t size_of(int fd, const std::string& name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(errno_reason(errno, name));
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace

Upload::Upload(FileIo& io, UniqueFd dir, std::string name, std::string holder_path, FsLimits limits)
    : io_(io),
      counted_(io.hold_descriptor()),
      dir_(std::move(dir)),
      name_(std::move(name)),
      holder_path_(std::move(holder_path)),
      part_name_(random_part_name()),
      limits_(limits) {
  // O_EXCL and O_NOFOLLOW: a name that exists (128 random bits: only one
  // planted there) is never written through.
  UniqueFd fd(::openat(dir_.get(), part_name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
  if (!fd) fail(errno_reason(errno, holder_path_));
  // Held until the descriptor closes: the sweep leaves a locked file alone.
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::unlinkat(dir_.get(), part_name_.c_str(), 0);
    fail(errno_reason(err, holder_path_));
  }
  try {
    part_ = io_.adopt(std::move(fd));
  } catch (...) {
    ::unlinkat(dir_.get(), part_name_.c_str(), 0);
    throw;
  }
}

Upload::~Upload() {
  if (!ended_) discard("abandoned");
}

void Upload::discard(std::string why) {
  if (ended_) return;
  ended_ = std::move(why);
  // Only the name goes now: writes still in flight hold the descriptor, which
  // closes (and the space returns) when the last reference does.
  ::unlinkat(dir_.get(), part_name_.c_str(), 0);
}

void Upload::check_open() const {
  if (ended_) fail(fmt::format("upload of {} ended: {}", holder_path_, *ended_));
}

Task<void> Upload::write(std::uint64_t offset, Bytes data) {
  check_open();
  constexpr std::uint64_t kMaxOffset = static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());
  if (offset > kMaxOffset || data.size() > kMaxOffset - offset)
    fail(fmt::format("invalid range: offset {} length {} is past the largest file offset", offset, data.size()));
  limits_.check_end(offset + data.size(), size_of(part_->fd(), holder_path_));
  Ref<Upload> self = ref_to(this);  // the file stays open until the write is done
  try {
    co_await io_.write(*part_, offset, std::move(data), "write " + holder_path_);
  } catch (const VatError& e) {
    // A full disk (or any failure) ends the upload at once: the space goes
    // back now, not when the uploader gives up.
    discard(e.error().reason);
    throw;
  }
}

std::int64_t Upload::commit() {
  check_open();
  const int part = part_->fd();
  std::int64_t size = static_cast<std::int64_t>(size_of(part, holder_path_));
  auto failed = [&](int err) {
    std::string why = errno_reason(err, holder_path_);
    discard(why);
    fail(why);
  };
  // The data is on disk before the name points at it: a crash after the
  // rename must not show an empty or partial file under the target's name.
  // TODO(perf): fsync on the vat's thread; move it to the FileIo's pool.
  if (::fsync(part) != 0) failed(errno);

  struct stat target {};
  bool exists = ::fstatat(dir_.get(), name_.c_str(), &target, AT_SYMLINK_NOFOLLOW) == 0;
  if (!exists && errno != ENOENT) failed(errno);
  if (exists) {
    // Replacing is writing to the file; only a regular file is replaced (a
    // directory, symlink or device at the name stays what it is).
    limits_.require(FsOp::write);
    if (S_ISDIR(target.st_mode)) failed(EISDIR);
    if (S_ISLNK(target.st_mode)) fail(refused_write_through_link(holder_path_));  // fs.md, "The last name"
    if (!S_ISREG(target.st_mode)) fail(refused_not_served(holder_path_, target.st_mode));
    // A file the host made read-only stays so (as File::write says).
    if (::faccessat(dir_.get(), name_.c_str(), W_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW) != 0)
      fail(fmt::format("permission denied: {} is read-only on the host", holder_path_));
    ::fchmod(part, target.st_mode & 07777);  // the new content keeps the file's mode
    if (::renameat(dir_.get(), part_name_.c_str(), dir_.get(), name_.c_str()) != 0) failed(errno);
  } else {
    limits_.require(FsOp::create);
    // RENAME_NOREPLACE: a file that appeared meanwhile is not replaced by a
    // holder who may only create.
    if (::renameat2(dir_.get(), part_name_.c_str(), dir_.get(), name_.c_str(), RENAME_NOREPLACE) != 0) failed(errno);
  }
  ended_ = "committed";
  // The rename is durable once the directory is synced.
  UniqueFd d(::openat(dir_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d) ::fsync(d.get());
  return size;
}

void Upload::abort() { discard("aborted"); }

namespace {

// One directory's leftovers, then its subdirectories, to `depth` levels.
std::size_t sweep_dir(int dir_fd, int depth) {
  if (depth <= 0) return 0;
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return 0;
  }
  std::size_t removed = 0;
  std::vector<std::string> subdirs;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      subdirs.emplace_back(name);
    } else if (S_ISREG(st.st_mode) && name.starts_with(kPartialUploadPrefix)) {
      UniqueFd f(::openat(fd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      // Locked: a live upload (another server on the same tree) owns it.
      if (f && ::flock(f.get(), LOCK_EX | LOCK_NB) == 0 && ::unlinkat(fd, e->d_name, 0) == 0) ++removed;
    }
  }
  for (const auto& s : subdirs) {
    UniqueFd sub(::openat(fd, s.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (sub) removed += sweep_dir(sub.get(), depth - 1);
  }
  ::closedir(d);
  return removed;
}

}  // namespace

std::size_t sweep_partial_uploads(const std::filesystem::path& host_path) {
  UniqueFd root(::open(host_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return 0;
  // Deep enough for any tree a person keeps; bounded so a pathological one
  // cannot run the process out of descriptors.
  constexpr int kMaxDepth = 128;
  return sweep_dir(root.get(), kMaxDepth);
}

}  // namespace vatic::caps
