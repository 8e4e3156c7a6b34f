#include "caps/fs/entry.h"

#include "caps/fs/path.h"

namespace vatic::caps {

Stat stat_of(const struct stat& st) {
  return Stat{std::string(type_name(st.st_mode)), static_cast<std::uint64_t>(st.st_size),
              static_cast<std::int64_t>(st.st_mtim.tv_sec), static_cast<std::uint32_t>(st.st_mode & 07777)};
}

}  // namespace vatic::caps
