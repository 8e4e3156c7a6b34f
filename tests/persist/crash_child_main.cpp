// The server of the kill -9 durability test (kill_test.cpp): a vat with a
// persist::Host on a SQLite store, depositing random amounts into eight
// Ledger objects with up to 16 calls in flight, forever. Each answer it gets
// is written to stdout as one line "<key> <balance>" (one write(2) below
// PIPE_BUF, so a line arrives whole or not at all): the line is the
// acknowledgement, and it leaves only after the output gate released the
// answer, that is after the commit that carries the deposit.
//
//   persist_test_crash_child <db-file> <seed>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "persist/sqlite_engine.h"
#include "persist_objects.h"

using vatic::persist::test::Ledger;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <db-file> <seed>\n", argv[0]);
    return 2;
  }
  try {
    vatic::Vat vat;
    vatic::persist::Host host(vat, vatic::persist::SqliteEngine::open(argv[1]), {.name = "crash-child"});
    host.register_kind<Ledger>({.name = "ledger"});
    std::mt19937_64 rng(std::stoull(argv[2]));
    std::vector<vatic::Ref<Ledger>> accounts;
    for (int i = 0; i < 8; ++i) accounts.push_back(host.object<Ledger>(fmt::format("acct{}", i)));
    int in_flight = 0;
    for (;;) {
      for (; in_flight < 16; ++in_flight) {
        std::size_t i = rng() % accounts.size();
        auto amount = static_cast<std::int64_t>(1 + rng() % 100);
        accounts[i].send<&Ledger::deposit>(amount).then(
            [i, &in_flight](std::int64_t balance) {
              std::string line = fmt::format("acct{} {}\n", i, balance);
              if (::write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
                std::_Exit(4);  // the test stopped reading
              --in_flight;
            },
            [](const vatic::Error& e) {
              std::fprintf(stderr, "crash child: a deposit broke: %s\n", vatic::to_string(e).c_str());
              std::_Exit(3);
            });
      }
      vat.run_until_idle();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash child: %s\n", e.what());
    return 1;
  }
}
