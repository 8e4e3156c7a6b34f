#include "caps/fs/limits.h"

#include <algorithm>

#include <fmt/format.h>

#include "vat/error.h"

namespace vatic::caps {

void FsLimits::require(FsOp op) const {
  if (!allows(ops, op))
    throw_error(ErrorKind::failed, fmt::format("refused: {} is not allowed by this capability", to_string(op)));
}

FsLimits FsLimits::narrowed(FsOps narrower, std::optional<std::uint64_t> max) const {
  FsLimits out{static_cast<FsOps>(ops & narrower), max_bytes};
  if (max) out.max_bytes = max_bytes ? std::min(*max_bytes, *max) : *max;
  return out;
}

void FsLimits::check_read(std::uint64_t bytes) const {
  if (max_bytes && bytes > *max_bytes)
    throw_error(ErrorKind::failed,
                fmt::format("refused: reading {} bytes exceeds this capability's max_bytes ({})", bytes, *max_bytes));
}

void FsLimits::check_end(std::uint64_t new_end, std::uint64_t current_size) const {
  if (max_bytes && new_end > *max_bytes && new_end > current_size)
    throw_error(ErrorKind::failed, fmt::format("refused: a file of {} bytes exceeds this capability's max_bytes ({})",
                                               new_end, *max_bytes));
}

}  // namespace vatic::caps
