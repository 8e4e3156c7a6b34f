#include "caps/fs/path.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <system_error>

#include <fmt/format.h>

namespace vatic::caps {

std::string FsPath::joined() const {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

Result<FsPath> parse_path(std::string_view text) {
  // PATH_MAX counts the terminating NUL. The text is not echoed: it may be huge.
  if (text.size() >= PATH_MAX)
    return refuse(fmt::format("invalid path: {} bytes exceeds PATH_MAX ({})", text.size(), PATH_MAX - 1));
  if (text.find('\0') != std::string_view::npos)
    return refuse(fmt::format("refused: path {:?} contains a NUL byte", text));
  if (!text.empty() && text.front() == '/') return refuse(fmt::format("refused: path {:?} is absolute", text));
  FsPath out;
  out.text = text.empty() ? "." : std::string(text);
  std::size_t start = 0;
  bool last_was_dotdot = false;
  while (start <= text.size()) {
    std::size_t end = text.find('/', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    last_was_dotdot = part == "..";
    // fs.md, Parse 4: ".." is lexical. It cancels what the holder wrote before
    // it, so the result is only ever a shorter list of the holder's own names,
    // which is then resolved beneath the root like any other: nothing here
    // can climb. With nothing left to cancel it is the classic escape.
    if (part == "..") {
      if (out.parts.empty()) return refuse(refused_escape(text));
      out.parts.pop_back();
      continue;
    }
    // An upload's temporary file is the server's, not the holder's: naming it
    // would let a holder read, replace or remove an upload in progress.
    if (part.starts_with(kPartialUploadPrefix))
      return refuse(fmt::format("refused: path {:?} names an upload in progress (a reserved name)", text));
    if (part.size() > NAME_MAX)
      return refuse(fmt::format("invalid path: a name of {} bytes exceeds NAME_MAX ({})", part.size(), NAME_MAX));
    out.parts.emplace_back(part);
  }
  // fs.md, Parse 5: "a/b/.." names a directory, as "a/" does.
  out.trailing_slash = !out.parts.empty() && (text.back() == '/' || last_was_dotdot);
  return out;
}

std::string refused_escape(std::string_view path) {
  return fmt::format("refused: path {:?} leaves the directory", path);
}

std::string refused_link_loop(std::string_view path) {
  return fmt::format("refused: path {:?}: too many levels of symbolic links", path);
}

std::string refused_magic_link(std::string_view path) {
  return fmt::format("refused: path {:?} goes through a /proc magic link", path);
}

std::string refused_write_through_link(std::string_view path) {
  return fmt::format("refused: {:?} is a symbolic link; writes never go through one", path);
}

std::string refused_not_served(std::string_view path, unsigned mode) {
  std::string_view what = S_ISFIFO(mode)                   ? "a FIFO"
                          : S_ISSOCK(mode)                 ? "a socket"
                          : S_ISCHR(mode) || S_ISBLK(mode) ? "a device"
                          : S_ISLNK(mode)                  ? "a symbolic link"
                                                           : "of an unsupported type";
  return fmt::format("refused: {:?} is {}; only regular files and directories are served", path, what);
}

std::string errno_reason(int err, std::string_view path) {
  switch (err) {
    case ENOENT: return fmt::format("not found: {}", path);
    case EEXIST: return fmt::format("already exists: {}", path);
    case ENOTDIR: return fmt::format("not a directory: {}", path);
    case EISDIR: return fmt::format("is a directory: {}", path);
    case ENOTEMPTY: return fmt::format("directory not empty: {}", path);
    case EACCES:
    case EPERM: return fmt::format("permission denied: {}", path);
    // Only a lookup that met more than 40 links, or a link where O_NOFOLLOW
    // was asked, says ELOOP; the resolvers tell a /proc magic link apart.
    case ELOOP: return refused_link_loop(path);
    case ENAMETOOLONG: return fmt::format("invalid path: name too long: {}", path);
    case ENOSPC: return fmt::format("no space left on device: {}", path);
    case EROFS: return fmt::format("read-only file system: {}", path);
    default: return fmt::format("{}: {}", path, std::system_category().message(err));
  }
}

std::string_view type_name(unsigned mode) noexcept {
  if (S_ISREG(mode)) return "file";
  if (S_ISDIR(mode)) return "dir";
  return "other";
}

}  // namespace vatic::caps
