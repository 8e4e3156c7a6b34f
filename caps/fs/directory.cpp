#include "caps/fs/directory.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "caps/fs/path.h"
#include "caps/fs/upload_sink.h"
#include "vat/vat.h"

namespace vatic::caps {
namespace {

[[noreturn]] void fail(std::string reason) { throw_error(ErrorKind::failed, std::move(reason)); }

FsPath checked(const std::string& text) { return parse_path(text).value(); }

// Only regular files are opened for I/O; says precisely why anything else is not.
void check_regular(const struct stat& st, const FsPath& p) {
  if (S_ISREG(st.st_mode)) {
    if (p.trailing_slash) fail(errno_reason(ENOTDIR, p.text));
    return;
  }
  if (S_ISDIR(st.st_mode)) fail(errno_reason(EISDIR, p.text));
  fail(refused_not_served(p.text, st.st_mode));
}

struct OpenedFile {
  UniqueFd fd;
  bool writable = false;
  bool through_link = false;  // the last name was a symbolic link: opened for reading only
};

// Looks before it opens (a device is never opened), opens with O_NONBLOCK (so
// a FIFO swapped in meanwhile cannot hang the vat) and O_NOFOLLOW (the file the
// links led to, and not a link put in its place since), then checks the open
// descriptor again before clearing O_NONBLOCK. fs.md, "The last name": a last
// link is followed, but for reading only.
OpenedFile open_regular(int root, const FsPath& p, PathResolver how, bool want_write) {
  if (p.is_self()) fail(errno_reason(EISDIR, p.text));
  Target parent = resolve_target(root, p, how).value();
  want_write = want_write && !parent.through_link;
  struct stat st {};
  if (::fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    fail(errno_reason(errno, p.text));
  check_regular(st, p);
  const int base = O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  OpenedFile out{UniqueFd(::openat(parent.dir.get(), parent.name.c_str(), base | (want_write ? O_RDWR : O_RDONLY))),
                 want_write, parent.through_link};
  if (!out.fd && want_write && (errno == EACCES || errno == EROFS || errno == ETXTBSY)) {
    out.writable = false;  // the host lets us read it only; writes will say so
    out.fd.reset(::openat(parent.dir.get(), parent.name.c_str(), base | O_RDONLY));
  }
  if (!out.fd) fail(errno_reason(errno, p.text));
  if (::fstat(out.fd.get(), &st) != 0) fail(errno_reason(errno, p.text));
  check_regular(st, p);
  int fl = ::fcntl(out.fd.get(), F_GETFL);
  if (fl < 0 || ::fcntl(out.fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) fail(errno_reason(errno, p.text));
  return out;
}

struct CloseDir {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

UniqueFd dup_fd(int fd) {
  UniqueFd out(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!out) fail(errno_reason(errno, "."));
  return out;
}

struct stat entry_stat(const Parent& parent, const FsPath& p) {
  struct stat st {};
  if (::fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    fail(errno_reason(errno, p.text));
  if (p.trailing_slash && !S_ISDIR(st.st_mode)) fail(errno_reason(ENOTDIR, p.text));
  return st;
}

}  // namespace

Directory::Directory(FileIo& io, UniqueFd root, FsLimits limits, PathResolver resolver)
    : io_(io), counted_(io.hold_descriptor()), root_(std::move(root)), limits_(limits), resolver_(resolver) {}

std::vector<DirEntry> Directory::list(std::string path) {
  limits_.require(FsOp::list);
  FsPath p = checked(path);
  Entry dir = resolve_directory(root_.get(), p, resolver_).value();
  UniqueFd fd(::openat(dir.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) fail(errno_reason(errno, p.text));
  std::unique_ptr<DIR, CloseDir> d(::fdopendir(fd.get()));
  if (!d) fail(errno_reason(errno, p.text));
  fd.release();  // the DIR owns it now
  std::vector<DirEntry> out;
  while (dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (name.starts_with(kPartialUploadPrefix)) continue;  // an upload in progress (upload.h)
    if (out.size() >= kMaxListEntries)
      fail(fmt::format("{}: more than {} entries; list a narrower directory", p.text, kMaxListEntries));
    struct stat st {};
    if (::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone since readdir
    Stat s = stat_of(st);
    out.push_back(DirEntry{std::string(name), std::move(s.type), s.size, s.mtime});
  }
  std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return out;
}

Stat Directory::stat(std::string path) {
  if (!allows(limits_.ops, FsOp::list)) limits_.require(FsOp::read);
  FsPath p = checked(path);
  Entry e = resolve_entry(root_.get(), p, resolver_).value();
  limits_.require(S_ISREG(e.st.st_mode) ? FsOp::read : FsOp::list);
  return stat_of(e.st);
}

Task<Bytes> Directory::read(std::string path, std::uint64_t offset, std::uint64_t length) {
  limits_.require(FsOp::read);
  FsPath p = checked(path);
  std::unique_ptr<FileHandle> file = io_.adopt(open_regular(root_.get(), p, resolver_, false).fd);
  // The frame keeps `file` open until the read completes; nothing after the
  // co_await touches this object.
  co_return co_await read_chunk(io_, *file, limits_, offset, length, p.text);
}

Ref<File> Directory::open(std::string path) {
  if (!allows(limits_.ops, FsOp::write)) limits_.require(FsOp::read);
  FsPath p = checked(path);
  OpenedFile f = open_regular(root_.get(), p, resolver_, allows(limits_.ops, FsOp::write));
  return vat().make<File>(io_, io_.adopt(std::move(f.fd)), limits_, p.text, f.writable,
                          f.through_link ? refused_write_through_link(p.text) : std::string());
}

Ref<File> Directory::create(std::string path) {
  limits_.require(FsOp::create);
  FsPath p = checked(path);
  if (p.is_self() || p.trailing_slash) fail(fmt::format("invalid path: {:?} does not name a file", p.text));
  Parent parent = resolve_parent(root_.get(), p, resolver_).value();
  bool writable = allows(limits_.ops, FsOp::write);
  // O_EXCL also refuses an existing symlink, dangling or not: nothing is followed.
  UniqueFd fd(::openat(parent.dir.get(), parent.name.c_str(),
                       O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | (writable ? O_RDWR : O_RDONLY), 0666));
  if (!fd) fail(errno_reason(errno, p.text));
  return vat().make<File>(io_, io_.adopt(std::move(fd)), limits_, p.text, writable);
}

Ref<Upload> Directory::upload(std::string path) {
  if (!allows(limits_.ops, FsOp::write)) limits_.require(FsOp::create);
  FsPath p = checked(path);
  if (p.is_self() || p.trailing_slash) fail(fmt::format("invalid path: {:?} does not name a file", p.text));
  Parent parent = resolve_parent(root_.get(), p, resolver_).value();
  // Checked now, so that a refusal comes before any data is sent; commit()
  // checks again (the tree may change meanwhile).
  struct stat st {};
  if (::fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    // fs.md, "The last name": an upload replaces the name, so it would
    // replace a link the host made; writes never go through one.
    if (S_ISLNK(st.st_mode)) fail(refused_write_through_link(p.text));
    check_regular(st, p);
    limits_.require(FsOp::write);
  } else if (errno == ENOENT) {
    limits_.require(FsOp::create);
  } else {
    fail(errno_reason(errno, p.text));
  }
  return vat().make<Upload>(io_, std::move(parent.dir), parent.name, p.text, limits_);
}

Ref<ByteSink> Directory::upload_sink(std::string path) { return vat().make<UploadSink>(upload(std::move(path))); }

void Directory::mkdir(std::string path) {
  limits_.require(FsOp::create);
  FsPath p = checked(path);
  if (p.is_self()) fail(errno_reason(EEXIST, p.text));
  Parent parent = resolve_parent(root_.get(), p, resolver_).value();
  if (::mkdirat(parent.dir.get(), parent.name.c_str(), 0777) != 0) fail(errno_reason(errno, p.text));
}

void Directory::remove(std::string path) {
  limits_.require(FsOp::remove);
  FsPath p = checked(path);
  if (p.is_self()) fail(fmt::format("invalid path: {:?} names this directory itself", p.text));
  Parent parent = resolve_parent(root_.get(), p, resolver_).value();
  struct stat st = entry_stat(parent, p);
  // unlinkat never follows the name: removing a symlink removes the link.
  if (::unlinkat(parent.dir.get(), parent.name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0)
    fail(errno_reason(errno, p.text));
}

void Directory::rename(std::string from, std::string to) {
  limits_.require(FsOp::remove);
  limits_.require(FsOp::create);
  FsPath a = checked(from);
  FsPath b = checked(to);
  if (a.is_self() || b.is_self()) fail("invalid path: rename moves an entry, not the directory itself");
  Parent pa = resolve_parent(root_.get(), a, resolver_).value();
  Parent pb = resolve_parent(root_.get(), b, resolver_).value();
  if (a.trailing_slash || b.trailing_slash) {
    FsPath dir_a = a;
    dir_a.trailing_slash = true;
    (void)entry_stat(pa, dir_a);
  }
  // RENAME_NOREPLACE: a rename never destroys what `to` named.
  if (::renameat2(pa.dir.get(), pa.name.c_str(), pb.dir.get(), pb.name.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) fail(errno_reason(EEXIST, b.text));
    if (err == ENOENT || err == EACCES || err == EPERM) fail(errno_reason(err, a.text));
    fail(fmt::format("cannot rename {} to {}: {}", a.text, b.text, std::system_category().message(err)));
  }
}

Ref<Directory> Directory::sub(std::string path) {
  limits_.require(FsOp::list);
  FsPath p = checked(path);
  return derive(resolve_directory(root_.get(), p, resolver_).value().fd, limits_);
}

Ref<Directory> Directory::read_only() { return derive(dup_fd(root_.get()), limits_.narrowed(kReadOnlyFsOps, {})); }

Ref<Directory> Directory::restrict(std::string ops, std::optional<std::uint64_t> max_bytes) {
  auto parsed = parse_fs_ops(ops);
  if (!parsed) fail("invalid ops: " + parsed.error());
  return derive(dup_fd(root_.get()), limits_.narrowed(*parsed, max_bytes));
}

std::string Directory::ops() { return fs_ops_to_string(limits_.ops); }

Ref<Directory> Directory::derive(UniqueFd root, FsLimits limits) {
  return vat().make<Directory>(io_, std::move(root), limits, resolver_);
}

Ref<Directory> open_directory(Vat& vat, FileIo& io, const std::string& host_path, FsOps ops,
                              std::optional<std::uint64_t> max_bytes, std::optional<PathResolver> resolver) {
  if (&io.vat() != &vat) fail("open_directory: the FileIo belongs to another vat");
  if (host_path.empty() || host_path.find('\0') != std::string::npos)
    fail("open_directory: the host path is empty or contains a NUL byte");
  UniqueFd fd(::open(host_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    fail(fmt::format("cannot serve {}: {}", host_path,
                     err == ENOTDIR ? std::string("not a directory") : std::system_category().message(err)));
  }
  PathResolver how = resolver ? *resolver : detect_resolver(fd.get());
  return vat.make<Directory>(io, std::move(fd), FsLimits{ops, max_bytes}, how);
}

}  // namespace vatic::caps
