#include "vat/object.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "tests/vat/test_objects.h"

namespace vatic {

// Outside the anonymous namespace: GCC warns (-Wsubobject-linkage) when
// internal-linkage classes instantiate the vat's message templates.
namespace object_test {

class Fragile : public Object {
 public:
  explicit Fragile(bool fail) {
    if (fail) throw std::runtime_error("cannot build");
  }
  int ok() const { return 1; }
  VATIC_METHODS(Fragile, ok)
};

// Builds a Counter directly (not through vat.make) inside its own constructor.
class Smuggler : public Object {
 public:
  Smuggler() { test::Counter inner; }
  VATIC_METHODS(Smuggler, ping)
  int ping() const { return 1; }
};

class Base : public Object {
 public:
  virtual std::string name() const { return "base"; }
  VATIC_METHODS(Base, name)
};

class Derived : public Base {
 public:
  std::string name() const override { return "derived"; }
  int extra() const { return 5; }
  VATIC_METHODS(Derived, name, extra)
};

}  // namespace object_test

namespace {

using object_test::Base;
using object_test::Derived;
using object_test::Fragile;
using object_test::Smuggler;

using test::Counter;
using test::Node;
using test::run_in;

TEST(Object, ConstructingDirectlyThrowsLogicError) {
  EXPECT_THROW({ Counter c; }, std::logic_error);
  Vat vat;
  bool threw = false;
  vat.post([&] {
    try {
      Counter c;
    } catch (const std::logic_error&) {
      threw = true;
    }
  });
  vat.run_until_idle();
  EXPECT_TRUE(threw);
}

// Vat::make opens a window in which any Object may be constructed, so an
// object's constructor can build others directly (on its stack, as members or
// with new) without vat.make.
TEST(Object, ConstructingDirectlyInsideAnotherObjectsConstructorThrows) {
  Vat vat;
  EXPECT_THROW(vat.make<Smuggler>(), std::logic_error);
}

TEST(Object, KnowsItsVat) {
  Vat vat(VatOptions{.name = "home"});
  auto n = vat.make<Node>(0);
  EXPECT_EQ(vat.wait(n.send<&Node::where>()), "home");
}

TEST(Object, MakeCountsLiveObjectsAndDroppingTheLastRefFreesIt) {
  Vat vat;
  EXPECT_EQ(vat.live_objects(), 0u);
  {
    auto a = vat.make<Counter>();
    auto b = vat.make<Counter>();
    EXPECT_EQ(vat.live_objects(), 2u);
    auto a2 = a;
    a = {};
    EXPECT_EQ(vat.live_objects(), 2u);
  }
  EXPECT_EQ(vat.live_objects(), 0u);
  EXPECT_EQ(vat.stats().live_objects, 0u);
}

TEST(Object, APendingMessageKeepsItsTargetAliveUntilItRuns) {
  Vat vat;
  Promise<std::int64_t> p;
  {
    auto c = vat.make<Counter>(1);
    p = c.send<&Counter::inc>(1);
  }
  EXPECT_EQ(vat.live_objects(), 1u);
  EXPECT_EQ(vat.wait(p), 2);
  vat.run_until_idle();
  EXPECT_EQ(vat.live_objects(), 0u);
}

TEST(Object, AThrowingConstructorLeavesNoLiveObject) {
  Vat vat;
  EXPECT_THROW(vat.make<Fragile>(true), std::runtime_error);
  EXPECT_EQ(vat.live_objects(), 0u);
  auto ok = vat.make<Fragile>(false);
  EXPECT_EQ(vat.live_objects(), 1u);
}

TEST(Object, MethodTableNamesTheClassAndFindsMethods) {
  const MethodTable& t = detail::method_table<Counter>();
  EXPECT_EQ(t.class_name, "Counter");
  ASSERT_EQ(t.methods.size(), 7u);
  EXPECT_EQ(t.methods[0].name, "inc");
  EXPECT_EQ(t.methods[6].name, "describe");
  ASSERT_NE(t.find("get"), nullptr);
  EXPECT_EQ(t.find("get")->name, "get");
  EXPECT_EQ(t.find("secret"), nullptr);
  EXPECT_EQ(t.find(""), nullptr);
}

TEST(Object, TheMostDerivedTableIsUsed) {
  Vat vat;
  Ref<Base> b = vat.make<Derived>();
  EXPECT_EQ(vat.wait(b.send("extra")).as_int(), 5);
  EXPECT_EQ(vat.wait(b.send("name")).as_text(), "derived");
  EXPECT_EQ(vat.wait(b.send<&Base::name>()), "derived");
}

TEST(Object, RefToSelfIsTheSameReference) {
  Vat vat;
  auto n = vat.make<Node>(3);
  Ref<Node> self = vat.wait(n.send<&Node::self>());
  EXPECT_EQ(self, n);
  EXPECT_TRUE(self.is_near());
}

// --- Sends by name.

TEST(DynamicSend, CallsTheMethodWithDecodedArgumentsAndEncodesTheResult) {
  Vat vat;
  auto c = vat.make<Counter>();
  Promise<Value> p = c.send("inc", 5);
  EXPECT_EQ(vat.wait(p), Value(5));
  EXPECT_EQ(vat.wait(c.send("inc", std::int8_t{2})), Value(7));
  EXPECT_EQ(vat.wait(c.send("get")), Value(7));
  EXPECT_EQ(vat.wait(c.send("describe", std::string("n="))), Value("n=7"));
}

TEST(DynamicSend, AcceptsAStringLiteralArgument) {
  Vat vat;
  auto c = vat.make<Counter>(1);
  EXPECT_EQ(vat.wait(c.send("describe", "n=")).as_text(), "n=1");
}

TEST(DynamicSend, AVoidMethodAnswersNull) {
  Vat vat;
  auto c = vat.make<Counter>(3);
  EXPECT_TRUE(vat.wait(c.send("reset")).is_null());
  EXPECT_EQ(c.call<&Counter::get>(), 0);
}

TEST(DynamicSend, AReferenceResultComesBackAsACapability) {
  Vat vat;
  auto n = vat.make<Node>(0);
  Value v = vat.wait(n.send("next"));
  ASSERT_EQ(v.type(), Value::Type::reference);
  auto next = from_value<Ref<Node>>(v);
  EXPECT_EQ(next.call<&Node::depth>(), 1);
}

TEST(DynamicSend, AnUnknownMethodBreaksWithUnimplemented) {
  Vat vat;
  auto c = vat.make<Counter>();
  Error e = test::broken_error(vat, c.send("nope", 1));
  EXPECT_EQ(e.kind, ErrorKind::unimplemented);
  EXPECT_EQ(e.reason, "Counter has no method \"nope\"");
}

TEST(DynamicSend, AnUnlistedMethodIsUnknownByName) {
  Vat vat;
  auto c = vat.make<Counter>();
  EXPECT_EQ(test::broken_error(vat, c.send("secret")).kind, ErrorKind::unimplemented);
}

TEST(DynamicSend, WrongArityBreaksWithFailed) {
  Vat vat;
  auto c = vat.make<Counter>();
  Error e = test::broken_error(vat, c.send("inc"));
  EXPECT_EQ(e, (Error{ErrorKind::failed, "method inc takes 1 argument(s), got 0"}));
  e = test::broken_error(vat, c.send("get", 1, 2));
  EXPECT_EQ(e, (Error{ErrorKind::failed, "method get takes 0 argument(s), got 2"}));
  EXPECT_EQ(c.call<&Counter::get>(), 0);
}

TEST(DynamicSend, AnArgumentOfTheWrongTypeBreaksWithFailed) {
  Vat vat;
  auto c = vat.make<Counter>();
  Error e = test::broken_error(vat, c.send("inc", std::string("five")));
  EXPECT_EQ(e, (Error{ErrorKind::failed, "expected int64, got text"}));
}

TEST(DynamicSend, AnOutOfRangeArgumentBreaksWithFailed) {
  Vat vat;
  auto g = vat.make<test::Geometry>();
  EXPECT_EQ(vat.wait(g.send("small", 255)).as_int(), 255);
  EXPECT_EQ(test::broken_error(vat, g.send("small", 256)), (Error{ErrorKind::failed, "integer 256 out of range"}));
}

TEST(DynamicSend, AReferenceArgumentOfTheWrongClassBreaksWithFailed) {
  Vat vat;
  auto p = vat.make<test::Peer>();
  auto n = vat.make<Node>(0);
  Error e = test::broken_error(vat, p.send("adopt", to_value(n)));
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "reference does not point to an object of the expected type");
}

TEST(DynamicSend, StructArgumentsAndResultsTravelAsRecords) {
  Vat vat;
  auto g = vat.make<test::Geometry>();
  Value v = vat.wait(g.send("shift", test::Point{1, 2}, 10, 20));
  EXPECT_EQ(from_value<test::Point>(v), (test::Point{11, 22}));
  EXPECT_EQ(test::broken_error(vat, g.send("shift", 1, 10, 20)).reason, "expected record, got int64");
}

TEST(DynamicSend, AThrowingMethodBreaksWithItsError) {
  Vat vat;
  auto c = vat.make<Counter>();
  EXPECT_EQ(test::broken_error(vat, c.send("fail_with", static_cast<int>(ErrorKind::overloaded), "later")),
            (Error{ErrorKind::overloaded, "later"}));
  EXPECT_EQ(test::broken_error(vat, c.send("boom")), (Error{ErrorKind::failed, "boom"}));
}

// --- Typed sends of methods missing from VATIC_METHODS.

TEST(TypedSend, AnUnlistedMethodWorksOnANearReference) {
  Vat vat;
  auto c = vat.make<Counter>();
  EXPECT_EQ(vat.wait(c.send<&Counter::secret>()), 42);
}

// A typed send of an unlisted method through a local promise throws VatError
// out of send() (PromiseBase::deliver asks the message for its name), while the
// same send on the near reference works and send() is meant never to throw.
TEST(TypedSend, AnUnlistedMethodThroughALocalPromiseReachesTheNearTarget) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [p, r] = run_in(vat, [] { return make_promise<Ref<Counter>>(); });
  std::optional<Promise<std::int64_t>> sent;
  EXPECT_NO_THROW(sent = p.send<&Counter::secret>());
  r.resolve(c);
  ASSERT_TRUE(sent);
  EXPECT_EQ(vat.wait(*sent), 42);
}

TEST(Object, StaysAliveWhileOneOfItsTaskMethodsIsSuspended) {
  Vat vat;
  Promise<std::int64_t> p;
  vat.post([&] {
    auto c = vat.make<test::Counter>(1);
    p = c.send<&test::Counter::inc_twice>(1);
  });  // the only reference dies with this turn; the method is still working
  vat.run_until_idle();
  ASSERT_FALSE(p.pending());
  EXPECT_EQ(p.value(), 3);
  EXPECT_EQ(vat.live_objects(), 0u);
}

}  // namespace
}  // namespace vatic

namespace vatic {
namespace {

// spec/model.md, Miranda methods: a live object is resolved; __whenResolved
// answers it at once with the object itself, not "no method".
TEST(Object, WhenResolvedOnALiveObjectAnswersTheObjectItself) {
  Vat vat;
  auto c = vat.make<test::Counter>();
  Value v = vat.wait(c.send("__whenResolved"));
  ASSERT_EQ(v.type(), Value::Type::reference);
  EXPECT_EQ(v.as_capability().handler.get(), detail::RefAccess::handler(c).get());
}

}  // namespace
}  // namespace vatic
