// FsOps: the operations a filesystem capability may perform, as a bit set.
// The same bits appear in a token's `ops` caveat (spec/token.md) and in the
// limits every Directory and File object enforces, so a token narrowed offline
// and a live reference narrowed with `restrict` mean exactly the same thing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vat/result.h"

namespace vatic::caps {

enum class FsOp : std::uint8_t {
  read = 1,     // read file contents, stat files
  list = 2,     // list and stat directories, open subdirectories
  write = 4,    // overwrite or truncate existing files
  create = 8,   // create files and directories
  remove = 16,  // remove files and empty directories (rename needs remove and create)
};

using FsOps = std::uint8_t;
inline constexpr FsOps kAllFsOps = 31;
inline constexpr FsOps kReadOnlyFsOps = 3;

constexpr bool allows(FsOps set, FsOp op) noexcept { return (set & static_cast<FsOps>(op)) != 0; }

std::string_view to_string(FsOp op) noexcept;
// "read,list,write" (the order of the bits); "none" for the empty set.
std::string fs_ops_to_string(FsOps ops);
// Parses a comma-separated list of op names; refused for an unknown or empty
// name. "none" parses as the empty set.
Result<FsOps> parse_fs_ops(std::string_view text);

}  // namespace vatic::caps
