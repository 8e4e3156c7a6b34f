#include "sturdyrefs/host.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "caps/fs/directory.h"
#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "sturdyrefs/admin.h"
#include "sturdyrefs/enliven.h"
#include "sturdyrefs/fs_kind.h"
#include "tests/caps/fs_test_util.h"

// A serving vat (store, Host, fs kind, node) and a client vat with its own
// node, joined by an in-memory pipe and driven on the test thread:
//
//   client vat --(CapTP over Noise, memory pipe)--> server vat: Redeemer -> Host
namespace vatic::sturdyrefs {
namespace {

using caps::Directory;
using caps::test::TempTree;

class HostTest : public ::testing::Test {
 protected:
  HostTest() { start_server(); }
  ~HostTest() override { stop_server(); }

  // A fresh vat each time, as a restarted process would have.
  void start_server() {
    vs_ = std::make_unique<Vat>(VatOptions{.name = "server", .spin_before_block = Duration::zero()});
    store = Store::open(store_dir.path("store"));
    io = std::make_unique<caps::FileIo>(*vs_);
    host = std::make_unique<Host>(*vs_, *store, HostOptions{{"unix:/nowhere"}, [this] { return now; }, skew});
    host->add_kind(kFsDirKind, fs_dir_kind(*vs_, *io));
    server = std::make_unique<captp::Node>(*vs_, store->identity());
    host->serve_on(*server);
    root = host->token_for("root", kFsDirKind, fs_dir_params(data.root(), false));
  }
  void stop_server() {
    client.reset();
    server.reset();
    drain();
    host.reset();
    vs_->release();
    io.reset();
    store.reset();
    vs_.reset();
  }

  void drain() {
    for (int i = 0; i < 100; ++i) {
      if (vs_->run_until_idle() + vc.run_until_idle() == 0) break;
    }
  }
  template <class T>
  bool settle(const Promise<T>& p) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (p.pending() && std::chrono::steady_clock::now() < end) {
      vs_->run_until_idle();
      vc.run_until_idle();
    }
    return !p.pending();
  }
  template <class T>
  T get(Promise<T> p) {
    EXPECT_TRUE(settle(p)) << "promise did not settle";
    if (p.is_broken()) throw VatError(p.error());
    if constexpr (!std::is_void_v<T>) return p.value();
  }
  template <class T>
  std::string refusal(Promise<T> p) {
    EXPECT_TRUE(settle(p)) << "promise did not settle";
    EXPECT_TRUE(p.is_broken()) << "expected a refusal";
    return p.is_broken() ? p.error().reason : "";
  }

  // Redeems over CapTP from a client vat with identity `who`.
  Promise<Ref<Object>> redeem(const caps::Token& t) {
    if (!client) {
      client = std::make_unique<captp::Node>(vc, captp::Identity::generate());
      auto [a, b] = captp::memory_pipe(vc.io(), vs_->io());
      server->accept(std::move(b));
      boot = client->connect<Redeemer>(server->id(), std::move(a));
    }
    return boot.send<&Redeemer::redeem>(caps::encode_token(t));
  }
  Ref<Directory> dir(const caps::Token& t) {
    return detail::ref_from_handler<Directory>(detail::RefAccess::handler(get(redeem(t))));
  }
  caps::Token narrowed(caps::Token t, const caps::Bytes& caveat) { return caps::attenuate(t, caveat).value(); }
  std::vector<std::string> names(const Ref<Directory>& d, const std::string& path = "") {
    std::vector<std::string> out;
    for (const auto& e : get(d.send<&Directory::list>(path))) out.push_back(e.name);
    return out;
  }

  TempTree data, store_dir;
  std::int64_t now = 1'800'000'000;
  std::int64_t skew = 0;  // exact windows unless a test restarts with another
  std::unique_ptr<Vat> vs_;
  Vat vc{VatOptions{.name = "client", .spin_before_block = Duration::zero()}};
  std::unique_ptr<Store> store;
  std::unique_ptr<caps::FileIo> io;
  std::unique_ptr<Host> host;
  std::unique_ptr<captp::Node> server, client;
  Ref<Redeemer> boot;
  caps::Token root;
};

TEST_F(HostTest, APlainSturdyRefRedeemsToTheDirectory) {
  data.write("a.txt", "hello");
  data.mkdir("sub");
  EXPECT_EQ(names(dir(root)), (std::vector<std::string>{"a.txt", "sub"}));
}

TEST_F(HostTest, TheSameTokenWorksAfterARestartOnTheSameStore) {
  data.write("a.txt", "hello");
  caps::Token before = root;
  caps::Token ro = narrowed(root, caps::caveat_ops(caps::kReadOnlyFsOps));
  stop_server();
  start_server();
  EXPECT_EQ(root, before);
  EXPECT_EQ(names(dir(ro)), (std::vector<std::string>{"a.txt"}));
}

TEST_F(HostTest, UnknownRevokedAndForgedTokensGiveOneReason) {
  caps::Token forged = root;
  forged.tag[0] ^= 1;
  EXPECT_EQ(refusal(redeem(forged)), "refused: invalid token");

  caps::Token unknown = root;
  unknown.object[0] ^= 1;
  EXPECT_EQ(refusal(redeem(unknown)), "refused: invalid token");

  caps::Token other = host->token_for("other", kFsDirKind, fs_dir_params(data.root(), true));
  host->revoke(other);
  EXPECT_EQ(refusal(redeem(other)), "refused: invalid token");
}

TEST_F(HostTest, ATokenForAnotherVatIsRefused) {
  caps::Token t = root;
  t.vat = captp::Identity::generate().id().bytes();
  EXPECT_EQ(refusal(redeem(t)), "refused: token is for another vat");
}

TEST_F(HostTest, MalformedBytesAreRefused) {
  get(redeem(root));  // connects
  EXPECT_EQ(refusal(boot.send<&Redeemer::redeem>(Bytes{1, 2, 3})), "refused: malformed token");
}

TEST_F(HostTest, AHolderCaveatIsCheckedAgainstTheAuthenticatedPeer) {
  get(redeem(root));  // connects, so the client's id is known
  caps::Token mine = narrowed(root, caps::caveat_holder(client->id().bytes()));
  EXPECT_NO_THROW(names(dir(mine)));
  caps::Token theirs = narrowed(root, caps::caveat_holder(captp::Identity::generate().id().bytes()));
  EXPECT_EQ(refusal(redeem(theirs)), "refused: token is bound to another holder");
  // In-process redeem has no authenticated peer: a holder caveat fails.
  EXPECT_THROW(host->redeem(caps::encode_token(mine), std::nullopt), VatError);
}

TEST_F(HostTest, AnExpiryThatPassesCutsOffALiveReferenceAndWhatCameThroughIt) {
  data.mkdir("sub");
  caps::Token t = narrowed(root, caps::caveat_expires(now + 60));
  Ref<Directory> d = dir(t);
  Ref<Directory> sub = get(d.send<&Directory::sub>("sub"));
  EXPECT_NO_THROW(names(d));
  now += 61;
  EXPECT_EQ(refusal(d.send<&Directory::list>("")), "refused: token expired");
  EXPECT_EQ(refusal(sub.send<&Directory::list>("")), "refused: token expired");
  EXPECT_EQ(refusal(redeem(t)), "refused: token expired");
}

TEST_F(HostTest, NotBeforeHoldsATokenBack) {
  caps::Token t = narrowed(root, caps::caveat_not_before(now + 60));
  EXPECT_EQ(refusal(redeem(t)), "refused: token not yet valid");
  now += 60;
  EXPECT_NO_THROW(names(dir(t)));
}

// token.md, Clock skew: accepted while now < expires + skew and
// now + skew >= not_before, at the redeem and on every later call.
TEST_F(HostTest, ClockSkewWidensTheTimeWindowByExactlyTheSkewOnEachSide) {
  skew = 60;
  stop_server();
  start_server();
  const std::int64_t t0 = now;
  caps::Token expiring = narrowed(root, caps::caveat_expires(t0 + 10));
  now = t0 + 10 + 59;  // past the expiry, within the skew
  Ref<Directory> live = dir(expiring);
  EXPECT_NO_THROW(names(live));
  now = t0 + 10 + 60;  // expires + skew: gone, for the live reference and a new redeem
  EXPECT_EQ(refusal(live.send<&Directory::list>("")), "refused: token expired");
  EXPECT_EQ(refusal(redeem(expiring)), "refused: token expired");

  caps::Token later = narrowed(root, caps::caveat_not_before(t0 + 100));
  now = t0 + 100 - 61;  // now + skew is one second short of not_before
  EXPECT_EQ(refusal(redeem(later)), "refused: token not yet valid");
  now = t0 + 100 - 60;  // now + skew == not_before
  EXPECT_NO_THROW(names(dir(later)));
}

TEST_F(HostTest, RevokingABranchCutsItsLiveReferencesAndDescendantsButNotSiblings) {
  caps::Token branch = narrowed(root, caps::caveat_ops(caps::kReadOnlyFsOps));
  caps::Token child = narrowed(branch, caps::caveat_max_bytes(10));
  caps::Token sibling = narrowed(root, caps::caveat_max_bytes(20));
  Ref<Directory> live = dir(child);
  Ref<Directory> live_sibling = dir(sibling);
  EXPECT_EQ(host->revoke(branch), "branch");
  EXPECT_EQ(refusal(live.send<&Directory::list>("")), "refused: invalid token");
  EXPECT_EQ(refusal(redeem(branch)), "refused: invalid token");
  EXPECT_EQ(refusal(redeem(child)), "refused: invalid token");
  EXPECT_NO_THROW(names(live_sibling));
  EXPECT_NO_THROW(names(dir(root)));
}

TEST_F(HostTest, RevokingTheObjectCutsEveryToken) {
  Ref<Directory> live = dir(narrowed(root, caps::caveat_max_bytes(5)));
  EXPECT_EQ(host->revoke(root), "object");
  EXPECT_EQ(refusal(live.send<&Directory::list>("")), "refused: invalid token");
  EXPECT_EQ(refusal(redeem(root)), "refused: invalid token");
}

// spec/admin.md: a revoke repeated (its first answer lost) changes nothing
// and says so; a forged token is still refused, not "already".
TEST_F(HostTest, RevokingAgainAnswersAlreadyAndChangesNothing) {
  caps::Token branch = narrowed(root, caps::caveat_ops(caps::kReadOnlyFsOps));
  caps::Token child = narrowed(branch, caps::caveat_max_bytes(10));
  caps::Token sibling = narrowed(root, caps::caveat_max_bytes(20));
  EXPECT_EQ(host->revoke(branch), "branch");
  EXPECT_EQ(host->revoke(branch), "already");
  EXPECT_EQ(host->revoke(child), "already");  // dead through its ancestor
  EXPECT_NO_THROW(names(dir(sibling)));
  caps::Token forged = branch;
  forged.tag[0] ^= 1;
  EXPECT_THROW(host->revoke(forged), VatError);

  EXPECT_EQ(host->revoke(root), "object");
  EXPECT_EQ(host->revoke(root), "already");
  EXPECT_EQ(host->revoke(sibling), "already");  // dead through its object
  const caps::Token old_root = root;
  stop_server();
  start_server();  // what is recorded survives a restart (and a new root is minted)
  EXPECT_EQ(host->revoke(old_root), "already");
}

TEST_F(HostTest, AMethodsCaveatFiltersTheRoot) {
  caps::Token t = narrowed(root, caps::caveat_methods({"list"}).value());
  Ref<Directory> d = dir(t);
  EXPECT_NO_THROW(names(d));
  EXPECT_EQ(refusal(d.send<&Directory::mkdir>("x")), "refused: method not allowed by token");
}

TEST_F(HostTest, FilesystemCaveatsNarrowTheDirectory) {
  data.mkdir("pub");
  data.mkdir("pub/deep");
  data.write("pub/deep/f.txt", "x");
  data.write("secret.txt", "s");
  caps::Token t = narrowed(narrowed(root, caps::caveat_path("pub").value()), caps::caveat_path("deep").value());
  t = narrowed(t, caps::caveat_ops(caps::kReadOnlyFsOps));
  Ref<Directory> d = dir(t);
  EXPECT_EQ(names(d), (std::vector<std::string>{"f.txt"}));
  EXPECT_EQ(refusal(d.send<&Directory::mkdir>("x")), "refused: create is not allowed by this capability");
  EXPECT_EQ(refusal(d.send<&Directory::list>("..")).rfind("refused:", 0), 0u);
}

TEST_F(HostTest, APathCaveatToNothingIsRefused) {
  caps::Token t = narrowed(root, caps::caveat_path("missing").value());
  EXPECT_EQ(refusal(redeem(t)), "refused: path not found");
}

TEST_F(HostTest, FilesystemCaveatsOnTheAdminObjectFailClosed) {
  caps::Token admin = host->admin_token();
  caps::Token t = narrowed(admin, caps::caveat_ops(caps::kReadOnlyFsOps));
  EXPECT_EQ(refusal(redeem(t)), "refused: caveat does not apply to this object");
}

// The reason a redeem fails with goes to the token's holder: when the served
// directory is gone, it must not tell the holder where it was on the host.
TEST_F(HostTest, AServedDirectoryThatIsGoneDoesNotRevealItsHostPath) {
  const std::string moved = data.root() + "-moved";
  ASSERT_EQ(::rename(data.root().c_str(), moved.c_str()), 0);
  std::string why = refusal(redeem(root));
  ASSERT_EQ(::rename(moved.c_str(), data.root().c_str()), 0);  // for TempTree's cleanup
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(why.find(data.root()), std::string::npos) << why;
  EXPECT_EQ(why.find("vatic-fs-"), std::string::npos) << why;
  // Back in place, the same token redeems.
  EXPECT_TRUE(names(dir(root)).empty());
}

TEST_F(HostTest, TheAdminObjectRevokesBySturdyRef) {
  Ref<Admin> admin = detail::ref_from_handler<Admin>(detail::RefAccess::handler(get(redeem(host->admin_token()))));
  caps::Token t = narrowed(root, caps::caveat_max_bytes(1));
  EXPECT_EQ(get(admin.send<&Admin::revoke>(host->sturdy_ref(t))), "branch");
  EXPECT_EQ(refusal(redeem(t)), "refused: invalid token");
  EXPECT_EQ(refusal(admin.send<&Admin::revoke>(std::string("vatic://nonsense"))).rfind("refused:", 0), 0u);
  EXPECT_GE(get(admin.send<&Admin::objects>()).size(), 2u);
}

}  // namespace
}  // namespace vatic::sturdyrefs

namespace vatic::sturdyrefs {
namespace {

TEST_F(HostTest, EnlivenTriesTheHintsInOrderAndPipelines) {
  data.write("a.txt", "hello");
  std::string live = server->listen("unix:" + store_dir.path("vat.sock")).to_string();
  // The first hint has nobody listening; the second is the vat.
  host->set_hints({"unix:" + store_dir.path("dead.sock"), live});
  auto ref = parse_sturdy_ref(host->sturdy_ref(root));
  ASSERT_TRUE(ref) << ref.error();
  captp::Node node(vc, captp::Identity::generate());
  Ref<Directory> d = enliven_as<Directory>(node, ref.value());
  // Sent before the redeem is answered: it waits in the promise, then goes.
  auto listing = d.send<&Directory::list>("");
  EXPECT_EQ(get(listing).size(), 1u);
  node.close();
  drain();
}

TEST_F(HostTest, EnlivenReportsAVatThatDoesNotHoldTheKey) {
  std::string live = server->listen("unix:" + store_dir.path("vat.sock")).to_string();
  caps::Token t = root;
  captp::VatId impostor = captp::Identity::generate().id();
  t.vat = impostor.bytes();
  SturdyRef ref{impostor, {live}, t};
  captp::Node node(vc, captp::Identity::generate());
  auto p = enliven(node, ref);
  ASSERT_TRUE(settle(p));
  ASSERT_TRUE(p.is_broken());
  EXPECT_EQ(p.error().kind, ErrorKind::disconnected) << p.error().reason;
  node.close();
  drain();
}

}  // namespace
}  // namespace vatic::sturdyrefs

namespace vatic::sturdyrefs {
namespace {

// The node goes away while the first hint is still being tried: the retry
// must not touch it (ASan would see it), and the promise breaks.
TEST_F(HostTest, EnlivenOutlivedByItsAnswerDoesNotTouchAGoneNode) {
  std::string live = server->listen("unix:" + store_dir.path("vat.sock")).to_string();
  host->set_hints({"unix:" + store_dir.path("dead.sock"), live});
  auto ref = parse_sturdy_ref(host->sturdy_ref(root));
  ASSERT_TRUE(ref) << ref.error();
  auto node = std::make_unique<captp::Node>(vc, captp::Identity::generate());
  auto p = enliven(*node, ref.value());
  node.reset();
  ASSERT_TRUE(settle(p));
  EXPECT_TRUE(p.is_broken());
  drain();
}

}  // namespace
}  // namespace vatic::sturdyrefs

namespace vatic::sturdyrefs {
namespace {

// spec/sturdyref.md "Redeeming" and spec/fs.md "On the wire": what a peer
// written from the spec sends, by name with plain Values, and gets back.
TEST_F(HostTest, RedeemAndDirectoryByNameAsTheSpecSays) {
  data.write("a.txt", "hello");
  get(redeem(root));  // connects; `boot` is the Redeemer
  Value dir_v = get(boot.send("redeem", Value(caps::encode_token(root))));
  ASSERT_EQ(dir_v.type(), Value::Type::reference);
  Ref<Object> d = detail::ref_from_handler<Object>(dir_v.as_capability().handler);

  Value listed = get(d.send("list", Value(std::string(""))));
  ASSERT_EQ(listed.type(), Value::Type::list);
  ASSERT_EQ(listed.as_list().size(), 1u);
  const Record& e = listed.as_list()[0].as_record();
  EXPECT_EQ(e.label, "DirEntry");
  ASSERT_EQ(e.fields.size(), 4u);
  EXPECT_EQ(e.fields[0].first, "name");
  EXPECT_EQ(e.fields[0].second.as_text(), "a.txt");
  EXPECT_EQ(e.fields[1].first, "type");
  EXPECT_EQ(e.fields[1].second.as_text(), "file");
  EXPECT_EQ(e.fields[2].first, "size");
  EXPECT_EQ(e.fields[2].second.as_int(), 5);
  EXPECT_EQ(e.fields[3].first, "mtime");

  Value st = get(d.send("stat", Value(std::string("a.txt"))));
  EXPECT_EQ(st.as_record().label, "Stat");
  Value bytes = get(d.send("read", Value(std::string("a.txt")), Value(std::int64_t{1}), Value(std::int64_t{3})));
  EXPECT_EQ(bytes.as_bytes(), (Bytes{'e', 'l', 'l'}));
  EXPECT_TRUE(get(d.send("mkdir", Value(std::string("new")))).is_null()) << "void answers are null";
  EXPECT_EQ(get(d.send("ops")).type(), Value::Type::text);

  // The token as text, or no argument: failed, and the session goes on.
  Promise<Value> as_text = boot.send("redeem", Value(std::string("AdZa")));
  ASSERT_TRUE(settle(as_text));
  ASSERT_TRUE(as_text.is_broken());
  EXPECT_EQ(as_text.error().kind, ErrorKind::failed);
  Promise<Value> none = boot.send("redeem");
  ASSERT_TRUE(settle(none));
  ASSERT_TRUE(none.is_broken());
  EXPECT_EQ(none.error().kind, ErrorKind::failed);
  Promise<Value> other = boot.send("no_such_method");
  ASSERT_TRUE(settle(other));
  ASSERT_TRUE(other.is_broken());
  EXPECT_EQ(other.error().kind, ErrorKind::unimplemented);
  EXPECT_EQ(names(dir(root)), (std::vector<std::string>{"a.txt", "new"}));
}

// No clock function in HostOptions: expiry is checked on the vat's clock
// (Clock::unix_ms), so a vat on a ManualClock decides when a token expires.
TEST(HostClock, ExpiryIsCheckedOnTheVatClockWhenNoClockFunctionIsGiven) {
  ManualClock clock;
  caps::test::TempTree data, store_dir;
  auto v = std::make_unique<Vat>(VatOptions{.name = "server", .clock = &clock});
  auto store = Store::open(store_dir.path("store"), Create::if_empty, clock);
  auto io = std::make_unique<caps::FileIo>(*v);
  auto host = std::make_unique<Host>(*v, *store, HostOptions{.hints = {"unix:/nowhere"}, .clock_skew_seconds = 0});
  host->add_kind(kFsDirKind, fs_dir_kind(*v, *io));
  caps::Token root = host->token_for("root", kFsDirKind, fs_dir_params(data.root(), false));
  caps::Token t = caps::attenuate(root, caps::caveat_expires(clock.unix_seconds() + 60)).value();

  EXPECT_NO_THROW(host->redeem(caps::encode_token(t), std::nullopt));
  clock.advance(std::chrono::seconds(59));
  EXPECT_NO_THROW(host->redeem(caps::encode_token(t), std::nullopt));
  clock.advance(std::chrono::seconds(1));
  try {
    host->redeem(caps::encode_token(t), std::nullopt);
    ADD_FAILURE() << "an expired token redeemed";
  } catch (const VatError& e) {
    EXPECT_EQ(e.error().reason, "refused: token expired");
  }
  // The store stamps on the same clock.
  clock.set_unix_ms(2'000'000'000'000);
  EXPECT_EQ(store->add_object("k", "", "stamped").created, 2'000'000'000);
  host.reset();
  v->release();
}

}  // namespace
}  // namespace vatic::sturdyrefs
