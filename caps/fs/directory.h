// Directory: a capability to one directory tree, wrapping an O_PATH descriptor
// of its root. Every path a holder sends is checked (path.h) and resolved
// beneath that root (resolve.h, spec/fs.md), so the holder reaches the tree
// and nothing else: no parent, no absolute path, no symbolic link that leads
// out (links inside the tree are followed), no /proc magic link, nothing but
// regular files and directories opened. The object owns its descriptor and
// closes it when the last reference goes.
//
// Methods, callable by name (the op each needs in parentheses):
//   list(path)                -> [DirEntry] sorted by name    (list)
//                             (entries as they are: a link is "other")
//   stat(path)                -> Stat, of what path designates (read for files, list otherwise)
//   read(path, offset, length)-> Bytes, as File::read         (read)
//   open(path)                -> File                          (read or write)
//                             (reached through a last link: reading only)
//   create(path)              -> File, a new file (O_EXCL)     (create)
//   upload(path)              -> Upload: written aside, then renamed over
//                                path on commit (upload.h)    (write to replace, create for new)
//   upload_sink(path)         -> ByteSink: an upload written as a stream, committed
//                                by end() (upload_sink.h)      (as upload)
//   mkdir(path)                                                (create)
//   remove(path)              a file, an empty dir, or a symlink itself (never
//                             its target) or other special file (delete)
//   rename(from, to)          the entries themselves; never replaces an
//                             existing `to`                    (delete and create)
//   sub(path)                 -> Directory narrowed to path    (list)
//   read_only()               -> Directory with read,list at most
//   restrict(ops, max_bytes)  -> Directory with the intersection ("read,list", null = keep)
//   ops()                     -> text form of the allowed ops
// list() never shows uploads' temporary files (names reserved by path.h).
// Objects derived here (sub, open, create, read_only, restrict) keep this
// object's limits or narrower. Refusals break with "refused: ..."; other
// failures name the holder's path ("not found: a/b"), never a host path.
//
// Metadata calls (resolution, stat, getdents, mkdir, unlink, rename) are short
// and run synchronously on the vat's thread; file data goes through FileIo.
// Lives in one vat; run only by that vat's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "caps/fs/entry.h"
#include "caps/fs/file.h"
#include "caps/fs/file_io.h"
#include "caps/fs/limits.h"
#include "caps/fs/resolve.h"
#include "caps/fs/unique_fd.h"
#include "caps/fs/upload.h"
#include "vat/byte_sink.h"
#include "vat/object.h"
#include "vat/ref.h"
#include "vat/task.h"

namespace vatic {
class Vat;
}

namespace vatic::caps {

// list() refuses a directory with more entries than this (one answer must stay
// a reasonable message).
inline constexpr std::size_t kMaxListEntries = 100000;

class Directory : public Object {
 public:
  // `root` is an O_PATH descriptor of a directory. main() goes through
  // open_directory; objects make narrower ones through the methods below.
  Directory(FileIo& io, UniqueFd root, FsLimits limits, PathResolver resolver);

  std::vector<DirEntry> list(std::string path);
  Stat stat(std::string path);
  Task<Bytes> read(std::string path, std::uint64_t offset, std::uint64_t length);
  Ref<File> open(std::string path);
  Ref<File> create(std::string path);
  Ref<Upload> upload(std::string path);
  Ref<ByteSink> upload_sink(std::string path);
  void mkdir(std::string path);
  void remove(std::string path);
  void rename(std::string from, std::string to);
  Ref<Directory> sub(std::string path);
  Ref<Directory> read_only();
  Ref<Directory> restrict(std::string ops, std::optional<std::uint64_t> max_bytes);
  std::string ops();

  const FsLimits& limits() const noexcept { return limits_; }
  PathResolver resolver() const noexcept { return resolver_; }

  VATIC_METHODS(Directory, list, stat, read, open, create, upload, upload_sink, mkdir, remove, rename, sub, read_only,
                restrict, ops)

 private:
  Ref<Directory> derive(UniqueFd root, FsLimits limits);

  FileIo& io_;
  std::shared_ptr<const void> counted_;  // root_ against the FileIo's open-file limit
  UniqueFd root_;
  FsLimits limits_;
  PathResolver resolver_;
};

// The one door from a host path to a capability, for main(): opens `host_path`
// (which must be a directory) and wraps it with these limits. The resolver is
// detected (openat2 where it works, else the walk) unless given. Call on the
// vat's thread, or before the vat runs. Throws VatError(failed) naming
// host_path: the reason is for the operator, not for a capability holder.
Ref<Directory> open_directory(Vat& vat, FileIo& io, const std::string& host_path, FsOps ops,
                              std::optional<std::uint64_t> max_bytes,
                              std::optional<PathResolver> resolver = std::nullopt);

}  // namespace vatic::caps
