// `vatic inspect ADMIN-REF [VIEW]`: asks a serving vat's Admin object
// (sturdyrefs/admin.h) for one view of its inside and prints it, as tables or
// with --json as one JSON object. The views are Admin methods of the same
// name; spec/admin.md documents the records.
#include <fmt/format.h>

#include "sturdyrefs/admin.h"
#include "sturdyrefs/uri.h"
#include "tools/client.h"
#include "tools/commands.h"
#include "tools/inspect_render.h"
#include "tools/value_json.h"
#include "vat/json.h"

namespace vatic::cli {
namespace {

std::string view_list() {
  std::string out;
  for (auto v : kInspectViews) out += fmt::format("{}{}", out.empty() ? "" : ", ", v);
  return out;
}

// The view, asked by name. A reference that is not an admin object has no
// such method (`unimplemented`): that is a refusal, as for a bad token.
Value fetch(Client& client, const Ref<sturdyrefs::Admin>& admin, const std::string& view) {
  try {
    return client.vat().wait(admin.send(view));
  } catch (const VatError& e) {
    if (e.error().kind == ErrorKind::unimplemented)
      throw CliError(kRefused, fmt::format("refused: not an admin reference ({})", e.error().reason));
    throw CliError(exit_code_for(e.error()), e.error().reason);
  }
}

}  // namespace

int cmd_inspect(const Common& c, const std::string& admin_ref, const std::string& view) {
  if (!is_inspect_view(view))
    throw CliError(kUsage, fmt::format("unknown view {:?}: expected one of {}", view, view_list()));
  std::string admin_text = read_ref_arg(admin_ref);
  Client client(c);
  auto admin = client.open<sturdyrefs::Admin>(admin_text);
  Value v = fetch(client, admin, view);
  if (c.json) {
    auto ref = sturdyrefs::parse_sturdy_ref(admin_text);  // parsed already by open()
    std::string vat = ref ? ref.value().vat.to_text() : "";
    print_json(boost::json::object{{"view", json_text(view)}, {"vat_id", json_text(vat)}, {"data", to_json_value(v)}});
  } else {
    fmt::print("{}", render_view(view, v));
  }
  return kOk;
}

}  // namespace vatic::cli
