// vatic_sim: runs the simulation's random programs (tests/sim/sim_program.h)
// for many seeds, or one seed in words; on a failure prints the seed, shrinks
// the run (fewer steps, fewer kinds of operation) and prints the shortened
// trace. scripts/sim is the way in.
//   vatic_sim [--seeds N] [--first S] [--seed S] [--vats K] [--steps N] [--without op,op] [--verbose]
//             [--no-shrink] [--keep-going] [--handoff] [--hostile]
// --handoff: every node speaks three-party handoff (spec/captp.md 11), over a
// partial mesh: recipients dial the hosts they are introduced to, some vats
// do not dial, introducers crash mid-handoff (tests/sim/sim_handoff.cpp).
// --hostile (implies --handoff): a hostile vat joins every run, accepting
// provisions made for others, replaying nonces, flooding hosts with
// provides (tests/sim/sim_hostile.h).
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/sim/sim_program.h"

using namespace vatic::sim;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: vatic_sim [--seeds N] [--first S] [--seed S] [--vats K] [--steps N] [--without op,op] "
               "[--verbose] [--no-shrink] [--keep-going] [--handoff] [--hostile]\n");
  return 2;
}

bool number(const char* text, std::uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(text, &end, 10);
  return end && *end == '\0' && end != text;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t seeds = 100, first = 1, one = 0, vats = 0, steps = 0;
  bool single = false, verbose = false, do_shrink = true, keep_going = false, handoff = false, hostile = false;
  std::size_t failed = 0;
  std::uint64_t handoffs = 0, fallbacks = 0, dials = 0, introductions = 0, onward = 0, introducer_crashes = 0,
                guarded = 0, h_provides = 0, h_wrong = 0, h_replays = 0, h_refused = 0, h_descriptors = 0,
                h_tickets = 0;
  std::uint32_t without = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::uint64_t& out) { return i + 1 < argc && number(argv[++i], out); };
    if (a == "--seeds") {
      if (!value(seeds)) return usage();
    } else if (a == "--first") {
      if (!value(first)) return usage();
    } else if (a == "--seed") {
      if (!value(one)) return usage();
      single = true;
    } else if (a == "--vats") {
      if (!value(vats) || vats < 2 || vats > 16) return usage();
    } else if (a == "--steps") {
      if (!value(steps)) return usage();
    } else if (a == "--without" && i + 1 < argc) {
      std::uint32_t off = parse_ops(argv[++i]);
      if (!off) return usage();
      without |= off;
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "--handoff") {
      handoff = true;
    } else if (a == "--hostile") {
      handoff = hostile = true;
    } else if (a == "--keep-going") {
      keep_going = true;
      do_shrink = false;
    } else if (a == "--no-shrink") {
      do_shrink = false;
    } else {
      return usage();
    }
  }
  ProgramConfig config;
  config.vats = vats;
  config.ops &= ~without;
  config.handoff = handoff;
  config.hostile = hostile;
  if (steps) config.steps = steps;
  if (single) {
    first = one;
    seeds = 1;
  }
  std::size_t calls = 0, faults = 0;
  std::uint64_t most_work = 0, most_work_seed = 0;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    ProgramConfig c = config;
    c.verbose = verbose;
    Outcome o = run_seed(seed, c);
    calls += o.calls;
    handoffs += o.handoffs;
    fallbacks += o.handoff_fallbacks;
    dials += o.dials;
    introductions += o.introductions;
    onward += o.onward;
    introducer_crashes += o.introducer_crashes;
    guarded += o.guarded_calls;
    h_provides += o.hostile_provides;
    h_wrong += o.hostile_wrong_accepts;
    h_replays += o.hostile_replays;
    h_refused += o.hostile_refused;
    h_descriptors += o.hostile_descriptors;
    h_tickets += o.hostile_tickets;
    faults += o.faults;
    if (o.work > most_work) {
      most_work = o.work;
      most_work_seed = seed;
    }
    if (single)
      fmt::print("seed {}: {} ({} calls, {} delivered, {} faults, {} work, trace {:016x})\n", seed,
                 o.ok ? "ok" : "FAILED", o.calls, o.delivered, o.faults, o.work, o.hash);
    if (o.ok) continue;
    fmt::print("FAILED seed {}: {}\n", seed, o.failure);
    ++failed;
    if (keep_going) continue;
    if (do_shrink) {
      ProgramConfig small = shrink(seed, config);
      Outcome s = run_seed(seed, small);
      fmt::print("shrunk: --seed {} --steps {} (operations: {})\n{}\nlast events of the shrunk run:\n{}", seed,
                 small.steps, describe_ops(small.ops), s.failure, s.trace_tail);
    } else {
      fmt::print("last events:\n{}", o.trace_tail);
    }
    return 1;
  }
  if (!single)
    fmt::print("{} seeds from {}: {} passed, {} failed ({} calls, {} faults; most work {} in seed {})\n", seeds, first,
               seeds - failed, failed, calls, faults, most_work, most_work_seed);
  if (!single && handoff)
    fmt::print(
        "handoffs completed {}, fell back {} (counted by the sessions open at the end); {} dials; {} introductions, "
        "{} passed on at once; {} introducers crashed mid-handoff; {} calls on references guarded against an "
        "introducer's crash\n",
        handoffs, fallbacks, dials, introductions, onward, introducer_crashes, guarded);
  if (!single && hostile)
    fmt::print(
        "hostile vat: {} provides, {} descriptors given, {} accepts of others' provisions, {} introductions received, "
        "{} replays; {} refused as H10 says\n",
        h_provides, h_descriptors, h_wrong, h_tickets, h_replays, h_refused);
  return failed ? 1 : 0;
}
