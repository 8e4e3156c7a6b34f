#include "sturdyrefs/persist_refs.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>

#include "persist/memory_engine.h"
#include "tests/sturdyrefs/persist_counter.h"
#include "tests/temp_dir.h"

// One vat with a sturdy-ref Host and a persist::Host on an in-memory engine;
// tokens are redeemed in process (Host::redeem with no peer), so the clock
// can be a manual one and passivation is driven by the test.
namespace vatic::sturdyrefs {
namespace {

using namespace std::chrono_literals;
using test::Counter;

class Plain : public Object {
 public:
  int ping() { return 1; }
  VATIC_METHODS(Plain, ping)
};

class PersistRefsTest : public ::testing::Test {
 protected:
  PersistRefsTest() {
    objects->register_kind<Counter>({.name = "counter"});
    objects->register_kind<Other>({.name = "other"});
  }

  // A second kind with the same methods, to tell objects apart.
  class Other : public Counter {};

  template <class T>
  T wait(Promise<T> p) {
    return vat.wait(std::move(p));
  }
  Ref<Counter> redeem(const caps::Token& t) {
    return detail::ref_from_handler<Counter>(detail::RefAccess::handler(refs->redeem(caps::encode_token(t), {})));
  }

  vatic::test::TempDir dir{"vatic-prefs"};
  ManualClock clock;
  Vat vat{VatOptions{.name = "persist-refs", .clock = &clock}};
  std::unique_ptr<Store> store = Store::open(dir / "store", Create::if_empty, clock);
  std::shared_ptr<persist::MemoryEngine> engine = std::make_shared<persist::MemoryEngine>();
  std::unique_ptr<Host> refs = std::make_unique<Host>(vat, *store, HostOptions{});
  std::unique_ptr<persist::Host> objects =
      std::make_unique<persist::Host>(vat, engine, persist::HostOptions{.idle = 10s});
  PersistentRefs persistent{*refs, *objects};
};

TEST_F(PersistRefsTest, ARedeemedTokenReachesThePersistentObjectAndReactivatesItAfterPassivation) {
  Ref<Counter> c1 = objects->object<Counter>("c1");
  EXPECT_EQ(wait(c1.send<&Counter::add>(2)), 2);
  caps::Token t = persistent.token(c1);
  Ref<Counter> redeemed = redeem(t);
  EXPECT_EQ(wait(redeemed.send<&Counter::add>(3)), 5);

  clock.advance(11s);
  vat.run_until_idle();
  EXPECT_EQ(objects->stats().active, 0);
  EXPECT_EQ(objects->stats().passivations, 1);
  // The reference a redeem handed out, and a new redeem, both wake it.
  EXPECT_EQ(wait(redeemed.send<&Counter::value>()), 5);
  EXPECT_EQ(wait(redeem(t).send<&Counter::add>(1)), 6);
  EXPECT_EQ(objects->stats().activations, 2);
}

TEST_F(PersistRefsTest, OneObjectHasOneTokenAndTwoObjectsTwo) {
  caps::Token a = persistent.token(objects->object<Counter>("c1"));
  EXPECT_EQ(persistent.token(objects->object<Counter>("c1")), a);
  EXPECT_NE(persistent.token(objects->object<Counter>("c2")).object, a.object);
  EXPECT_NE(persistent.token(objects->object<Other>("c1")).object, a.object);
  EXPECT_EQ(wait(redeem(persistent.token(objects->object<Other>("c1"))).send<&Counter::add>(9)), 9);
  EXPECT_EQ(wait(redeem(a).send<&Counter::value>()), 0);
}

TEST_F(PersistRefsTest, ATokenOutlivesItsHostsAndReachesTheObjectFromTheEngine) {
  caps::Token t = persistent.token(objects->object<Counter>("c1"));
  EXPECT_EQ(wait(redeem(t).send<&Counter::add>(7)), 7);
  // A restart: new hosts on the same store and engine.
  refs.reset();
  objects.reset();
  vat.run_until_idle();
  refs = std::make_unique<Host>(vat, *store, HostOptions{});
  objects = std::make_unique<persist::Host>(vat, engine, persist::HostOptions{.idle = 10s});
  objects->register_kind<Counter>({.name = "counter"});
  PersistentRefs again(*refs, *objects);
  EXPECT_EQ(wait(redeem(t).send<&Counter::value>()), 7);
  EXPECT_EQ(again.token(objects->object<Counter>("c1")), t);
}

TEST_F(PersistRefsTest, ATokenOfAKindNoLongerRegisteredIsRefusedWithoutNamingIt) {
  caps::Token t = persistent.token(objects->object<Counter>("c1"));
  refs.reset();
  objects.reset();
  vat.run_until_idle();
  refs = std::make_unique<Host>(vat, *store, HostOptions{});
  objects = std::make_unique<persist::Host>(vat, engine, persist::HostOptions{.idle = 10s});
  PersistentRefs again(*refs, *objects);  // "counter" is not registered this time
  try {
    refs->redeem(caps::encode_token(t), {});
    ADD_FAILURE() << "redeemed a token of an unregistered kind";
  } catch (const VatError& e) {
    EXPECT_EQ(e.error().kind, ErrorKind::failed);
    EXPECT_EQ(e.error().reason, "the persistent object behind this sturdy ref is not available now");
  }
}

TEST_F(PersistRefsTest, OnlyThisHostsPersistentObjectsGetTokens) {
  EXPECT_THROW(persistent.token(vat.make<Plain>()), VatError);
  EXPECT_THROW(persistent.token(Ref<Object>()), VatError);
  persist::Host elsewhere(vat, std::make_shared<persist::MemoryEngine>());
  elsewhere.register_kind<Counter>({.name = "counter"});
  EXPECT_THROW(persistent.token(elsewhere.object<Counter>("c1")), VatError);
  EXPECT_EQ(objects->id_of(elsewhere.object<Counter>("c1")), std::nullopt);
  EXPECT_EQ(objects->id_of(objects->object<Counter>("c1")), "counter/c1");
}

TEST_F(PersistRefsTest, ObjectByIdRefusesMalformedIdsAndUnknownKinds) {
  EXPECT_THROW(objects->object_by_id("no-slash"), VatError);
  EXPECT_THROW(objects->object_by_id("nokind/c1"), VatError);
  EXPECT_THROW(objects->object_by_id("counter/"), VatError);
  Ref<Counter> c = detail::ref_from_handler<Counter>(detail::RefAccess::handler(objects->object_by_id("counter/c1")));
  EXPECT_EQ(wait(c.send<&Counter::add>(1)), 1);
  EXPECT_EQ(wait(objects->object<Counter>("c1").send<&Counter::value>()), 1);
}

}  // namespace
}  // namespace vatic::sturdyrefs
