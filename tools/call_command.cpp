// `vatic call REF METHOD [ARGS...]`: sends any method, by name, to the object
// a sturdy ref names, with arguments given as JSON, and prints the answer as
// JSON (tools/value_json.h has the convention both ways) — grpcurl for vatic.
// The object decides what the call means: the token's caveats and the
// object's own checks apply exactly as for any other client.
#include <fmt/format.h>

#include "tools/client.h"
#include "tools/commands.h"
#include "tools/value_json.h"
#include "vat/json.h"
#include "vat/ref.h"

namespace vatic::cli {

int cmd_call(const CallArgs& a) {
  if (a.method.empty()) throw CliError(kUsage, "METHOD is empty");
  std::vector<Value> args;
  for (std::size_t i = 0; i < a.args.size(); ++i) {
    auto v = parse_value_json(a.args[i]);
    if (!v) {
      // The usual slip: a bare word for a string.
      std::string hint =
          v.error().starts_with("not JSON") ? fmt::format(" (a string is quoted: '\"{}\"')", a.args[i]) : "";
      throw CliError(kUsage, fmt::format("argument {} ({:?}): {}{}", i + 1, a.args[i], v.error(), hint));
    }
    args.push_back(std::move(*v));
  }
  std::string ref_text = read_ref_arg(a.ref);
  Client client(a.common);
  Ref<Object> target = client.open<Object>(ref_text);
  Value answer = client.wait(target.send_values(a.method, std::move(args)));
  if (a.common.json)
    print_json(boost::json::object{{"ok", true}, {"result", to_json_value(answer)}});
  else
    print_json(to_json_value(answer));
  return kOk;
}

}  // namespace vatic::cli
