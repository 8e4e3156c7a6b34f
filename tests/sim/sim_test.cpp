// The simulation as a test: determinism (one seed, one trace: the same bytes
// on every link, the same deliveries in the same order).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/sim/sim_program.h"

namespace vatic::sim {
namespace {

TEST(Simulation, OneSeedGivesOneTrace) {
  ProgramConfig c;
  c.steps = 400;
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    Outcome a = run_seed(seed, c);
    Outcome b = run_seed(seed, c);
    EXPECT_EQ(a.hash, b.hash) << "seed " << seed << " ran two ways";
    EXPECT_EQ(a.events, b.events);
    EXPECT_GT(a.delivered, 0u) << "a program that delivers nothing checks nothing";
  }
  EXPECT_NE(run_seed(1, c).hash, run_seed(2, c).hash);
}

}  // namespace
}  // namespace vatic::sim
