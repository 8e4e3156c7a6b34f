// FsLimits: what a Directory or File capability may do (an FsOps set) and how
// many bytes one read, stream or file may span (max_bytes, none = unlimited).
// Each object holds its own copy, checks it on every call, and hands it on to
// every object it derives (sub, open, create); narrowing intersects, so a
// holder can never widen what it was given. Plain value; any thread.
#pragma once

#include <cstdint>
#include <optional>

#include "caps/fs_ops.h"

namespace vatic::caps {

struct FsLimits {
  FsOps ops = kAllFsOps;
  std::optional<std::uint64_t> max_bytes;

  // Throws VatError(failed, "refused: <op> is not allowed by this capability").
  void require(FsOp op) const;
  // The intersection with (ops, max_bytes).
  FsLimits narrowed(FsOps ops, std::optional<std::uint64_t> max_bytes) const;
  // One read or stream may deliver at most max_bytes: refuses `bytes` beyond it.
  void check_read(std::uint64_t bytes) const;
  // A write or truncate may not make a file larger than max_bytes: refuses a
  // new end beyond it unless the file is already at least that long.
  void check_end(std::uint64_t new_end, std::uint64_t current_size) const;
};

}  // namespace vatic::caps
