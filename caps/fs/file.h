// File: a capability to one regular file, opened by a Directory (`open`,
// `create`) and carrying that directory's limits. It owns the file's descriptor
// (through its FileHandle) and closes it when the last reference goes. Data
// moves through the FileIo, so no call blocks the vat's loop; stat and
// truncate are short metadata calls made on the vat's thread.
//
// Methods, callable by name:
//   stat()                              -> Stat                  (read)
//   read(offset, length)                -> Bytes                 (read)
//       at most kReadChunkLimit (1 MiB) bytes, and no more than the file holds
//       past `offset`: a short answer means the cap or end of file, an empty
//       one end of file. Loop, or use stream_to for more.
//   stream_to(sink, offset, length)     -> int64 bytes sent      (read)
//       length -1 means to end of file. Writes the span to `sink` through a
//       ByteStream (vat/byte_stream.h): chunks of kStreamChunk (256 KiB), at
//       most kStreamWindow (4) unacknowledged, then sink.end(); the whole
//       span must fit max_bytes. A read that fails aborts the sink with the
//       reason this call breaks with.
//   write(offset, data)                 -> void                  (write)
//   truncate(size)                      -> void                  (write)
// A refused call breaks with a reason starting "refused: ".
// Lives in one vat; run only by that vat's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "caps/fs/entry.h"
#include "caps/fs/file_io.h"
#include "caps/fs/limits.h"
#include "vat/byte_sink.h"
#include "vat/object.h"
#include "vat/ref.h"
#include "vat/task.h"

namespace vatic::caps {

inline constexpr std::size_t kReadChunkLimit = std::size_t{1} << 20;
inline constexpr std::size_t kStreamChunk = std::size_t{256} << 10;
inline constexpr std::size_t kStreamWindow = 4;

class File : public Object {
 public:
  // `name` is the holder's path of the file, for messages (never a host path);
  // `writable` is false when it was opened for reading only: because the host
  // allows no more, or for `read_only_reason` (what write and truncate then
  // answer, as a path reached through a symbolic link: spec/fs.md).
  File(FileIo& io, std::unique_ptr<FileHandle> handle, FsLimits limits, std::string name, bool writable,
       std::string read_only_reason = {});

  Stat stat();
  Task<Bytes> read(std::uint64_t offset, std::uint64_t length);
  Task<std::int64_t> stream_to(Ref<ByteSink> sink, std::uint64_t offset, std::int64_t length);
  Task<void> write(std::uint64_t offset, Bytes data);
  void truncate(std::uint64_t size);

  const FsLimits& limits() const noexcept { return limits_; }

  VATIC_METHODS(File, stat, read, stream_to, write, truncate)

 private:
  std::uint64_t current_size() const;
  void require_writable() const;

  FileIo& io_;
  std::unique_ptr<FileHandle> handle_;
  FsLimits limits_;
  std::string name_;
  bool writable_;
  std::string read_only_reason_;
};

// One bounded read, shared by File::read and Directory::read: clamps `length`
// to kReadChunkLimit and to what the file holds past `offset`, refuses more
// than max_bytes, then reads through `io`. The caller keeps `file` alive until
// the promise settles.
Promise<Bytes> read_chunk(FileIo& io, FileHandle& file, const FsLimits& limits, std::uint64_t offset,
                          std::uint64_t length, const std::string& name);

}  // namespace vatic::caps
