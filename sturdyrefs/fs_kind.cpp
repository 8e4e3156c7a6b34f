#include "sturdyrefs/fs_kind.h"

#include <fmt/format.h>

#include "caps/fs/directory.h"
#include "vat/vat.h"

namespace vatic::sturdyrefs {

std::string fs_dir_params(const std::string& host_path, bool read_only) {
  return fmt::format("{}:{}", read_only ? "ro" : "rw", host_path);
}

Kind fs_dir_kind(Vat& vat, caps::FileIo& io) {
  Kind k;
  k.revive = [&vat, &io](const StoredObject& o) -> Ref<Object> {
    if (o.params.size() < 3 || o.params[2] != ':' || (o.params.rfind("ro", 0) != 0 && o.params.rfind("rw", 0) != 0))
      throw_error(ErrorKind::failed, "stored directory parameters are corrupt");
    bool ro = o.params.rfind("ro", 0) == 0;
    try {
      return caps::open_directory(vat, io, o.params.substr(3), ro ? caps::kReadOnlyFsOps : caps::kAllFsOps,
                                  std::nullopt);
    } catch (const VatError&) {
      // open_directory's reason names the host path, which is for the
      // operator: this one goes to whoever presented the token.
      throw_error(ErrorKind::failed, "the directory behind this sturdy ref is not available now");
    }
  };
  k.narrow = [](const Ref<Object>& target, const caps::Caveats& c) -> Ref<Object> {
    Object* o = detail::RefAccess::handler(target)->near_object();
    auto* dir = dynamic_cast<caps::Directory*>(o);
    if (!dir) throw_error(ErrorKind::failed, "refused: caveat does not apply to this object");
    Ref<caps::Directory> d = detail::ref_from_handler<caps::Directory>(detail::RefAccess::handler(target));
    std::string path = c.joined_path();
    if (!path.empty()) {
      try {
        d = d.call<&caps::Directory::sub>(path);
      } catch (const VatError& e) {
        // The holder learns the path is not there, never the host's layout.
        if (e.error().reason.rfind("refused:", 0) == 0) throw;
        throw_error(ErrorKind::failed, "refused: path not found");
      }
    }
    if (c.ops || c.max_bytes) {
      std::string ops = caps::fs_ops_to_string(c.ops.value_or(caps::kAllFsOps));
      d = d.call<&caps::Directory::restrict>(ops, c.max_bytes);
    }
    return d;
  };
  return k;
}

}  // namespace vatic::sturdyrefs
