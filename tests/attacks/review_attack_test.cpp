// Attacks from the security review of tokens, sturdy refs and the scoped
// filesystem that needed more than one module's tests: here, a revoked branch
// presented to a second host serving the same store (two `vatic serve`
// processes on one store, which SQLite allows and the store is built for).
//
//   holder --redeem(branch)--> Host B --(its own connection)--+
//   operator --revoke(branch)--> Host A --(another connection)-+--> one SQLite store
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "caps/caveat.h"
#include "caps/fs/file_io.h"
#include "sturdyrefs/fs_kind.h"
#include "sturdyrefs/host.h"
#include "sturdyrefs/store.h"
#include "tests/caps/fs_test_util.h"

namespace vatic::sturdyrefs {
namespace {

using caps::test::TempTree;

// One serving process: a vat, its FileIo, its own connection to the store and
// a Host with the fs kind. Redeems in process (no peer), as a session would.
struct Server {
  Server(const std::string& store_dir, const std::int64_t* now)
      : store(Store::open(store_dir)),
        io(std::make_unique<caps::FileIo>(vat)),
        host(std::make_unique<Host>(vat, *store, HostOptions{{}, [now] { return *now; }})) {
    host->add_kind(kFsDirKind, fs_dir_kind(vat, *io));
  }
  ~Server() {
    host.reset();
    vat.release();
    io.reset();
  }
  // "ok", or the reason the redeem was refused.
  std::string redeem(const caps::Token& t) {
    try {
      host->redeem(caps::encode_token(t), std::nullopt);
      return "ok";
    } catch (const VatError& e) {
      return e.error().reason;
    }
  }

  Vat vat{VatOptions{.name = "server", .spin_before_block = Duration::zero()}};
  std::unique_ptr<Store> store;
  std::unique_ptr<caps::FileIo> io;
  std::unique_ptr<Host> host;
};

TEST(SharedStoreAttack, ABranchRevokedThroughOneHostIsRefusedByAnotherOnTheSameStore) {
  TempTree data, dir;
  std::int64_t now = 1'800'000'000;
  const std::string store_dir = dir.path("store");
  Server a(store_dir, &now), b(store_dir, &now);
  caps::Token root = a.host->token_for("root", kFsDirKind, fs_dir_params(data.root(), false));
  caps::Token branch = caps::attenuate(root, caps::caveat_max_bytes(1000)).value();
  caps::Token below = caps::attenuate(branch, caps::caveat_ops(caps::kReadOnlyFsOps)).value();
  caps::Token sibling = caps::attenuate(root, caps::caveat_max_bytes(2000)).value();
  ASSERT_EQ(b.redeem(branch), "ok");

  EXPECT_EQ(a.host->revoke(branch), "branch");
  EXPECT_EQ(a.redeem(branch), "refused: invalid token");
  EXPECT_EQ(b.redeem(branch), "refused: invalid token");
  EXPECT_EQ(b.redeem(below), "refused: invalid token");
  EXPECT_EQ(b.redeem(sibling), "ok");
  EXPECT_EQ(b.redeem(root), "ok");
  // Revoking the object is seen by both as well (it is read on every redeem).
  EXPECT_EQ(a.host->revoke(root), "object");
  EXPECT_EQ(b.redeem(sibling), "refused: invalid token");
}

}  // namespace
}  // namespace vatic::sturdyrefs
