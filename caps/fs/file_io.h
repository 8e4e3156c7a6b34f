// FileIo: moves file data between regular files and memory without blocking a
// vat's loop. main() makes one per vat, after the vat, and passes it to the
// filesystem capabilities (no global file service). Two backends:
//   io_uring:    Boost.Asio random_access_file on the vat's io_context; the
//                completion runs on the vat's thread when its loop polls.
//   thread_pool: a few threads run pread/pwrite and post each completion back
//                to the vat as a turn (`vat.post`).
// At construction it probes io_uring (a NOP through a scratch ring, then Asio's
// file service on the vat's context) and falls back to the pool when the
// kernel or a seccomp filter refuses it; tests may force either backend.
//
// Threads: every public member is called on the vat's thread. The pool's
// threads touch only descriptors and buffers they were handed, never promises.
// Lifetime: destroy the FileIo before its Vat, on the vat's thread (or once the
// vat no longer runs); I/O still in flight then breaks with `disconnected`.
// Only data goes through here; metadata calls (fstat, ftruncate, getdents) are
// short and run synchronously on the vat's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "caps/fs/unique_fd.h"
#include "vat/promise.h"
#include "vat/value.h"

namespace vatic {
class Vat;
}

namespace vatic::caps {

enum class FileIoBackend : std::uint8_t { io_uring, thread_pool };

std::string_view to_string(FileIoBackend b) noexcept;

struct FileIoOptions {
  // Forces a backend (tests). Forcing io_uring where it does not work throws.
  std::optional<FileIoBackend> backend;
  std::size_t threads = 2;  // pool threads (thread_pool backend only)
  // Bounds on what holders can make this FileIo keep: bytes of reads and
  // writes in flight, and open files. Past them calls break with `overloaded`.
  // Directories (sub, read_only, restrict) count against max_open_files too.
  std::size_t max_bytes_in_flight = std::size_t{256} << 20;
  std::size_t max_open_files = 4096;  // and never more than half of RLIMIT_NOFILE
};

// An open regular file registered with one FileIo. Owned by the File object (or
// the coroutine frame) that uses it; destroying it closes the descriptor, and
// on io_uring cancels the operations still running on it.
class FileHandle {
 public:
  virtual ~FileHandle() = default;
  // For synchronous metadata calls on the vat's thread (fstat, ftruncate).
  virtual int fd() const noexcept = 0;
};

class FileIo {
 public:
  explicit FileIo(Vat& vat, FileIoOptions options = {});
  FileIo(const FileIo&) = delete;
  FileIo& operator=(const FileIo&) = delete;
  ~FileIo();

  Vat& vat() const noexcept;
  FileIoBackend backend() const noexcept;
  // Why io_uring is not used ("" when it is).
  const std::string& fallback_reason() const noexcept;

  // Takes a regular file's descriptor (opened O_CLOEXEC, blocking mode).
  // Throws VatError(overloaded) past max_open_files.
  std::unique_ptr<FileHandle> adopt(UniqueFd fd);
  // Counts one descriptor held elsewhere (a Directory's) against
  // max_open_files until the returned token is dropped; throws
  // VatError(overloaded) past the limit.
  std::shared_ptr<const void> hold_descriptor();

  // Reads up to `length` bytes at `offset`: fewer only at end of file. `what`
  // ("read notes.txt") prefixes the reason of a failure.
  Promise<Bytes> read(FileHandle& file, std::uint64_t offset, std::size_t length, std::string what);
  // Writes all of `data` at `offset`.
  Promise<void> write(FileHandle& file, std::uint64_t offset, Bytes data, std::string what);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vatic::caps
