// FsPath: a path a capability holder sends, checked before it touches the
// filesystem (spec/fs.md, "Parse"). Paths are relative, '/'-separated, resolved
// beneath the directory the capability wraps; "" and "." name that directory
// itself. Refused outright (reason starting "refused: "): absolute paths, NUL
// bytes, and a ".." with nothing before it to cancel. Invalid (reason starting
// "invalid path: "): a name longer than NAME_MAX or a path longer than
// PATH_MAX. Empty and "." components are dropped ("a//./b" is "a/b"), and ".."
// is lexical: it cancels the component before it ("a/../b" is "b", "a/.." the
// directory itself), before any symbolic link is looked at. A trailing slash,
// or a last component "..", means the path must name a directory.
// Refused too: any component starting with kPartialUploadPrefix (the
// temporary files of uploads, upload.h).
//
// The path checks and resolvers return vatic::Result (vat/result.h): untrusted
// input gets a result the caller must look at; inside a turn, `value()` turns a
// refusal into VatError(failed, reason).
// Plain values; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vat/error.h"
#include "vat/result.h"

namespace vatic::caps {

struct FsPath {
  std::string text;                // as sent, for messages ("." when it is empty)
  std::vector<std::string> parts;  // never "", "." or "..": the holder's ".." already applied
  bool trailing_slash = false;     // must name a directory ("a/", or "a/b/..")

  bool is_self() const noexcept { return parts.empty(); }
  // "a/b": the parts joined, what the resolvers hand to the kernel.
  std::string joined() const;
};

// Names of uploads' temporary files (upload.h): reserved, never a holder's.
inline constexpr std::string_view kPartialUploadPrefix = ".vatic-part-";

Result<FsPath> parse_path(std::string_view text);

// --- Reasons, shared by the resolvers and the objects so both resolvers word
// every outcome the same way. `path` is always the holder's relative path,
// never a host path.
std::string refused_escape(std::string_view path);
std::string refused_link_loop(std::string_view path);
std::string refused_magic_link(std::string_view path);
std::string refused_write_through_link(std::string_view path);
std::string refused_not_served(std::string_view path, unsigned mode);
// Maps an errno from a *at() call on `path` to a precise reason ("not found:
// a/b", "already exists: a", "permission denied: a", or "a: <strerror>").
std::string errno_reason(int err, std::string_view path);
// "file", "dir" or "other" for a st_mode.
std::string_view type_name(unsigned mode) noexcept;

}  // namespace vatic::caps
