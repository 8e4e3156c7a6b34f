// VatGroup: N vats on N threads (one per core is the intent), started together
// and stopped cleanly: each vat's gate closes, its loop drains, its thread is
// joined, and only then are the vats released, so no turn runs against a vat
// that is being torn down.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "vat/vat.h"

namespace vatic {

class VatGroup {
 public:
  // Makes `n` vats named "<prefix><i>" and starts a thread for each.
  explicit VatGroup(std::size_t n, std::string prefix = "vat", Clock* clock = nullptr);
  VatGroup(const VatGroup&) = delete;
  VatGroup& operator=(const VatGroup&) = delete;
  ~VatGroup();

  std::size_t size() const noexcept { return vats_.size(); }
  Vat& operator[](std::size_t i) { return *vats_.at(i); }

  // Stops one vat, joins its thread and releases it: far references into it
  // break with `disconnected`.
  void stop_vat(std::size_t i);
  // Stops every vat, joins all threads, then releases them all.
  void stop();

 private:
  std::vector<std::unique_ptr<Vat>> vats_;
  std::vector<std::thread> threads_;
};

}  // namespace vatic
