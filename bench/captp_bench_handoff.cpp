// captp.handoff.*: what three-party handoff (spec/captp.md 11) buys. Two
// server processes with handoff offered: C serves a Bench, B (an Introducer)
// holds C's Bench and hands it out. Measured in one run, each on its own
// client node and over unix sockets:
//   - plain: A's echo round trips on its own session with C;
//   - relayed: a client without handoff gets C's Bench from B, so B proxies
//     it (the path every reference took before handoff, forced here);
//   - direct: a client with handoff and a session with C already gets C's
//     Bench from B; its calls switch to that session (H6 1, H7, H11);
//   - introduce: a fresh client with handoff and no session with C, from its
//     call to B to the first answer from C through what B handed it over a
//     session it dials (H6 3), calling meanwhile (those calls go through B,
//     H5); when it has to fall back to the vine instead (H12), the figure is
//     not reported and stderr says why.
#include <string>
#include <vector>

#include "bench/captp_bench.h"

namespace captp_bench {

namespace {

captp::NodeOptions with_handoff() {
  captp::NodeOptions o;
  o.session.handoff = true;
  return o;
}

captp::SessionStats stats_with(Client& c, const captp::VatId& peer) {
  for (const auto& s : c.node.sessions())
    if (s.peer == peer) return s.stats;
  return {};
}

double rtt_p50(Client& c, Ref<Bench>& b) {
  const auto warm = scaled(1'000, 10), count = scaled(10'000, 50);
  std::vector<double> lat;
  lat.reserve(count);
  for (std::int64_t i = 0; i < warm + count; ++i) {
    auto t0 = BenchClock::now();
    std::int64_t r = c.await(b.send<&Bench::echo>(i));
    double us = micros_since(t0);
    if (r != i) die("handoff: echo returned " + std::to_string(r) + " for " + std::to_string(i));
    if (i >= warm) lat.push_back(us);
  }
  return percentile(lat, 50);
}

}  // namespace

std::vector<std::string> handoff_metrics() {
  return {"captp.handoff.plain_rtt_p50_us",  "captp.handoff.relayed_rtt_p50_us",  "captp.handoff.direct_rtt_p50_us",
          "captp.handoff.direct_over_plain", "captp.handoff.direct_over_relayed", "captp.handoff.introduce_us"};
}

void run_handoff() {
  Server host = start_server("unix:" + std::string(g_sockpath_host), ServeOptions{.handoff = true});
  Server intro = start_server(
      "unix:" + std::string(g_sockpath_intro),
      ServeOptions{.handoff = true, .introduce_id = host.id.to_text(), .introduce_at = host.at.to_string()});
  progress("handoff: host C %d, introducer B %d", static_cast<int>(host.pid), static_cast<int>(intro.pid));
  try {
    // Relayed: this client does not offer handoff, so B proxies.
    double relayed = 0;
    {
      captp::NodeOptions without = with_handoff();
      without.session.handoff = false;
      Client a(without);
      Ref<Introducer> b = a.node.connect<Introducer>(intro.id, intro.at);
      Ref<Bench> obj = a.await(b.send<&Introducer::target>());
      relayed = rtt_p50(a, obj);
      if (a.node.sessions().size() != 1) die("handoff: the client without handoff reached C itself");
      progress("handoff: relayed through B: p50 %.1f us", relayed);
    }
    // Plain, then direct, on one client holding a session with C.
    double plain = 0, direct = 0;
    {
      Client a(with_handoff());
      Ref<Bench> c = a.node.connect<Bench>(host.id, host.at);
      plain = rtt_p50(a, c);
      Ref<Introducer> b = a.node.connect<Introducer>(intro.id, intro.at);
      Ref<Bench> obj = a.await(b.send<&Introducer::target>());
      a.await(obj.send<&Bench::echo>(-1));
      captp::SessionStats s = stats_with(a, intro.id);
      if (s.handoffs != 1)
        die("handoff: the client with a session to C did not switch (handoffs " + std::to_string(s.handoffs) +
            ", fallbacks " + std::to_string(s.handoff_fallbacks) + ": " + s.last_handoff_fallback + ")");
      std::uint64_t relayed_by_b = stats_with(a, intro.id).messages_out;
      direct = rtt_p50(a, obj);
      if (stats_with(a, intro.id).messages_out != relayed_by_b) die("handoff: calls still went through B");
    }
    emit("captp.handoff.plain_rtt_p50_us", plain, "us");
    emit("captp.handoff.relayed_rtt_p50_us", relayed, "us");
    emit("captp.handoff.direct_rtt_p50_us", direct, "us");
    emit("captp.handoff.direct_over_plain", direct / plain, "ratio");
    emit("captp.handoff.direct_over_relayed", direct / relayed, "ratio");

    // Introduce: fresh clients, none of which knows C.
    std::vector<double> intro_us;
    std::string fell_back;
    for (int round = 0; round < static_cast<int>(scaled(20, 2)) && fell_back.empty(); ++round) {
      Client a(with_handoff());
      Ref<Introducer> b = a.node.connect<Introducer>(intro.id, intro.at);
      a.await(b.send<&Introducer::ping>());  // the session with B is up: not part of the figure
      auto t0 = BenchClock::now();
      Ref<Bench> obj = a.await(b.send<&Introducer::target>());
      // The first calls may go through B while A dials C (H5): call until one
      // is answered over A's own session with C (the switch, H11) or A falls
      // back (H12).
      captp::SessionStats s;
      for (std::int64_t n = round;; ++n) {
        a.await(obj.send<&Bench::echo>(n));
        s = stats_with(a, intro.id);
        if (s.handoffs > 0 || s.handoff_fallbacks > 0 || micros_since(t0) > 10e6) break;
      }
      double us = micros_since(t0);
      if (s.handoffs == 0) fell_back = s.last_handoff_fallback.empty() ? "no switch" : s.last_handoff_fallback;
      intro_us.push_back(us);
    }
    if (fell_back.empty())
      emit("captp.handoff.introduce_us", percentile(intro_us, 50), "us");
    else
      progress("handoff: introduce_us not reported: a client without a session to C fell back to B (%s)",
               fell_back.c_str());
  } catch (const VatError& e) {
    die("captp.handoff.*: a call broke: " + to_string(e.error()));
  }
  kill_servers();
}

}  // namespace captp_bench
