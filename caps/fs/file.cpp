#include "caps/fs/file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "caps/fs/path.h"
#include "vat/byte_stream.h"

namespace vatic::caps {
namespace {

constexpr std::uint64_t kMaxOffset = static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());

std::uint64_t size_of(int fd, const std::string& name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_error(ErrorKind::failed, errno_reason(errno, name));
  return static_cast<std::uint64_t>(st.st_size);
}

// The byte range [offset, offset + length) must be addressable by off_t.
void check_range(std::uint64_t offset, std::uint64_t length) {
  if (offset > kMaxOffset || length > kMaxOffset - offset)
    throw_error(ErrorKind::failed,
                fmt::format("invalid range: offset {} length {} is past the largest file offset", offset, length));
}

}  // namespace

Promise<Bytes> read_chunk(FileIo& io, FileHandle& file, const FsLimits& limits, std::uint64_t offset,
                          std::uint64_t length, const std::string& name) {
  check_range(offset, 0);
  std::uint64_t size = size_of(file.fd(), name);
  std::uint64_t available = offset < size ? size - offset : 0;
  std::uint64_t want = std::min<std::uint64_t>({length, kReadChunkLimit, available});
  limits.check_read(want);
  return io.read(file, offset, static_cast<std::size_t>(want), "read " + name);
}

File::File(FileIo& io, std::unique_ptr<FileHandle> handle, FsLimits limits, std::string name, bool writable,
           std::string read_only_reason)
    : io_(io),
      handle_(std::move(handle)),
      limits_(limits),
      name_(std::move(name)),
      writable_(writable),
      read_only_reason_(std::move(read_only_reason)) {}

std::uint64_t File::current_size() const { return size_of(handle_->fd(), name_); }

void File::require_writable() const {
  if (writable_) return;
  throw_error(ErrorKind::failed, read_only_reason_.empty()
                                     ? fmt::format("permission denied: {} is read-only on the host", name_)
                                     : read_only_reason_);
}

Stat File::stat() {
  limits_.require(FsOp::read);
  struct stat st {};
  if (::fstat(handle_->fd(), &st) != 0) throw_error(ErrorKind::failed, errno_reason(errno, name_));
  return stat_of(st);
}

Task<Bytes> File::read(std::uint64_t offset, std::uint64_t length) {
  limits_.require(FsOp::read);
  Ref<File> self = ref_to(this);  // the descriptor stays open until the read is done
  co_return co_await read_chunk(io_, *handle_, limits_, offset, length, name_);
}

Task<std::int64_t> File::stream_to(Ref<ByteSink> sink, std::uint64_t offset, std::int64_t length) {
  limits_.require(FsOp::read);
  if (!sink) throw_error(ErrorKind::failed, "stream_to needs a sink, got an empty reference");
  if (length < -1) throw_error(ErrorKind::failed, fmt::format("invalid length {} (-1 means to end of file)", length));
  check_range(offset, 0);
  Ref<File> self = ref_to(this);
  std::uint64_t size = current_size();
  std::uint64_t available = offset < size ? size - offset : 0;
  std::uint64_t total =
      length == -1 ? available : std::min<std::uint64_t>(static_cast<std::uint64_t>(length), available);
  limits_.check_read(total);

  // Flow control is the ByteStream's: the next chunk is read while the
  // window's writes await their acknowledgement, and a full window waits.
  ByteStream out(std::move(sink), StreamWindow{kStreamWindow, kStreamWindow * kStreamChunk});
  std::uint64_t sent = 0;
  std::optional<Error> read_failed;
  while (sent < total) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kStreamChunk, total - sent));
    Bytes chunk;
    try {
      chunk = co_await io_.read(*handle_, offset + sent, n, "read " + name_);
    } catch (const VatError& e) {
      read_failed = e.error();
      break;
    }
    if (chunk.empty()) break;  // the file shrank under us: send what there was
    sent += chunk.size();
    co_await out.write(std::move(chunk));
  }
  if (read_failed) {
    // The sink must not take a short stream for the whole file.
    out.abort(read_failed->reason);
    throw VatError(*read_failed);
  }
  co_await out.end();
  co_return static_cast<std::int64_t>(sent);
}

Task<void> File::write(std::uint64_t offset, Bytes data) {
  limits_.require(FsOp::write);
  require_writable();
  check_range(offset, data.size());
  limits_.check_end(offset + data.size(), current_size());
  Ref<File> self = ref_to(this);
  co_await io_.write(*handle_, offset, std::move(data), "write " + name_);
}

void File::truncate(std::uint64_t size) {
  limits_.require(FsOp::write);
  require_writable();
  check_range(size, 0);
  limits_.check_end(size, current_size());
  // Synchronous: a metadata call, short on every filesystem we serve.
  if (::ftruncate(handle_->fd(), static_cast<off_t>(size)) != 0)
    throw_error(ErrorKind::failed, errno_reason(errno, name_));
}

}  // namespace vatic::caps
