// cli_test_lossy_admin STORE LISTEN: a serving vat on STORE whose only
// sturdy object is an Admin that commits a revoke to the store and then dies
// (SIGKILL, so nothing more is sent) before it answers. It prints that admin's
// sturdy ref, then serves until killed. For cli_revoke_lost_answer_test.cpp:
// the one way to lose an answer after the commit, deterministically, with
// real processes.
#include <csignal>
#include <cstdio>
#include <string>

#include "captp/node.h"
#include "sturdyrefs/admin.h"
#include "sturdyrefs/host.h"
#include "sturdyrefs/store.h"
#include "sturdyrefs/uri.h"
#include "vat/vat.h"

namespace {

using namespace vatic;

class LossyAdmin final : public sturdyrefs::Admin {
 public:
  explicit LossyAdmin(sturdyrefs::Host& host) : host_(host) {}
  std::string revoke(std::string sturdy_ref) override {
    auto ref = sturdyrefs::parse_sturdy_ref(sturdy_ref);
    if (!ref) throw_error(ErrorKind::failed, "refused: not a sturdy ref");
    host_.revoke(ref.value().token);  // committed to the store here
    std::raise(SIGKILL);              // ... and the answer is never sent
    return "unreachable";
  }
  std::vector<sturdyrefs::ObjectInfo> objects() override { return {}; }
  Value stats() override { return Value(List{}); }
  Value tree() override { return Value(List{}); }
  Value crashes() override { return Value(List{}); }
  Value recorder() override { return Value(List{}); }
  Value sessions() override { return Value(List{}); }
  Value persist() override { return Value(List{}); }

 private:
  sturdyrefs::Host& host_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: cli_test_lossy_admin STORE LISTEN\n");
    return 2;
  }
  auto store = sturdyrefs::Store::open(argv[1]);
  Vat vat;
  captp::Node node(vat, store->identity());
  sturdyrefs::Host host(vat, *store, sturdyrefs::HostOptions{});
  host.add_kind(
      "test.lossy-admin",
      sturdyrefs::Kind{[&](const sturdyrefs::StoredObject&) -> Ref<Object> { return vat.make<LossyAdmin>(host); }, {}});
  host.set_hints({node.listen(argv[2]).to_string()});
  host.serve_on(node);
  std::printf("%s\n", host.sturdy_ref(host.token_for("lossy-admin", "test.lossy-admin", "")).c_str());
  std::fflush(stdout);
  vat.run();
}
