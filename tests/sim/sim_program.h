// Random programs over the simulated network (sim_net.h), and the invariants
// checked on every run. A program is a seeded sequence of operations, each run
// as a turn of one vat on one of the references that vat holds (its "slots"):
// plain and pipelined sends, sends into record fields, references of the
// vat's own objects, of its peers' and of third vats passed as arguments and
// results, promises made locally, exported pending and resolved later (to a
// local object, an import, a third vat's object, another promise or an
// error), Promise<T>s passed as values, references and answers dropped; and
// faults: links cut, partitions made and healed, vats crashed, restarted and
// joined again; and deposits into each vat's persistent ledger
// (spec/persistence.md), whose store outlives the vat's crashes as a disk does.
//
// Every object reports each delivery to the run's oracle (one thread: it sees
// all vats at once), which checks online:
//   - E-order: the calls sent through one slot arrive in the order sent, all
//     at one object;
//   - at most once: no call is delivered twice;
// and at the end, after everything pending was given an outcome and time ran
// past every deadline:
//   - exactly once or broken: every answer the program still holds settled;
//     a fulfilled one was delivered exactly once and answers what was sent;
//   - no silent breakage: in a run without faults, nothing breaks but what the
//     program broke itself (errors it threw or rejected, overload refusals);
//   - no abort between honest vats: a session ends only by a fault or by the
//     crossed-dial rule;
//   - quiet means empty: once every reference is dropped, every session's
//     tables are empty and no object of the program is alive.
//   - durable: every deposit whose answer arrived is in its ledger's store,
//     whatever crashed since, and each store holds whole deposits only
//     (balance, count and log entries agree).
// With a hostile vat (ProgramConfig::hostile, sim_hostile.h), also:
//   - receiver binding and once: no call pipelined on an accept the host had
//     to refuse (a provision for another vat, a nonce already honoured) is
//     delivered, the refusal is the one spec/captp.md 11 H10 names, and no
//     nonce is honoured twice;
//   - no honest vat aborts the hostile vat's session (the spec answers every
//     handoff abuse it commits with an error);
//   - bounded: no host keeps more of its provisions than max_provisions, and
//     once it stops they expire (provision_ttl) and everything it asked is
//     answered; then it leaves and the tables empty as above.
#pragma once

#include <cstdint>
#include <string>

#include "tests/sim/sim_net.h"

namespace vatic::sim {

// Operation kinds a program may use; shrinking turns them off one by one.
enum Op : std::uint32_t {
  op_ping = 1u << 0,
  op_spawn = 1u << 1,
  op_field = 1u << 2,
  op_pass = 1u << 3,
  op_keep = 1u << 4,
  op_later = 1u << 5,
  op_resolve = 1u << 6,
  op_local_promise = 1u << 7,
  op_drop = 1u << 8,
  op_forget = 1u << 9,
  op_promise_value = 1u << 10,
  op_boom = 1u << 11,
  op_burst = 1u << 12,
  op_cut = 1u << 13,
  op_crash = 1u << 14,
  op_rejoin = 1u << 15,
  op_crossed = 1u << 16,
  op_partition = 1u << 17,
  op_deposit = 1u << 18,
  // With handoff: crash an introducer mid-handoff (sim_handoff.cpp).
  op_crash_introducer = 1u << 19,
  op_all = (1u << 20) - 1,
  op_faults = op_cut | op_crash | op_rejoin | op_partition | op_crash_introducer,
};

struct ProgramConfig {
  std::size_t vats = 0;     // 0: drawn in [3, 5]
  std::size_t steps = 600;  // scheduler steps of the random phase
  std::uint32_t ops = op_all;
  bool verbose = false;  // print every trace event
  // Every node speaks three-party handoff (spec/captp.md 11): a reference
  // into a third vat is handed off, not proxied, where H2 allows. Chosen by
  // the caller, not drawn, so that a seed's program is the same either way.
  bool handoff = false;
  // With handoff: a hostile vat joins the world (tests/sim/sim_hostile.h),
  // spending provisions made for others, replaying nonces, flooding hosts.
  // Its choices are its own; honest runs draw as they did without it.
  bool hostile = false;
};

struct Outcome {
  bool ok = true;
  std::string failure;     // the first invariant broken
  std::uint64_t hash = 0;  // the trace hash
  std::uint64_t events = 0;
  std::string trace_tail;  // the last events, for the report
  std::size_t calls = 0, delivered = 0, faults = 0;
  std::uint64_t work = 0;  // turns and deliveries spent (see NetConfig::work_budget)
  // With handoff: switches to the host and fallbacks to the vine counted by
  // the sessions still open at the end (spec/captp.md 11.9).
  std::uint64_t handoffs = 0, handoff_fallbacks = 0;
  // Dials the vats made through the net (handoff recipients reaching hosts).
  std::uint64_t dials = 0;
  // Calls that passed a reference of a third vat (introductions), of which
  // passed on at once by their recipient to a fourth; introducers crashed
  // mid-handoff; calls on references that went straight to their host when
  // an introducer crashed (each must answer: sim_handoff.cpp).
  std::uint64_t introductions = 0, onward = 0, introducer_crashes = 0, guarded_calls = 0;
  // With a hostile vat: its provides; accepts of provisions made for
  // others, and replays of spent nonces, all refused; descriptors it gave
  // honest vats; and honest introductions it received.
  std::uint64_t hostile_provides = 0, hostile_wrong_accepts = 0, hostile_replays = 0, hostile_refused = 0,
                hostile_descriptors = 0, hostile_tickets = 0;
};

// One run of the program a chooser draws (seeded: the same seed, the same run).
Outcome run_program(Chooser& choose, std::uint64_t randomness_seed, const ProgramConfig& config);
Outcome run_seed(std::uint64_t seed, const ProgramConfig& config);

// A failing seed made small: fewer steps, then fewer operation kinds, while it
// still fails. Returns the smallest failing configuration found.
ProgramConfig shrink(std::uint64_t seed, ProgramConfig config);

std::string describe_ops(std::uint32_t ops);
// "ping,crash" to its bits; 0 if a name is unknown.
std::uint32_t parse_ops(const std::string& names);

}  // namespace vatic::sim
