#include "vat/vat_group.h"

#include <fmt/format.h>

namespace vatic {

VatGroup::VatGroup(std::size_t n, std::string prefix, Clock* clock) {
  vats_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    VatOptions o;
    o.name = fmt::format("{}{}", prefix, i);
    o.clock = clock;
    vats_.push_back(std::make_unique<Vat>(std::move(o)));
  }
  threads_.reserve(n);
  for (auto& v : vats_) threads_.emplace_back([vat = v.get()] { vat->run(); });
  // Only return once every vat runs on its thread, so that from here on a
  // reference used from outside is refused rather than racing.
  for (auto& v : vats_)
    while (!v->runs_elsewhere()) std::this_thread::yield();
}

VatGroup::~VatGroup() { stop(); }

void VatGroup::stop_vat(std::size_t i) {
  vats_.at(i)->stop();
  if (threads_[i].joinable()) threads_[i].join();
  vats_[i]->release();
}

void VatGroup::stop() {
  for (auto& v : vats_) v->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  for (auto& v : vats_) v->release();
}

}  // namespace vatic
