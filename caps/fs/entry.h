// DirEntry and Stat: what `list` and `stat` answer, as passable records
// (VATIC_FIELDS), so a peer or the CLI reads them by field name. `type` is
// "file", "dir" or "other" (symlinks, FIFOs, sockets and devices: listed, never
// opened); `mtime` is seconds since the Unix epoch; `mode` the permission bits.
// Plain values; any thread.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "vat/promise.h"  // codec.h, with the types it needs complete

namespace vatic::caps {

struct DirEntry {
  std::string name;
  std::string type;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  VATIC_FIELDS(DirEntry, name, type, size, mtime)
};

struct Stat {
  std::string type;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  std::uint32_t mode = 0;
  VATIC_FIELDS(Stat, type, size, mtime, mode)
};

Stat stat_of(const struct stat& st);

}  // namespace vatic::caps
