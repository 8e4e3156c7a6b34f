#include "vat/simulation.h"

#include <fmt/format.h>

namespace vatic {

Simulation::Simulation(std::size_t n, std::string prefix) {
  vats_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    VatOptions o;
    o.name = fmt::format("{}{}", prefix, i);
    o.clock = &clock_;
    vats_.push_back(std::make_unique<Vat>(std::move(o)));
  }
}

Simulation::~Simulation() {
  // Release all before freeing any, so no vat is freed while another still
  // holds turns addressed to it.
  for (auto& v : vats_) v->release();
}

std::size_t Simulation::run_until_idle() {
  std::size_t total = 0;
  for (;;) {
    std::size_t round = 0;
    for (auto& v : vats_) round += v->run_until_idle();
    total += round;
    if (round == 0) {
      // A vat can have been woken (work in its inbox) without running a turn
      // yet; one more quiet round confirms quiescence.
      std::size_t again = 0;
      for (auto& v : vats_) again += v->run_until_idle();
      total += again;
      if (again == 0) return total;
    }
  }
}

std::size_t Simulation::advance(Duration d) {
  clock_.advance(d);
  return run_until_idle();
}

}  // namespace vatic
