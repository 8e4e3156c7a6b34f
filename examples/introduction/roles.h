// The introduction example's three roles, each a process of the one
// `introduction` binary (main.cpp parses the command line):
//
//   host        C: serves a Counter
//   introducer  B: dials C, hands C's Counter to whoever dials B
//   recipient   A: gets the Counter from B, calls it, and goes on calling when
//                  told B is gone (commands on stdin)
//
// Each prints machine-readable lines on stdout (documented at each *_main)
// for tests/examples/introduction_test.cpp and scripts/demo to wait for.
// Every role sets SessionOptions::handoff explicitly (on unless --no-handoff).
#pragma once

#include <cstdint>
#include <string>

namespace introduction {

struct HostArgs {
  std::string listen;  // "unix:PATH" or "host:port" (port 0: any free port)
  bool handoff = true;
};
struct IntroducerArgs {
  std::string listen;
  std::string host_id, host_at;  // C's vat id and address
  bool handoff = true;
};
struct RecipientArgs {
  std::string introducer_id, introducer_at;  // B's vat id and address
  std::int64_t calls = 3;                    // calls made before "ready"
  bool handoff = true;
};

int host_main(const HostArgs& args);
int introducer_main(const IntroducerArgs& args);
int recipient_main(const RecipientArgs& args);

}  // namespace introduction
