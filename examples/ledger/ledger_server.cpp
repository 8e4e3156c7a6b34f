// ledger_server: serves one persistent Ledger to whoever holds its sturdy ref.
//
//   ledger_server STORE [ADDRESS]
//
// STORE is a directory (created if missing) that keeps this vat's identity
// and the keys its sturdy refs derive from (as hello_server's does), and the
// ledger's state (ledger.db, SQLite). ADDRESS is where to listen,
// "unix:/tmp/ledger.sock" or "127.0.0.1:4242" (port 0 picks a free port; the
// default). The ref goes to stdout, one line: the same every run on the same
// store. Kill the server any way you like, even with SIGKILL: every answer a
// client received was committed before it left, so a restart on the same
// store serves the same ledger, with the same ref.
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <exception>

#include "captp/node.h"
#include "ledger.h"
#include "persist/host.h"
#include "persist/sqlite_engine.h"
#include "sturdyrefs/host.h"
#include "sturdyrefs/persist_refs.h"
#include "sturdyrefs/store.h"
#include "vat/vat.h"

int main(int argc, char** argv) try {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: ledger_server STORE [ADDRESS]\n");
    return 2;
  }
  auto store = vatic::sturdyrefs::Store::open(argv[1]);
  vatic::Vat vat;
  vatic::captp::Node node(vat, store->identity());
  // Mints and redeems sturdy refs (expiry caveats read the vat's clock).
  vatic::sturdyrefs::Host refs(vat, *store, {});

  // The persistent objects: the kind "ledger" at version 1, on a SQLite
  // file beside the identity. An object is activated when a message reaches
  // it and put to sleep when idle; its state is always in the file.
  vatic::persist::Host objects(vat, vatic::persist::SqliteEngine::open(store->dir() / "ledger.db"));
  objects.register_kind<ledger::Ledger>({.name = "ledger", .version = 1});
  // Sturdy refs of persistent objects: redeeming one activates the object
  // through `objects`, after a restart too.
  vatic::sturdyrefs::PersistentRefs persistent(refs, objects);

  vatic::captp::Address where = node.listen(argc > 2 ? argv[2] : "127.0.0.1:0");
  refs.set_hints({where.to_string()});
  refs.serve_on(node);

  // The ledger called "main" (created on its first message).
  std::printf("%s\n", persistent.sturdy_ref(objects.object<ledger::Ledger>("main")).c_str());
  std::fflush(stdout);

  boost::asio::signal_set signals(vat.io(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    node.close("server stopping");
    vat.stop();
  });
  vat.run();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "ledger_server: %s\n", e.what());
  return 1;
}
