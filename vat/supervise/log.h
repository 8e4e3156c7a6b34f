// SupervisionLog: a vat's supervisors and its crash log, what the admin
// object's `tree` and `crashes` views read. One per vat, made on first use and
// shared by the vat's supervisors so that it outlives the last of them.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace vatic {
class Vat;
class Supervisor;
}  // namespace vatic

namespace vatic::detail {

struct CrashRecord {
  std::int64_t time_ms = 0;  // unix
  std::string supervisor;
  std::string child;
  std::string exception;
  std::string message;
  std::int64_t restarts = 0;
};

class SupervisionLog {
 public:
  static std::shared_ptr<SupervisionLog> of(Vat& v);

  void add(Supervisor* s) { supervisors_.push_back(s); }
  void remove(Supervisor* s) { std::erase(supervisors_, s); }
  void crashed(CrashRecord r);

  const std::vector<Supervisor*>& supervisors() const noexcept { return supervisors_; }
  const std::deque<CrashRecord>& crashes() const noexcept { return crashes_; }

  static constexpr std::size_t kMaxCrashes = 256;

 private:
  std::vector<Supervisor*> supervisors_;
  std::deque<CrashRecord> crashes_;
};

}  // namespace vatic::detail
