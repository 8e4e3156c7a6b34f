#include "caps/forwarder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "caps/facet.h"
#include "tests/vat/test_objects.h"

// Revocable forwarders, and (sharing their setup) facets: caps/facet.h.

namespace vatic {
namespace {

using test::Counter;
using test::in;
using test::Node;
using test::Recorder;

Error errorf(const std::string& reason) { return Error{ErrorKind::failed, reason}; }

// --- Revocable forwarder.

TEST(Forwarder, PassesTypedAndNamedSendsToANearTarget) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [r, revoker] = caps::revocable(c);
  auto a = r.send<&Counter::inc>(5);
  auto b = r.send("inc", 2);
  EXPECT_EQ(test::pumped({&vat}, a), 5);
  EXPECT_EQ(test::pumped({&vat}, b).as_int(), 7);
  EXPECT_FALSE(revoker.revoked());
}

TEST(Forwarder, IsNeitherNearNorEqualToItsTarget) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [r, revoker] = caps::revocable(c);
  EXPECT_FALSE(r.is_near());
  EXPECT_EQ(r.kind(), RefKind::far);
  EXPECT_FALSE(r == c);
  Error e = test::thrown([&] { r.call<&Counter::get>(); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  revoker.revoke("gone");
  EXPECT_EQ(r.kind(), RefKind::broken);
}

TEST(Forwarder, RevokeBreaksLaterSendsWithTheReason) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [r, revoker] = caps::revocable(c);
  EXPECT_EQ(test::pumped({&vat}, r.send<&Counter::inc>(1)), 1);
  revoker.revoke("lease ended");
  EXPECT_TRUE(revoker.revoked());
  EXPECT_EQ(test::pumped_error({&vat}, r.send<&Counter::inc>(1)), errorf("revoked: lease ended"));
  EXPECT_EQ(test::pumped_error({&vat}, r.send("get")), errorf("revoked: lease ended"));
  EXPECT_EQ(c.call<&Counter::get>(), 1);
}

TEST(Forwarder, RevokeBreaksMessagesSentButNotYetDelivered) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [r, revoker] = caps::revocable(c);
  std::vector<Promise<std::int64_t>> sent;
  for (int i = 0; i < 3; ++i) sent.push_back(r.send<&Counter::inc>(1));
  revoker.revoke("now");
  for (auto& p : sent) EXPECT_EQ(test::pumped_error({&vat}, p), errorf("revoked: now"));
  EXPECT_EQ(c.call<&Counter::get>(), 0);
}

TEST(Forwarder, RevokeBreaksMessagesHeldForAPendingPromise) {
  Vat vat;
  auto [p, resolver] = test::run_in(vat, [] {
    auto pr = make_promise<Ref<Counter>>();
    return std::make_pair(pr.first, std::move(pr.second));
  });
  auto c = vat.make<Counter>();
  auto [r, revoker] = caps::revocable(detail::RefAccess::make<Counter>(p.state()));
  EXPECT_EQ(r.kind(), RefKind::promise);
  auto a = r.send<&Counter::inc>(1);
  vat.run_until_idle();
  EXPECT_TRUE(a.pending());
  revoker.revoke("before it resolved");
  resolver.resolve(c);
  EXPECT_EQ(test::pumped_error({&vat}, a), errorf("revoked: before it resolved"));
  EXPECT_EQ(c.call<&Counter::get>(), 0);
}

TEST(Forwarder, MessagesToAPendingPromiseGoOnInOrderOnceItResolves) {
  Vat vat;
  auto [p, resolver] = test::run_in(vat, [] {
    auto pr = make_promise<Ref<Recorder>>();
    return std::make_pair(pr.first, std::move(pr.second));
  });
  auto rec = vat.make<Recorder>();
  auto [r, revoker] = caps::revocable(detail::RefAccess::make<Recorder>(p.state()));
  for (int i = 0; i < 5; ++i) r.send<&Recorder::record>(1, 0, i);
  vat.run_until_idle();
  resolver.resolve(rec);
  for (int i = 5; i < 10; ++i) r.send<&Recorder::record>(1, 0, i);
  test::pump({&vat});
  const auto& log = rec.call<&Recorder::log>();
  ASSERT_EQ(log.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(log[i].seq, i);
}

TEST(Forwarder, KeepsEOrderOverManySends) {
  Vat vat;
  auto rec = vat.make<Recorder>();
  auto [r, revoker] = caps::revocable(rec);
  for (int i = 0; i < 200; ++i) {
    r.send<&Recorder::record>(1, 0, i);
    if (i % 17 == 0) vat.run_until_idle();
  }
  test::pump({&vat});
  const auto& log = rec.call<&Recorder::log>();
  ASSERT_EQ(log.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(log[i].seq, i);
}

TEST(Forwarder, RevokeLetsTheTargetBeFreed) {
  Vat vat;
  auto [r, revoker] = caps::revocable(vat.make<Counter>());  // the forwarder holds the only reference
  EXPECT_EQ(test::pumped({&vat}, r.send<&Counter::inc>(3)), 3);
  EXPECT_EQ(vat.live_objects(), 1u);  // kept by the forwarder
  revoker.revoke("free it");
  test::pump({&vat});
  EXPECT_EQ(vat.live_objects(), 0u);
  EXPECT_EQ(test::pumped_error({&vat}, r.send<&Counter::get>()), errorf("revoked: free it"));
}

TEST(Forwarder, AForwardedPromiseResolvesToAForwarderCutByTheSameRevoker) {
  Vat vat;
  auto root = vat.make<Node>(0);
  auto [r, revoker] = caps::revocable(detail::RefAccess::make<Node>(root.send<&Node::next>().state()));
  // Decoding the forwarder as a promise asks it for its outcome.
  Ref<Node> resolved = test::run_in(vat, [&] { return from_value<Promise<Ref<Node>>>(to_value(r)); });
  EXPECT_FALSE(resolved.is_near());
  EXPECT_EQ(test::pumped({&vat}, resolved.send<&Node::depth>()), 1);
  revoker.revoke("cut");
  EXPECT_EQ(test::pumped_error({&vat}, resolved.send<&Node::depth>()), errorf("revoked: cut"));
}

TEST(Forwarder, WorksInFrontOfAFarReferenceAndForSendersInAnotherVat) {
  VatGroup g(3);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  // The forwarder lives in vat 1, in front of a far reference into vat 0;
  // vat 2 reaches it through a far reference of its own.
  auto made = in(g[1], [&] {
    auto [r, rv] = caps::revocable(c.take());
    return std::make_pair(portable(r), rv);
  });
  const Portable<Counter>& fwd = made.first;
  EXPECT_EQ(g[2].submit([&] { return fwd.take().send<&Counter::inc>(4); }).get(), 4);
  EXPECT_EQ(g[1].submit([&] { return fwd.take().send<&Counter::inc>(1); }).get(), 5);
  in(g[1], [&] { made.second.revoke("far away"); });
  Error e = test::future_error(g[2], g[2].submit([&] { return fwd.take().send<&Counter::inc>(1); }));
  EXPECT_EQ(e, errorf("revoked: far away"));
  EXPECT_EQ(g[0].submit([&] { return c.take().send<&Counter::get>(); }).get(), 5);
}

TEST(Forwarder, RefusesAnEmptyReference) {
  Vat vat;
  Error e = test::thrown([] { caps::revocable(Ref<Counter>()); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
}

// --- Facets.

TEST(Facet, PassesListedMethodsAndRefusesOthers) {
  Vat vat;
  auto c = vat.make<Counter>(10);
  auto ro = caps::facet(c, {"get", "describe"});
  EXPECT_EQ(test::pumped({&vat}, ro.send<&Counter::get>()), 10);
  EXPECT_EQ(test::pumped({&vat}, ro.send("describe", "n=")).as_text(), "n=10");
  EXPECT_EQ(test::pumped_error({&vat}, ro.send<&Counter::inc>(1)),
            errorf("refused: method inc is not allowed by this capability"));
  EXPECT_EQ(test::pumped_error({&vat}, ro.send("reset")),
            errorf("refused: method reset is not allowed by this capability"));
  EXPECT_EQ(c.call<&Counter::get>(), 10);
  EXPECT_FALSE(ro.is_near());
  EXPECT_FALSE(ro == c);
}

TEST(Facet, RefusesATypedSendOfAMethodItCannotName) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto f = caps::facet(c, {"get"});
  Error e = test::pumped_error({&vat}, f.send<&Counter::secret>());
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason.rfind("refused: ", 0), 0u) << e.reason;
}

TEST(Facet, IsNotTransitive) {
  Vat vat;
  auto root = vat.make<Node>(0);
  auto f = caps::facet(root, {"next"});
  EXPECT_EQ(test::pumped_error({&vat}, f.send<&Node::depth>()).reason,
            "refused: method depth is not allowed by this capability");
  // What comes back is the target's own reference, unrestricted.
  EXPECT_EQ(test::pumped({&vat}, f.send<&Node::next>().send<&Node::depth>()), 1);
}

TEST(Facet, AFacetedPromiseResolvesToAFacetOfTheResolution) {
  Vat vat;
  auto root = vat.make<Node>(0);
  auto f = caps::facet(detail::RefAccess::make<Node>(root.send<&Node::next>().state()), {"next"});
  Ref<Node> resolved = test::run_in(vat, [&] { return from_value<Promise<Ref<Node>>>(to_value(f)); });
  EXPECT_EQ(test::pumped_error({&vat}, resolved.send<&Node::depth>()).reason,
            "refused: method depth is not allowed by this capability");
  EXPECT_EQ(test::pumped({&vat}, resolved.send<&Node::next>().send<&Node::depth>()), 2);
}

TEST(Facet, WorksInFrontOfAFarReference) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>(3)); });
  EXPECT_EQ(g[1].submit([&] { return caps::facet(c.take(), {"get"}).send<&Counter::get>(); }).get(), 3);
  Error e =
      test::future_error(g[1], g[1].submit([&] { return caps::facet(c.take(), {"get"}).send<&Counter::inc>(1); }));
  EXPECT_EQ(e, errorf("refused: method inc is not allowed by this capability"));
}

TEST(Facet, ComposesWithARevocableForwarder) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [r, revoker] = caps::revocable(c);
  auto f = caps::facet(r, {"inc"});
  EXPECT_EQ(test::pumped({&vat}, f.send<&Counter::inc>(2)), 2);
  revoker.revoke("done");
  EXPECT_EQ(test::pumped_error({&vat}, f.send<&Counter::inc>(2)), errorf("revoked: done"));
  EXPECT_EQ(test::pumped_error({&vat}, f.send<&Counter::get>()).reason,
            "refused: method get is not allowed by this capability");
}

}  // namespace
}  // namespace vatic
