// The "fs.dir" kind: how a Host revives a served directory after a restart and
// narrows it by a token's filesystem caveats (spec/token.md, From token to
// live reference: the joined path through `sub`, then the ops and max_bytes
// intersection through `restrict`). The stored parameters name the host path
// and whether it is served read-only; they never leave the vat.
#pragma once

#include <string>

#include "caps/fs/file_io.h"
#include "sturdyrefs/host.h"

namespace vatic::sturdyrefs {

inline constexpr const char* kFsDirKind = "fs.dir";

// The stored parameters of a served directory.
std::string fs_dir_params(const std::string& host_path, bool read_only);

// The kind, reviving directories through `io` (which must outlive the Host).
Kind fs_dir_kind(Vat& vat, caps::FileIo& io);

}  // namespace vatic::sturdyrefs
