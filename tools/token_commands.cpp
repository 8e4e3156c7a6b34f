// The commands about identities and tokens: id, attenuate (offline) and revoke.
#include <charconv>

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include "caps/caveat.h"
#include "captp/identity.h"
#include "sturdyrefs/admin.h"
#include "sturdyrefs/store.h"
#include "sturdyrefs/uri.h"
#include "tools/client.h"
#include "tools/commands.h"
#include "vat/json.h"

namespace vatic::cli {
namespace {

caps::Bytes usage_checked(Result<caps::Bytes> r, const char* flag) {
  if (!r) throw CliError(kUsage, fmt::format("{}: {}", flag, r.error()));
  return std::move(r).value();
}

std::string vat_text(const caps::VatKey& k) {
  auto id = captp::VatId::parse_bytes(k);
  return id ? id->to_text() : "(not a vat id)";
}

}  // namespace

int cmd_id(const Common& c, bool init) {
  auto dir = store_dir(c.store);
  auto store = sturdyrefs::Store::open(dir, init ? sturdyrefs::Create::explicitly : sturdyrefs::Create::if_empty);
  std::string id = store->identity().id().to_text();
  if (c.json)
    print_json(boost::json::object{{"vat_id", json_text(id)}, {"store", json_text(dir.string())}});
  else
    fmt::print("{}\n", id);
  return kOk;
}

int cmd_attenuate(const AttenuateArgs& a) {
  auto ref = sturdyrefs::parse_sturdy_ref(read_ref_arg(a.token));
  if (!ref) throw CliError(kRefused, fmt::format("refused: not a valid sturdy ref: {}", ref.error()));
  std::vector<caps::Bytes> add;
  // The order is fixed (paths first, as each narrows the one before), so the
  // same flags always give the same token.
  for (const auto& p : a.paths) add.push_back(usage_checked(caps::caveat_path(p), "--path"));
  if (a.ops) {
    auto ops = caps::parse_fs_ops(*a.ops);
    if (!ops) throw CliError(kUsage, fmt::format("--ops: {}", ops.error()));
    add.push_back(caps::caveat_ops(*ops));
  }
  if (a.max_bytes) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(a.max_bytes->data(), a.max_bytes->data() + a.max_bytes->size(), n);
    if (a.max_bytes->empty() || ec != std::errc() || end != a.max_bytes->data() + a.max_bytes->size())
      throw CliError(kUsage, fmt::format("--max-bytes: {:?} is not a number of bytes", *a.max_bytes));
    add.push_back(caps::caveat_max_bytes(n));
  }
  if (a.methods) {
    // "--methods ''" is the empty list: no method at all may be called.
    std::vector<std::string> names;
    std::size_t start = 0;
    while (!a.methods->empty() && start <= a.methods->size()) {
      std::size_t end = a.methods->find(',', start);
      if (end == std::string::npos) end = a.methods->size();
      names.push_back(a.methods->substr(start, end - start));
      start = end + 1;
    }
    add.push_back(usage_checked(caps::caveat_methods(std::move(names)), "--methods"));
  }
  std::int64_t now = unix_now();
  for (auto [text, flag, expiry] :
       {std::tuple{&a.not_before, "--not-before", false}, std::tuple{&a.expires, "--expires", true}}) {
    if (!*text) continue;
    std::string why;
    auto when = parse_when(**text, now, &why);
    if (!when) throw CliError(kUsage, fmt::format("{}: {}", flag, why));
    add.push_back(expiry ? caps::caveat_expires(*when) : caps::caveat_not_before(*when));
  }
  for (const auto& h : a.holders) {
    auto id = captp::VatId::parse(h);
    if (!id) throw CliError(kUsage, fmt::format("--for: {}", id.error()));
    add.push_back(caps::caveat_holder(id->bytes()));
  }

  sturdyrefs::SturdyRef out = ref.value();
  for (const auto& c : add) {
    auto t = caps::attenuate(out.token, c);
    if (!t) throw CliError(kUsage, fmt::format("cannot add the caveat: {}", t.error()));
    out.token = std::move(t).value();
  }
  std::string text = sturdyrefs::format_sturdy_ref(out);
  if (a.common.json) {
    auto all = caps::parse_caveats(out.token.caveats);
    // caps writes its own JSON text; read back, it goes through the one writer.
    boost::json::value caveats = nullptr;
    boost::system::error_code ec;
    if (all) caveats = boost::json::parse(caps::describe_json(all.value(), vat_text), ec);
    if (ec) caveats = nullptr;
    print_json(boost::json::object{{"sturdy_ref", json_text(text)}, {"caveats", std::move(caveats)}});
  } else {
    fmt::print("{}\n", text);
  }
  return kOk;
}

int cmd_revoke(const Common& c, const std::string& admin_ref, const std::string& token) {
  std::string admin_text = read_ref_arg(admin_ref);
  std::string target = read_ref_arg(token);
  Client client(c);
  auto admin = client.open<sturdyrefs::Admin>(admin_text);
  std::string what;
  try {
    what = client.vat().wait(admin.send<&sturdyrefs::Admin::revoke>(target));
  } catch (const VatError& e) {
    // The request may have reached the vat and been committed before the
    // connection dropped: we cannot tell, and the vat's revoke is idempotent
    // (spec/admin.md), so say both.
    if (e.error().kind == ErrorKind::disconnected)
      throw CliError(kUnreachable, fmt::format("the connection was lost before the vat answered ({}); the revoke may "
                                               "have happened: run it again, a retry is safe",
                                               e.error().reason));
    throw CliError(exit_code_for(e.error()), e.error().reason);
  }
  if (c.json)
    print_json(boost::json::object{{"ok", true}, {"revoked", json_text(what)}});
  else if (what == "already")
    fmt::print("already revoked (nothing changed)\n");
  else
    fmt::print("revoked the {}\n", what == "object" ? "object and every token for it" : "token and its descendants");
  return kOk;
}

}  // namespace vatic::cli
