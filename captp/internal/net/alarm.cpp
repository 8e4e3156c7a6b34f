#include "captp/internal/net/alarm.h"

#include <boost/asio/steady_timer.hpp>

#include "vat/vat.h"

namespace vatic::captp {
namespace {

class VatAlarm final : public Alarm {
 public:
  explicit VatAlarm(Vat& vat) : vat_(vat) {}
  ~VatAlarm() override { timer_.cancel(); }
  void set(TimePoint at, std::function<void()> f) override {
    timer_.cancel();
    // A deadline already passed is due now: the vat fires it on its next turn.
    timer_ = vat_.after(std::max(at - vat_.clock().now(), Duration::zero()), std::move(f));
  }
  void cancel() noexcept override { timer_.cancel(); }

 private:
  Vat& vat_;
  Timer timer_;
};

class VatAlarms final : public Alarms {
 public:
  explicit VatAlarms(Vat& vat) : vat_(vat) {}
  const Clock& clock() const noexcept override { return vat_.clock(); }
  std::unique_ptr<Alarm> make() override { return std::make_unique<VatAlarm>(vat_); }

 private:
  Vat& vat_;
};

class AsioAlarm final : public Alarm {
 public:
  explicit AsioAlarm(boost::asio::io_context& io) : timer_(io) {}
  void set(TimePoint at, std::function<void()> f) override {
    // A fresh slot per setting: a wait that completed before it was replaced
    // or cancelled finds its slot gone (the alarm too may be gone by then).
    slot_ = std::make_shared<std::function<void()>>(std::move(f));
    timer_.expires_at(std::chrono::steady_clock::time_point(at.time_since_epoch()));
    timer_.async_wait([weak = std::weak_ptr(slot_)](const boost::system::error_code& ec) {
      auto slot = weak.lock();
      if (ec || !slot || !*slot) return;
      auto fn = std::move(*slot);
      *slot = nullptr;
      fn();
    });
  }
  void cancel() noexcept override {
    slot_.reset();
    timer_.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
  std::shared_ptr<std::function<void()>> slot_;
};

class AsioAlarms final : public Alarms {
 public:
  explicit AsioAlarms(boost::asio::io_context& io) : io_(io) {}
  const Clock& clock() const noexcept override { return steady_clock(); }
  std::unique_ptr<Alarm> make() override { return std::make_unique<AsioAlarm>(io_); }

 private:
  boost::asio::io_context& io_;
};

}  // namespace

std::shared_ptr<Alarms> vat_alarms(Vat& vat) { return std::make_shared<VatAlarms>(vat); }
std::shared_ptr<Alarms> asio_alarms(boost::asio::io_context& io) { return std::make_shared<AsioAlarms>(io); }

}  // namespace vatic::captp
