#include "caps/fs_ops.h"

#include <array>

namespace vatic::caps {
namespace {

constexpr std::array<FsOp, 5> kOps = {FsOp::read, FsOp::list, FsOp::write, FsOp::create, FsOp::remove};

}  // namespace

std::string_view to_string(FsOp op) noexcept {
  switch (op) {
    case FsOp::read: return "read";
    case FsOp::list: return "list";
    case FsOp::write: return "write";
    case FsOp::create: return "create";
    case FsOp::remove: return "delete";
  }
  return "?";
}

std::string fs_ops_to_string(FsOps ops) {
  std::string out;
  for (FsOp op : kOps) {
    if (!allows(ops, op)) continue;
    if (!out.empty()) out += ',';
    out += to_string(op);
  }
  return out.empty() ? "none" : out;
}

Result<FsOps> parse_fs_ops(std::string_view text) {
  if (text == "none") return FsOps{0};
  FsOps out = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view name = text.substr(start, end - start);
    bool found = false;
    for (FsOp op : kOps) {
      if (name == to_string(op)) {
        out |= static_cast<FsOps>(op);
        found = true;
      }
    }
    if (!found) {
      return refuse(name.empty()
                        ? "empty operation name"
                        : "unknown operation \"" + std::string(name) + "\" (read, list, write, create, delete)");
    }
    start = end + 1;
  }
  return out;
}

}  // namespace vatic::caps
