// hello_server: serves a Greeter to whoever holds its sturdy ref.
//
//   hello_server STORE [ADDRESS]
//
// STORE is a directory (created if missing) that keeps this vat's identity,
// its key pair, and the key its sturdy refs derive from: the ref printed is
// the same every run on the same store. ADDRESS is where to listen,
// "unix:/tmp/hello.sock" or "127.0.0.1:4242" (port 0 picks a free port; the
// default). The ref goes to stdout, one line; the server runs until SIGINT or
// SIGTERM.
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include "captp/node.h"
#include "greeter.h"
#include "sturdyrefs/host.h"
#include "sturdyrefs/store.h"
#include "vat/vat.h"

namespace {

// Only the server has the implementation.
class GreeterImpl : public Greeter {
 public:
  std::string greet(std::string name) override { return "Hello, " + name + "!"; }
};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: hello_server STORE [ADDRESS]\n");
    return 2;
  }
  auto store = vatic::sturdyrefs::Store::open(argv[1]);

  // One vat (an event loop, run below on this thread) with a CapTP node that
  // speaks as the store's identity.
  vatic::Vat vat;
  vatic::captp::Node node(vat, store->identity());

  // The Host mints sturdy refs and redeems them for peers. Objects behind
  // sturdy refs have a kind that says how to bring them back from their
  // record in the store (after a restart, too); a greeter needs no state.
  vatic::sturdyrefs::Host host(vat, *store, {.now_unix = unix_now});
  host.add_kind("greeter", {.revive = [&vat](const vatic::sturdyrefs::StoredObject&) -> vatic::Ref<vatic::Object> {
                  return vat.make<GreeterImpl>();
                }});

  vatic::captp::Address where = node.listen(argc > 2 ? argv[2] : "127.0.0.1:0");
  host.set_hints({where.to_string()});  // written into the refs: where clients dial
  host.serve_on(node);                  // each peer's first object redeems refs

  // The ref names this vat (its public key), where it listens, and a token
  // for the object called "hello" of kind "greeter".
  std::printf("%s\n", host.sturdy_ref(host.token_for("hello", "greeter", "")).c_str());
  std::fflush(stdout);

  boost::asio::signal_set signals(vat.io(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    node.close("server stopping");
    vat.stop();
  });
  vat.run();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "hello_server: %s\n", e.what());
  return 1;
}
