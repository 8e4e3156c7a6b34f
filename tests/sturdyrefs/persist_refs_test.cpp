#include "sturdyrefs/persist_refs.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

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

// A plain (not persistent) object revived by a sturdy-ref kind: a fresh one
// per revive, so only the Host's cache keeps two redeems on one object.
class Tally : public Object {
 public:
  int add(int n) { return total_ += n; }
  VATIC_METHODS(Tally, add)

 private:
  int total_ = 0;
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

// DESIGN 5, the sturdy-ref Host's cache of revived objects: what nobody
// holds is swept as the cache grows; what a live reference holds stays. Ten
// thousand store records cost an fsync each: these tests keep their store in
// memory (/dev/shm) where there is one.
class RevivedCacheTest : public PersistRefsTest {
 protected:
  RevivedCacheTest() {
    std::string tmpl =
        std::filesystem::is_directory("/dev/shm") ? "/dev/shm/vatic-live-XXXXXX" : "/tmp/vatic-live-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    shm_ = tmpl;
    fast_store = Store::open(shm_ / "store", Create::if_empty, clock);
    fast = std::make_unique<Host>(vat, *fast_store, HostOptions{});
    fast_refs = std::make_unique<PersistentRefs>(*fast, *objects);
    fast->add_kind("test.tally", Kind{[this](const StoredObject&) -> Ref<Object> { return vat.make<Tally>(); }, {}});
  }
  ~RevivedCacheTest() override {
    fast_refs.reset();
    fast.reset();
    fast_store.reset();
    std::error_code ec;
    std::filesystem::remove_all(shm_, ec);
  }
  template <class T>
  Ref<T> redeem_fast(const caps::Token& t) {
    return detail::ref_from_handler<T>(detail::RefAccess::handler(fast->redeem(caps::encode_token(t), {})));
  }

  std::filesystem::path shm_;
  std::unique_ptr<Store> fast_store;
  std::unique_ptr<Host> fast;
  std::unique_ptr<PersistentRefs> fast_refs;
};

TEST_F(RevivedCacheTest, RevivedObjectsNobodyHoldsLeaveTheCacheAndAHeldOneKeepsItsIdentity) {
  caps::Token kept_token = fast->token_for("kept", "test.tally", "");
  Ref<Tally> kept = redeem_fast<Tally>(kept_token);
  EXPECT_EQ(wait(kept.send<&Tally::add>(5)), 5);
  std::size_t most = 0;
  for (int i = 0; i < 10000; ++i) {
    Ref<Tally> r = redeem_fast<Tally>(fast->token_for(fmt::format("t{}", i), "test.tally", ""));
    if (i % 1000 == 0) EXPECT_EQ(wait(r.send<&Tally::add>(1)), 1);
    most = std::max(most, fast->live_objects());
  }
  vat.run_until_idle();
  EXPECT_LE(most, 128u);
  EXPECT_LE(fast->live_objects(), 128u);
  // The held one was never swept: a new redeem reaches the same object.
  EXPECT_EQ(wait(redeem_fast<Tally>(kept_token).send<&Tally::add>(1)), 6);
}

TEST_F(RevivedCacheTest, RevivedPersistentObjectsLeaveTheCacheOnceNoRedeemedReferenceIsLive) {
  Ref<Counter> held = redeem_fast<Counter>(fast_refs->token(objects->object<Counter>("held")));
  EXPECT_EQ(wait(held.send<&Counter::add>(2)), 2);
  for (int i = 0; i < 10000; ++i) {
    caps::Token t = fast_refs->token(objects->object<Counter>(fmt::format("c{}", i)));
    Ref<Counter> r = redeem_fast<Counter>(t);
  }
  vat.run_until_idle();
  EXPECT_LE(fast->live_objects(), 128u);
  EXPECT_EQ(wait(held.send<&Counter::add>(1)), 3);
  EXPECT_EQ(wait(redeem_fast<Counter>(fast_refs->token(objects->object<Counter>("held"))).send<&Counter::value>()), 3);
}

}  // namespace
}  // namespace vatic::sturdyrefs
