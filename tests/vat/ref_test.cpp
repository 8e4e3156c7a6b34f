#include "vat/ref.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/vat/test_objects.h"

namespace vatic {

// Outside the anonymous namespace (see object_test.cpp).
namespace ref_test {

class Animal : public Object {
 public:
  virtual std::string sound() const { return "..."; }
  VATIC_METHODS(Animal, sound)
};

class Dog : public Animal {
 public:
  std::string sound() const override { return "woof"; }
  VATIC_METHODS(Dog, sound)
};

}  // namespace ref_test

namespace {

using ref_test::Animal;
using ref_test::Dog;

using test::Counter;
using test::Node;
using test::Peer;
using test::pumped;
using test::pumped_error;
using test::run_in;

using test::thrown;

TEST(Ref, EmptyRefIsFalseAndEqualToOtherEmptyRefs) {
  Ref<Counter> a, b;
  EXPECT_FALSE(a);
  EXPECT_FALSE(a.is_near());
  EXPECT_EQ(a, b);
  Vat vat;
  auto c = vat.make<Counter>();
  EXPECT_NE(a, c);
  EXPECT_NE(c, a);
}

TEST(Ref, SendOrCallOnAnEmptyRefThrowsFailed) {
  Ref<Counter> empty;
  EXPECT_EQ(thrown([&] { (void)empty.send<&Counter::get>(); }),
            (Error{ErrorKind::failed, "send or call on an empty reference"}));
  EXPECT_EQ(thrown([&] { (void)empty.send("get"); }).kind, ErrorKind::failed);
  EXPECT_EQ(thrown([&] { (void)empty.call<&Counter::get>(); }).kind, ErrorKind::failed);
}

TEST(Ref, MadeRefsAreNear) {
  Vat vat;
  auto c = vat.make<Counter>();
  EXPECT_TRUE(c);
  EXPECT_TRUE(c.is_near());
  EXPECT_EQ(c.kind(), RefKind::near);
}

TEST(Ref, CallRunsTheMethodAtOnce) {
  Vat vat;
  auto c = vat.make<Counter>();
  EXPECT_EQ(c.call<&Counter::inc>(3), 3);
  EXPECT_EQ(c.call<&Counter::get>(), 3);
  EXPECT_THROW(c.call<&Counter::boom>(), std::runtime_error);
}

TEST(Ref, SendDoesNotRunTheMethodUntilTheVatRuns) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto p = c.send<&Counter::inc>(3);
  EXPECT_TRUE(p.pending());
  EXPECT_EQ(c.call<&Counter::get>(), 0);
  EXPECT_EQ(vat.wait(p), 3);
}

TEST(Ref, CopiesCompareEqualAndDistinctObjectsDoNot) {
  Vat vat;
  auto a = vat.make<Counter>();
  auto b = vat.make<Counter>();
  Ref<Counter> a2 = a;
  EXPECT_EQ(a, a2);
  EXPECT_NE(a, b);
}

TEST(Ref, UpcastRefsReachTheSameObject) {
  Vat vat;
  Ref<Dog> d = vat.make<Dog>();
  Ref<Animal> a = d;
  EXPECT_EQ(Ref<Animal>(d), a);
  EXPECT_EQ(vat.wait(a.send<&Animal::sound>()), "woof");
}

TEST(Ref, SameObjectThroughAMethodComparesEqual) {
  Vat vat;
  auto n = vat.make<Node>(0);
  EXPECT_EQ(vat.wait(n.send<&Node::self>()), n);
  EXPECT_NE(vat.wait(n.send<&Node::next>()), n);
}

TEST(Ref, ARefUsedInAnotherVatsTurnThrows) {
  Vat a(VatOptions{.name = "alpha"});
  Vat b(VatOptions{.name = "beta"});
  auto c = a.make<Counter>();
  Error e = run_in(b, [&] { return thrown([&] { (void)c.send<&Counter::inc>(1); }); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason,
            "a reference of vat alpha was used in vat beta; hand references to other vats only inside messages or "
            "with portable()");
  Error e2 = run_in(b, [&] { return thrown([&] { (void)c.call<&Counter::get>(); }); });
  EXPECT_EQ(e2, e);
  EXPECT_EQ(c.call<&Counter::get>(), 0);
}

// --- Far references, with two standalone vats driven by this thread.

class FarRef : public ::testing::Test {
 protected:
  Vat a{VatOptions{.name = "a"}};
  Vat b{VatOptions{.name = "b"}};
};

TEST_F(FarRef, IsFarAndSendsReachTheObject) {
  auto c = a.make<Counter>();
  auto pc = portable(c);
  auto far = run_in(b, [&] { return pc.take(); });
  EXPECT_FALSE(far.is_near());
  EXPECT_EQ(far.kind(), RefKind::far);
  auto p = run_in(b, [&] { return std::make_optional(far.send<&Counter::inc>(4)); });
  EXPECT_EQ(pumped({&a, &b}, *p), 4);
  EXPECT_EQ(c.call<&Counter::get>(), 4);
}

TEST_F(FarRef, CallOnAFarRefThrowsAClearError) {
  auto c = a.make<Counter>();
  auto pc = portable(c);
  Error e = run_in(b, [&] { return thrown([&] { (void)pc.take().call<&Counter::get>(); }); });
  EXPECT_EQ(
      e, (Error{ErrorKind::failed, "call() needs a near reference (same vat); use send() for far or promised ones"}));
}

TEST_F(FarRef, TheSameObjectThroughTwoPathsComparesEqual) {
  auto c = a.make<Counter>();
  auto other = a.make<Counter>();
  auto holder = a.make<Peer>();
  holder.call<&Peer::adopt>(c);
  auto p1 = portable(c);
  auto p2 = portable(c);
  auto po = portable(other);
  auto ph = portable(holder);
  auto from_method = run_in(b, [&] { return std::make_optional(ph.take().send<&Peer::counter>()); });
  Ref<Counter> via_method = pumped({&a, &b}, *from_method);
  auto [same_portable, two_portables, via_call, different] = run_in(b, [&] {
    Ref<Counter> x = p1.take(), y = p1.take(), z = p2.take(), o = po.take();
    return std::make_tuple(x == y, x == z, x == via_method, x == o);
  });
  EXPECT_TRUE(same_portable);
  EXPECT_TRUE(two_portables);
  EXPECT_TRUE(via_call);
  EXPECT_FALSE(different);
  EXPECT_FALSE(via_method.is_near());
}

TEST_F(FarRef, AReferenceThatComesHomeIsNearAgain) {
  auto c = a.make<Counter>();
  auto peer = b.make<Peer>();
  auto pc = portable(c);
  auto pp = portable(peer);
  // a hands its counter to b's peer, then asks for it back.
  auto back = run_in(a, [&] {
    Ref<Peer> far_peer = pp.take();
    far_peer.send<&Peer::adopt>(c);
    return std::make_optional(far_peer.send<&Peer::counter>());
  });
  Ref<Counter> home = pumped({&a, &b}, *back);
  EXPECT_TRUE(home.is_near());
  EXPECT_EQ(home, c);
  // And in b it is far, and equal to the one b unpacks itself.
  EXPECT_TRUE(pumped({&a, &b}, peer.send<&Peer::holds>(run_in(b, [&] { return pc.take(); }))));
  EXPECT_FALSE(pumped({&a, &b}, peer.send<&Peer::is_near>(run_in(b, [&] { return pc.take(); }))));
}

TEST_F(FarRef, SendsFromTheWrongVatThrowEvenWhenFar) {
  auto c = a.make<Counter>();
  auto pc = portable(c);
  auto far = run_in(b, [&] { return pc.take(); });
  Error e = run_in(a, [&] { return thrown([&] { (void)far.send<&Counter::get>(); }); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_NE(e.reason.find("a reference of vat b was used in vat a"), std::string::npos);
}

TEST_F(FarRef, DynamicSendsTravelToo) {
  auto c = a.make<Counter>(10);
  auto pc = portable(c);
  auto p = run_in(b, [&] { return std::make_optional(pc.take().send("inc", 5)); });
  EXPECT_EQ(pumped({&a, &b}, *p), Value(15));
  auto q = run_in(b, [&] { return std::make_optional(pc.take().send("nope")); });
  EXPECT_EQ(pumped_error({&a, &b}, *q).kind, ErrorKind::unimplemented);
}

TEST_F(FarRef, KindIsBrokenOnceTheHomeVatIsReleased) {
  auto c = a.make<Counter>();
  auto pc = portable(c);
  auto far = run_in(b, [&] { return pc.take(); });
  c = {};
  a.release();
  EXPECT_EQ(far.kind(), RefKind::broken);
  auto p = run_in(b, [&] { return std::make_optional(far.send<&Counter::get>()); });
  EXPECT_EQ(pumped_error({&b}, *p).kind, ErrorKind::disconnected);
}

}  // namespace
}  // namespace vatic
