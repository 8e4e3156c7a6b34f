// libFuzzer target: the deterministic simulation (tests/sim) with every choice
// of its scheduler and its random program read from the fuzz input: which vat
// runs, which link delivers how many bytes, when the clock moves, which
// operation and which fault comes next, and whether the vats hand references
// off and a hostile vat joins them (the first byte). Coverage guides the fuzzer towards
// interleavings a seeded generator reaches rarely. A broken invariant aborts
// with the run's last events; rerunning the artifact replays the same run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tests/sim/sim_program.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vatic::sim;
  // The first byte's low bit turns three-party handoff on (as nodes have it
  // by default; spec/captp.md 11): a partial mesh, dials, introductions.
  ProgramConfig config;
  config.handoff = size > 0 && (data[0] & 1) != 0;
  // Its next bit adds the hostile vat (tests/sim/sim_hostile.h) to a handoff
  // run: the fuzzer then steers the honest vats around its attacks.
  config.hostile = config.handoff && (data[0] & 2) != 0;
  if (size > 0) ++data, --size;
  BytesChooser choose(data, size);
  // Long enough for a few hundred calls; the input runs out first for most.
  config.steps = 300;
  Outcome o = run_program(choose, 0, config);
  if (!o.ok) {
    std::fprintf(stderr, "fuzz_sim: invariant broken: %s\nlast events:\n%s", o.failure.c_str(), o.trace_tail.c_str());
    std::abort();
  }
  return 0;
}
