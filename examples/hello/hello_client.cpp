// hello_client: redeems a Greeter's sturdy ref and calls it once.
//
//   hello_client REF [NAME]
//
// prints what the greeter answers ("Hello, NAME!"). The ref is all it needs:
// it names the server's vat by its public key (the handshake proves the
// server holds it), where to dial, and the token that grants the object.
#include <cstdio>
#include <exception>
#include <string>

#include "captp/node.h"
#include "greeter.h"
#include "sturdyrefs/enliven.h"
#include "sturdyrefs/uri.h"
#include "vat/vat.h"

int main(int argc, char** argv) try {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: hello_client REF [NAME]\n");
    return 2;
  }
  // Text from outside is checked before use: parsing never throws.
  auto ref = vatic::sturdyrefs::parse_sturdy_ref(argv[1]);
  if (!ref) {
    std::fprintf(stderr, "hello_client: not a sturdy ref: %s\n", ref.error().c_str());
    return 2;
  }

  // This token is not bound to a holder, so the client may speak as a fresh
  // identity each run (a store, as in hello_server, would keep one).
  vatic::Vat vat;
  vatic::captp::Node node(vat, vatic::captp::Identity::generate());

  // A reference usable at once: the call below is pipelined behind the
  // dial, the handshake and the redeem.
  auto greeter = vatic::sturdyrefs::enliven_as<Greeter>(node, *ref);
  vatic::Promise<std::string> answer = greeter.send<&Greeter::greet>(std::string(argc > 2 ? argv[2] : "world"));

  // Runs the vat until the answer arrives; a broken promise (server
  // unreachable, ref refused) throws its error.
  std::printf("%s\n", vat.wait(answer).c_str());
  node.close("done");
  vat.run_until_idle();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "hello_client: %s\n", e.what());
  return 1;
}
