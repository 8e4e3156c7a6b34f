// Sturdy refs of persistent objects across real processes and restarts
// (spec/persistence.md 9): the server (persist_server_main.cpp) prints the
// sturdy ref of a persistent Counter; this test, another process, redeems it,
// kills the server with SIGKILL, starts it again on the same store, and
// redeems the same ref again.
//
//   test ──runs──▶ server STORE unix:SOCK ──stdout: counter ref, admin ref──▶ test
//   test (client vat) ──CapTP over the unix socket──▶ server: Redeemer ──▶ persist::Host ──▶ Counter
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>

#include "caps/caveat.h"
#include "captp/node.h"
#include "sturdyrefs/admin.h"
#include "sturdyrefs/enliven.h"
#include "sturdyrefs/uri.h"
#include "tests/examples/child_process.h"
#include "tests/sturdyrefs/persist_counter.h"
#include "tests/temp_dir.h"
#include "vat/vat.h"

#ifndef VATIC_PERSIST_SERVER
#error "VATIC_PERSIST_SERVER (the server binary) must be defined by the build"
#endif

namespace vatic::sturdyrefs {
namespace {

using namespace std::chrono_literals;
using test::Counter;
using vatic::test::ChildProcess;
using vatic::test::TempDir;

// The server's two lines.
struct Served {
  std::string counter, admin;
};

class Server {
 public:
  explicit Server(const TempDir& dir)
      : p_({VATIC_PERSIST_SERVER, (dir / "store").string(), dir.unix_address("s.sock")}) {
    std::string out = p_.read(20s, [](const std::string& t) { return std::count(t.begin(), t.end(), '\n') >= 2; });
    std::size_t nl = out.find('\n');
    EXPECT_NE(nl, std::string::npos) << "the server printed no refs: " << out;
    if (nl == std::string::npos) return;
    served_.counter = out.substr(0, nl);
    served_.admin = out.substr(nl + 1, out.find('\n', nl + 1) - nl - 1);
  }
  const Served& refs() const { return served_; }
  void kill() {
    ::kill(p_.pid(), SIGKILL);
    int st = p_.wait(10s);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  }

 private:
  ChildProcess p_;
  Served served_;
};

// A client vat of its own per use, as a separate client program would have.
class Client {
 public:
  ~Client() {
    node_.close("done");
    vat_.run_until_idle();
  }
  template <class T>
  Ref<T> enliven(const std::string& text) {
    auto ref = parse_sturdy_ref(text);
    EXPECT_TRUE(ref) << ref.error();
    return enliven_as<T>(node_, ref.value());
  }
  template <class T>
  T wait(Promise<T> p) {
    return vat_.wait(std::move(p));
  }
  // The error `p` broke with (a test failure if it did not).
  template <class T>
  Error broken(Promise<T> p) {
    try {
      vat_.wait(std::move(p));
    } catch (const VatError& e) {
      return e.error();
    }
    ADD_FAILURE() << "the promise did not break";
    return {};
  }

 private:
  Vat vat_{VatOptions{.name = "client"}};
  captp::Node node_{vat_, captp::Identity::generate()};
};

// The ref `text` with one more caveat.
std::string attenuated(const std::string& text, const Bytes& caveat) {
  SturdyRef ref = parse_sturdy_ref(text).value();
  ref.token = caps::attenuate(ref.token, caveat).value();
  return format_sturdy_ref(ref);
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(PersistRefsProcess, ARefRedeemedAfterASigkilledServerRestartsReachesTheSameStateAgain) {
  TempDir dir("vatic-prefs");
  std::string ref;
  {
    Server server(dir);
    ref = server.refs().counter;
    ASSERT_EQ(ref.rfind("vatic://", 0), 0u) << ref;
    Client c;
    auto counter = c.enliven<Counter>(ref);
    EXPECT_EQ(c.wait(counter.send<&Counter::add>(5)), 5);
    EXPECT_EQ(c.wait(counter.send<&Counter::add>(7)), 12);
    // Rolled back: its write never reaches the store.
    EXPECT_EQ(c.broken(counter.send<&Counter::add_then_fail>(100)).reason, "refused after writing");
    server.kill();  // the answers above were released after their commits
  }
  Server again(dir);
  EXPECT_EQ(again.refs().counter, ref);  // the same object's token
  Client c;
  auto counter = c.enliven<Counter>(ref);
  EXPECT_EQ(c.wait(counter.send<&Counter::value>()), 12);
  EXPECT_EQ(c.wait(counter.send<&Counter::add>(1)), 13);
}

TEST(PersistRefsProcess, AnAttenuatedRefIsRefusedPastItsCaveat) {
  TempDir dir("vatic-prefs");
  Server server(dir);
  const std::string& ref = server.refs().counter;
  Client c;
  EXPECT_EQ(c.wait(c.enliven<Counter>(ref).send<&Counter::add>(3)), 3);

  auto read_only = c.enliven<Counter>(attenuated(ref, caps::caveat_methods({"value"}).value()));
  EXPECT_EQ(c.wait(read_only.send<&Counter::value>()), 3);
  Error e = c.broken(read_only.send<&Counter::add>(1));
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "refused: method not allowed by token");

  auto expired = c.enliven<Counter>(attenuated(ref, caps::caveat_expires(unix_now() - 3600)));
  EXPECT_EQ(c.broken(expired.send<&Counter::value>()).reason, "refused: token expired");

  // A domain caveat does not apply to a persistent object: refused, not ignored.
  auto with_path = c.enliven<Counter>(attenuated(ref, caps::caveat_path("sub").value()));
  EXPECT_EQ(c.broken(with_path.send<&Counter::value>()).reason, "refused: caveat does not apply to this object");

  // None of the refused calls wrote.
  EXPECT_EQ(c.wait(c.enliven<Counter>(ref).send<&Counter::value>()), 3);
}

TEST(PersistRefsProcess, ARevokedRefIsRefusedBeforeAndAfterARestartAndTheObjectKeepsItsState) {
  TempDir dir("vatic-prefs");
  std::string ref;
  {
    Server server(dir);
    ref = server.refs().counter;
    Client c;
    auto counter = c.enliven<Counter>(ref);
    EXPECT_EQ(c.wait(counter.send<&Counter::add>(4)), 4);
    auto admin = c.enliven<Admin>(server.refs().admin);
    EXPECT_EQ(c.wait(admin.send<&Admin::revoke>(ref)), "object");
    // The live reference is cut as well as the ref.
    EXPECT_EQ(c.broken(counter.send<&Counter::value>()).reason, "refused: invalid token");
    Client other;
    EXPECT_EQ(other.broken(other.enliven<Counter>(ref).send<&Counter::value>()).reason, "refused: invalid token");
    server.kill();
  }
  Server again(dir);
  Client c;
  EXPECT_EQ(c.broken(c.enliven<Counter>(ref).send<&Counter::value>()).reason, "refused: invalid token");
  // The server mints a new token for the object; its state is untouched.
  ASSERT_NE(again.refs().counter, ref);
  EXPECT_EQ(c.wait(c.enliven<Counter>(again.refs().counter).send<&Counter::value>()), 4);
}

TEST(PersistRefsProcess, AForgedRefIsRefused) {
  TempDir dir("vatic-prefs");
  Server server(dir);
  SturdyRef ref = parse_sturdy_ref(server.refs().counter).value();
  Client c;
  // A flipped tag bit.
  SturdyRef forged = ref;
  forged.token.tag[0] ^= 1;
  EXPECT_EQ(c.broken(c.enliven<Counter>(format_sturdy_ref(forged)).send<&Counter::value>()).reason,
            "refused: invalid token");
  // A caveat removed (the tag is the parent's chain's, not this one's).
  SturdyRef narrowed = ref;
  narrowed.token = caps::attenuate(ref.token, caps::caveat_methods({"value"}).value()).value();
  narrowed.token.caveats.clear();
  EXPECT_EQ(c.broken(c.enliven<Counter>(format_sturdy_ref(narrowed)).send<&Counter::add>(1)).reason,
            "refused: invalid token");
  // Another object's id under the real tag.
  SturdyRef other = ref;
  other.token.object[0] ^= 1;
  EXPECT_EQ(c.broken(c.enliven<Counter>(format_sturdy_ref(other)).send<&Counter::value>()).reason,
            "refused: invalid token");
  EXPECT_EQ(c.wait(c.enliven<Counter>(server.refs().counter).send<&Counter::value>()), 0);
}

}  // namespace
}  // namespace vatic::sturdyrefs
