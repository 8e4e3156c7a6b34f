#include "sturdyrefs/admin.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "caps/fs/directory.h"
#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "sturdyrefs/fs_kind.h"
#include "sturdyrefs/host.h"
#include "tests/caps/fs_test_util.h"

// The Admin object's views, called by name over a real CapTP session, as
// `vatic inspect` calls them:
//
//   client vat --(CapTP over Noise, memory pipe)--> server vat: Redeemer -> Host -> Admin
namespace vatic::sturdyrefs {
namespace {

using caps::Directory;
using caps::test::TempTree;

class AdminTest : public ::testing::Test {
 protected:
  AdminTest() {
    store = Store::open(store_dir.path("store"));
    io = std::make_unique<caps::FileIo>(vs);
    // Exact time windows (no clock skew): the tests move `now` across them.
    host = std::make_unique<Host>(vs, *store, HostOptions{{"unix:/nowhere"}, [this] { return now; }, 0});
    host->add_kind(kFsDirKind, fs_dir_kind(vs, *io));
    server = std::make_unique<captp::Node>(vs, store->identity());
    host->serve_on(*server);
    root = host->token_for("root", kFsDirKind, fs_dir_params(data.root(), false));
  }
  ~AdminTest() override {
    client.reset();
    server.reset();
    drain();
    host.reset();
    vs.release();
    io.reset();
    store.reset();
  }

  void drain() {
    for (int i = 0; i < 100; ++i)
      if (vs.run_until_idle() + vc.run_until_idle() == 0) break;
  }
  template <class T>
  bool settle(const Promise<T>& p) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (p.pending() && std::chrono::steady_clock::now() < end) {
      vs.run_until_idle();
      vc.run_until_idle();
    }
    return !p.pending();
  }
  template <class T>
  T get(Promise<T> p) {
    EXPECT_TRUE(settle(p)) << "promise did not settle";
    if (p.is_broken()) throw VatError(p.error());
    return p.value();
  }
  template <class T>
  Error failure(Promise<T> p) {
    EXPECT_TRUE(settle(p)) << "promise did not settle";
    EXPECT_TRUE(p.is_broken()) << "expected a failure";
    return p.is_broken() ? p.error() : Error{};
  }

  Promise<Ref<Object>> redeem(const caps::Token& t) {
    if (!client) {
      client = std::make_unique<captp::Node>(vc, captp::Identity::generate());
      auto [a, b] = captp::memory_pipe(vc.io(), vs.io());
      server->accept(std::move(b));
      boot = client->connect<Redeemer>(server->id(), std::move(a));
    }
    return boot.send<&Redeemer::redeem>(caps::encode_token(t));
  }
  template <class T>
  Ref<T> open(const caps::Token& t) {
    return detail::ref_from_handler<T>(detail::RefAccess::handler(get(redeem(t))));
  }
  Value view(const std::string& name) { return get(open<Admin>(host->admin_token()).send(name)); }

  static const Value& field(const Value& v, std::string_view name) {
    static const Value missing;
    const Value* f = v.as_record().find(name);
    EXPECT_NE(f, nullptr) << "no field " << name << " in " << v.to_string(2000);
    return f ? *f : missing;
  }

  TempTree data, store_dir;
  std::int64_t now = 1'800'000'000;
  Vat vs{VatOptions{.name = "server", .spin_before_block = Duration::zero(), .recorder = {.enabled = true}}};
  Vat vc{VatOptions{.name = "client", .spin_before_block = Duration::zero()}};
  std::unique_ptr<Store> store;
  std::unique_ptr<caps::FileIo> io;
  std::unique_ptr<Host> host;
  std::unique_ptr<captp::Node> server, client;
  Ref<Redeemer> boot;
  caps::Token root;
};

TEST_F(AdminTest, StatsCarryTheVatsCountersAndItsSessions) {
  data.write("a.txt", "hello");
  EXPECT_EQ(get(open<Directory>(root).send<&Directory::list>("")).size(), 1u);
  Value s = view("stats");
  ASSERT_EQ(s.type(), Value::Type::record) << s.to_string();
  EXPECT_EQ(s.as_record().label, "stats");
  for (const char* f :
       {"turns", "turn_failures", "queue_depth", "live_objects", "pending_questions", "timers", "recording",
        "recorder_capacity", "recorded", "methods", "uptime_ms", "handshakes_accepted", "handshakes_failed"})
    field(s, f);
  EXPECT_EQ(field(s, "vat").as_text(), "server");
  EXPECT_EQ(field(s, "vat_id").as_text(), host->id().to_text());
  EXPECT_EQ(field(s, "sessions").as_int(), 1);
  EXPECT_GT(field(s, "turns").as_int(), 0);
  EXPECT_GT(field(s, "live_objects").as_int(), 0);
  EXPECT_EQ(field(s, "recording"), Value(true));
  bool list_counted = false;
  for (const auto& m : field(s, "methods").as_list())
    if (field(m, "class") == Value("Directory") && field(m, "method") == Value("list")) list_counted = true;
  EXPECT_TRUE(list_counted) << s.to_string(4000);
}

TEST_F(AdminTest, SessionsShowTheCallersSessionAndItsTables) {
  Value l = view("sessions");
  ASSERT_EQ(l.type(), Value::Type::list) << l.to_string();
  ASSERT_EQ(l.as_list().size(), 1u);
  const Value& s = l.as_list()[0];
  EXPECT_EQ(s.as_record().label, "session");
  EXPECT_EQ(field(s, "peer").as_text(), client->id().to_text());
  EXPECT_EQ(field(s, "direction").as_text(), "accepted");
  EXPECT_EQ(field(s, "state").as_text(), "open");
  EXPECT_FALSE(field(s, "address").as_text().empty());
  EXPECT_GE(field(s, "age_ms").as_int(), 0);
  // spec/handshake.md "Version and features": what both sides agreed on.
  EXPECT_EQ(field(s, "version").as_text(), "1.1");
  EXPECT_EQ(field(s, "features"), Value(List{Value("cancel"), Value("handoff")}));
  // The admin object itself is exported to the caller, and this call is answered.
  EXPECT_GE(field(s, "exports").as_int(), 1);
  EXPECT_GE(field(s, "answers").as_int(), 0);
  for (const char* f : {"imports", "questions", "embargoes"}) EXPECT_GE(field(s, f).as_int(), 0);
  EXPECT_GT(field(s, "messages_in").as_int(), 0);
  EXPECT_GT(field(s, "messages_out").as_int(), 0);

  // The client's node sees the same session from its side.
  Value mine = client->sessions_info();
  ASSERT_EQ(mine.as_list().size(), 1u);
  EXPECT_EQ(field(mine.as_list()[0], "direction").as_text(), "dialed");
  EXPECT_EQ(field(mine.as_list()[0], "peer").as_text(), server->id().to_text());
}

TEST_F(AdminTest, TheRecorderShowsDeliveriesToServedObjects) {
  data.write("a.txt", "hello");
  get(open<Directory>(root).send<&Directory::list>(""));
  Value r = view("recorder");
  ASSERT_EQ(r.type(), Value::Type::list) << r.to_string();
  bool seen = false;
  for (const auto& e : r.as_list()) {
    if (e.as_record().label != "delivery") continue;
    for (const char* f : {"seq", "time_ms", "target", "method", "args", "sender", "outcome", "duration_us"})
      field(e, f);
    if (field(e, "method") == Value("list")) seen = true;
  }
  EXPECT_TRUE(seen) << r.to_string(4000);
}

TEST_F(AdminTest, WithoutSupervisorsTheTreeAndTheCrashLogAreEmpty) {
  EXPECT_EQ(view("tree"), Value(List{}));
  EXPECT_EQ(view("crashes"), Value(List{}));
}

TEST_F(AdminTest, ObjectsListTheSturdyObjectsAndWhichAreLive) {
  Value l = view("objects");
  ASSERT_EQ(l.type(), Value::Type::list);
  bool admin_live = false, root_seen = false;
  for (const auto& o : l.as_list()) {
    EXPECT_EQ(o.as_record().label, "ObjectInfo");
    if (field(o, "kind").as_text() == "vat.admin") admin_live = field(o, "live").as_bool();
    if (field(o, "name").as_text() == "root") {
      root_seen = true;
      EXPECT_FALSE(field(o, "live").as_bool());  // not redeemed yet
      EXPECT_FALSE(field(o, "revoked").as_bool());
    }
  }
  EXPECT_TRUE(admin_live);
  EXPECT_TRUE(root_seen);
}

TEST_F(AdminTest, AnotherObjectsTokenReachesNoView) {
  // The directory has no such methods: `unimplemented`, which `vatic inspect`
  // reports as a refusal.
  Ref<Directory> dir = open<Directory>(root);
  for (const char* v : {"stats", "tree", "crashes", "recorder", "sessions", "objects"})
    EXPECT_EQ(failure(dir.send(std::string(v))).kind, ErrorKind::unimplemented) << v;
}

TEST_F(AdminTest, TheAdminTokenIsRefusedWhenTamperedExpiredOrNarrowed) {
  caps::Token forged = host->admin_token();
  forged.tag[0] ^= 1;
  EXPECT_EQ(failure(redeem(forged)).reason, "refused: invalid token");

  caps::Token expiring = caps::attenuate(host->admin_token(), caps::caveat_expires(now + 60)).value();
  Ref<Admin> a = open<Admin>(expiring);
  EXPECT_EQ(get(a.send(std::string("stats"))).type(), Value::Type::record);
  now += 61;
  EXPECT_EQ(failure(a.send(std::string("stats"))).reason.rfind("refused:", 0), 0u);
  EXPECT_EQ(failure(redeem(expiring)).reason, "refused: token expired");

  caps::Token revoke_only = caps::attenuate(host->admin_token(), caps::caveat_methods({"revoke"}).value()).value();
  Ref<Admin> r = open<Admin>(revoke_only);
  for (const char* v : {"stats", "tree", "crashes", "recorder", "sessions", "objects"})
    EXPECT_EQ(failure(r.send(std::string(v))).reason, "refused: method not allowed by token") << v;
}

TEST_F(AdminTest, SessionsAreEmptyOnceTheNodeIsGone) {
  Ref<Admin> local = detail::ref_from_handler<Admin>(
      detail::RefAccess::handler(host->redeem(caps::encode_token(host->admin_token()), std::nullopt)));
  server.reset();
  drain();
  Promise<Value> p = local.send(std::string("sessions"));
  EXPECT_EQ(get(p), Value(List{}));
  Value s = get(local.send(std::string("stats")));
  EXPECT_EQ(field(s, "sessions").as_int(), 0);
}

}  // namespace
}  // namespace vatic::sturdyrefs
