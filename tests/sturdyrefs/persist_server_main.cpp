// The server of persist_refs_process_test.cpp: a vat serving sturdy refs from
// a store directory, with a persist::Host on a SQLite file in that directory
// and a Counter kind. It prints two lines, the sturdy ref of the counter
// "c1" and the sturdy ref of its Admin object (for revoking), then serves
// until SIGTERM (or the test's SIGKILL).
//
//   sturdyrefs_test_persist_server STORE ADDRESS
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>

#include "captp/node.h"
#include "persist/host.h"
#include "persist/sqlite_engine.h"
#include "sturdyrefs/host.h"
#include "sturdyrefs/persist_refs.h"
#include "sturdyrefs/store.h"
#include "tests/sturdyrefs/persist_counter.h"
#include "vat/vat.h"

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s STORE ADDRESS\n", argv[0]);
    return 2;
  }
  namespace sr = vatic::sturdyrefs;
  auto store = sr::Store::open(argv[1]);
  vatic::Vat vat;
  vatic::captp::Node node(vat, store->identity());
  sr::Host refs(vat, *store, {});
  vatic::persist::Host objects(vat, vatic::persist::SqliteEngine::open(store->dir() / "objects.db"));
  objects.register_kind<sr::test::Counter>({.name = "counter"});
  sr::PersistentRefs persistent(refs, objects);

  vatic::captp::Address where = node.listen(argv[2]);
  refs.set_hints({where.to_string()});
  refs.serve_on(node);
  std::printf("%s\n%s\n", persistent.sturdy_ref(objects.object<sr::test::Counter>("c1")).c_str(),
              refs.sturdy_ref(refs.admin_token()).c_str());
  std::fflush(stdout);

  boost::asio::signal_set signals(vat.io(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    node.close("server stopping");
    vat.stop();
  });
  vat.run();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "persist server: %s\n", e.what());
  return 1;
}
