// Upload: a file being written whole, as `vatic put` does: the data goes to a
// temporary file beside the target, and only commit() puts it in the
// target's place, by one rename. Readers of the target see the old content
// or the new, never a mixture; a failed or abandoned upload changes nothing.
// Made by Directory::upload(path), with that directory's limits. It owns the
// temporary file and removes it unless committed: when a write fails (a full
// disk), on abort(), and when the last reference goes (the uploader's
// connection dropped, or it was killed).
//
// The temporary file is `.vatic-part-<32 hex>` (libsodium randomness) in the
// target's directory, so the rename never crosses file systems. Names with
// that prefix are reserved: no holder can name one (path.h refuses it) and
// list() does not show them. The upload holds flock(LOCK_EX) on it, so that
// sweep_partial_uploads (run by `vatic serve` as it starts) removes only the
// leftovers of a process that died, never an upload in progress.
//
// Methods, callable by name (the ops each needs in parentheses):
//   write(offset, data)  -> void               (as File::write: max_bytes)
//   commit()             -> int64 size         (write to replace a file, create for a new one)
//   abort()              -> void
// Lives in one vat; run only by that vat's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "caps/fs/file_io.h"
#include "caps/fs/limits.h"
#include "caps/fs/unique_fd.h"
#include "vat/object.h"
#include "vat/ref.h"
#include "vat/task.h"

namespace vatic::caps {

class Upload : public Object {
 public:
  // `dir` is the target's directory (any descriptor *at calls take), `name`
  // the target's name in it, `holder_path` the holder's path for messages.
  // Creates the temporary file; throws VatError(failed) if it cannot.
  Upload(FileIo& io, UniqueFd dir, std::string name, std::string holder_path, FsLimits limits);
  ~Upload() override;

  Task<void> write(std::uint64_t offset, Bytes data);
  std::int64_t commit();
  void abort();

  VATIC_METHODS(Upload, write, commit, abort)

 private:
  // Removes the temporary file (once) and remembers why the upload ended.
  void discard(std::string why);
  void check_open() const;

  FileIo& io_;
  std::shared_ptr<const void> counted_;  // dir_ against the FileIo's open-file limit
  UniqueFd dir_;
  std::string name_, holder_path_, part_name_;
  FsLimits limits_;
  std::unique_ptr<FileHandle> part_;
  // Set once the upload ended: committed, aborted, or failed (and why).
  std::optional<std::string> ended_;
};

// Removes leftover temporary files of uploads (`.vatic-part-*`) anywhere
// beneath `host_path`, skipping any another live upload holds locked, and
// following no symlink. For `vatic serve` as it starts (before it serves):
// a process killed mid-upload leaves its temporary file behind. Returns how
// many it removed; unreadable directories are skipped.
std::size_t sweep_partial_uploads(const std::filesystem::path& host_path);

}  // namespace vatic::caps
