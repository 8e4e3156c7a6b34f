// A vat serving persistent objects and its admin object, for `vatic inspect
// ADMIN-REF persist` (inspect_persist_test.cpp): kind "counter" at versions 1
// and 2 (2 migrates 1), kind "note" at version 1. Before serving it makes
// counter/alpha at version 1, upgrades the kind in the running host, and
// calls alpha again (migrating it) and note/first, so both are active. The
// admin ref goes to stdout, one line.
//
//   cli_test_persist_server STORE LISTEN
#include <cstdio>

#include "captp/node.h"
#include "persist/host.h"
#include "persist/sqlite_engine.h"
#include "sturdyrefs/host.h"
#include "sturdyrefs/persist_refs.h"
#include "sturdyrefs/store.h"
#include "vat/vat.h"

using namespace vatic;

namespace {

class CounterV1 : public persist::Persistent {
 public:
  std::int64_t add(std::int64_t n) {
    count_.set(count_.get() + n);
    return count_.get();
  }
  VATIC_METHODS(CounterV1, add)

 private:
  persist::Cell<std::int64_t> count_{this, "count", 0};
};

class CounterV2 : public persist::Persistent {
 public:
  std::int64_t total() { return total_.get(); }
  VATIC_METHODS(CounterV2, total)

 private:
  persist::Cell<std::int64_t> total_{this, "total", 0};
};

class Note : public persist::Persistent {
 public:
  std::string text() { return text_.get(); }
  VATIC_METHODS(Note, text)

 private:
  persist::Cell<std::string> text_{this, "text", "empty"};
};

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::fprintf(stderr, "usage: cli_test_persist_server STORE LISTEN\n");
    return 2;
  }
  auto store = sturdyrefs::Store::open(argv[1]);
  Vat vat;
  captp::Node node(vat, store->identity());
  sturdyrefs::Host refs(vat, *store, sturdyrefs::HostOptions{});
  persist::Host objects(vat, persist::SqliteEngine::open(store->dir() / "objects.db"), {.name = "inspect-test"});
  objects.register_kind<CounterV1>({.name = "counter", .version = 1});
  objects.register_kind<Note>({.name = "note", .version = 1});
  sturdyrefs::PersistentRefs persistent(refs, objects);
  vat.wait(objects.object<CounterV1>("alpha").send<&CounterV1::add>(3));
  objects.register_kind<CounterV2>(
      {.name = "counter", .version = 2, .migrate = [](std::int64_t, persist::Migration& txn) {
         txn.put("total", txn.get<std::int64_t>("count").value_or(0));
         txn.erase("count");
       }});
  vat.wait(objects.object<CounterV2>("alpha").send<&CounterV2::total>());
  vat.wait(objects.object<Note>("first").send<&Note::text>());
  refs.set_hints({node.listen(argv[2]).to_string()});
  refs.serve_on(node);
  std::printf("%s\n", refs.sturdy_ref(refs.admin_token()).c_str());
  std::fflush(stdout);
  vat.run();
} catch (const std::exception& e) {
  std::fprintf(stderr, "cli_test_persist_server: %s\n", e.what());
  return 1;
}
