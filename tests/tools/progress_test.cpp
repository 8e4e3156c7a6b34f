// The progress line of `vatic get` and `vatic put` (tools/progress.h): its
// text as a pure function of bytes, total and elapsed time, and, with a manual
// clock and a pipe for stderr, that it is redrawn at most ten times a second,
// never drawn for a quick transfer, erased at the end, and silent when off.
#include "tools/progress.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace vatic::test {
namespace {

using cli::format_bytes;
using cli::format_progress;
using cli::Progress;
using namespace std::chrono_literals;

TEST(Progress, BytesUseBinaryUnitsWithOneDecimal) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(5.0 * 1024 * 1024), "5.0 MiB");
  EXPECT_EQ(format_bytes(3.3 * 1024 * 1024 * 1024), "3.3 GiB");
  EXPECT_EQ(format_bytes(2048.0 * 1024 * 1024 * 1024 * 1024), "2048.0 TiB");
}

TEST(Progress, LineShowsBytesShareRateAndEta) {
  // 1 MiB of 4 MiB in 2 s: 512 KiB/s, 3 MiB left: 6 s.
  EXPECT_EQ(format_progress(1 << 20, 4 << 20, 2.0), "1.0 MiB / 4.0 MiB  25%  512.0 KiB/s  ETA 0:06");
  EXPECT_EQ(format_progress(4 << 20, 4 << 20, 2.0), "4.0 MiB / 4.0 MiB  100%  2.0 MiB/s  ETA 0:00");
  // Hours when needed: 1 KiB/s with 3725 KiB left.
  EXPECT_EQ(format_progress(1024, 3726 * 1024, 1.0), "1.0 KiB / 3.6 MiB  0%  1.0 KiB/s  ETA 1:02:05");
}

TEST(Progress, UnknownTotalShowsBytesAndRateOnly) {
  EXPECT_EQ(format_progress(3 << 20, std::nullopt, 1.5), "3.0 MiB  2.0 MiB/s");
}

TEST(Progress, NoRateOrEtaBeforeTimeHasPassed) {
  EXPECT_EQ(format_progress(100, 1000, 0.0), "100 B / 1000 B  10%  -- B/s  ETA --:--");
  EXPECT_EQ(format_progress(0, 1000, 5.0), "0 B / 1000 B  0%  0 B/s  ETA --:--");
  EXPECT_EQ(format_progress(0, 0, 1.0), "0 B / 0 B  100%  0 B/s  ETA --:--");
}

class ProgressDrawing : public ::testing::Test {
 protected:
  ProgressDrawing() { EXPECT_EQ(::pipe2(fds_, O_CLOEXEC | O_NONBLOCK), 0); }
  ~ProgressDrawing() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  // Everything drawn since the last call.
  std::string drawn() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds_[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }

  int fds_[2] = {-1, -1};
  Progress::Clock::time_point now_{};
};

TEST_F(ProgressDrawing, RedrawsInPlaceAtMostTenTimesASecondAndErasesAtTheEnd) {
  Progress p(
      true, 1000, [this] { return now_; }, fds_[1]);
  p.update(10);  // at once: nothing yet
  now_ += 50ms;
  p.update(50);
  EXPECT_EQ(drawn(), "") << "a transfer shorter than 100 ms draws nothing";
  now_ += 50ms;
  p.update(100);
  EXPECT_EQ(drawn(), "\r100 B / 1000 B  10%  1000 B/s  ETA 0:01\x1b[K");
  now_ += 60ms;
  p.update(160);
  EXPECT_EQ(drawn(), "") << "60 ms after the last draw";
  now_ += 40ms;
  p.update(200);
  EXPECT_EQ(drawn(), "\r200 B / 1000 B  20%  1000 B/s  ETA 0:01\x1b[K");
  p.finish();
  EXPECT_EQ(drawn(), "\r\x1b[K");
  p.finish();
  now_ += 1s;
  p.update(300);
  EXPECT_EQ(drawn(), "") << "nothing after finish";
}

TEST_F(ProgressDrawing, AQuickTransferLeavesNothingToErase) {
  {
    Progress p(
        true, 1000, [this] { return now_; }, fds_[1]);
    now_ += 10ms;
    p.update(1000);
  }  // the destructor finishes
  EXPECT_EQ(drawn(), "");
}

TEST_F(ProgressDrawing, DisabledDrawsNothing) {
  {
    Progress p(
        false, 1000, [this] { return now_; }, fds_[1]);
    for (int i = 0; i < 10; ++i) {
      now_ += 200ms;
      p.update(static_cast<std::uint64_t>(i) * 100);
    }
  }
  EXPECT_EQ(drawn(), "");
}

}  // namespace
}  // namespace vatic::test
