// The server of the kill -9 test of migrations (migration_kill_test.cpp): a
// vat with a persist::Host on a SQLite store where kind "big" is at version 2
// (spec/persistence.md 6), activating the objects "<prefix>-0" ...
// "<prefix>-<count - 1>" one after another, each stored at version 1, so
// that each activation migrates it (one transaction per object). It prints
// "<key>\n" when an activation answered, that is after its migration was
// committed; then it waits to be killed.
//
//   persist_test_migrate_child <db-file> <prefix> <count>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "persist/sqlite_engine.h"
#include "upgrade_objects.h"

using vatic::persist::test::BigV1;
using vatic::persist::test::BigV2;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <db-file> <prefix> <count>\n", argv[0]);
    return 2;
  }
  try {
    vatic::Vat vat;
    vatic::persist::Host host(vat, vatic::persist::SqliteEngine::open(argv[1]), {.name = "migrate-child"});
    host.register_kind<BigV1>({.name = "big", .version = 1});
    host.register_kind<BigV2>({.name = "big", .version = 2, .migrate = vatic::persist::test::migrate_big});
    const int count = std::stoi(argv[3]);
    for (int i = 0; i < count; ++i) {
      std::string key = fmt::format("{}-{}", argv[2], i);
      std::int64_t v = vat.wait(host.object<BigV2>(key).send<&BigV2::version>());
      if (v != 2) {
        std::fprintf(stderr, "migrate child: %s answered version %lld\n", key.c_str(), static_cast<long long>(v));
        return 3;
      }
      std::string line = key + "\n";
      if (::write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::_Exit(4);
    }
    for (;;) ::pause();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "migrate child: %s\n", e.what());
    return 1;
  }
}
