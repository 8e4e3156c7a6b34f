#include "vat/recorder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/vat/test_objects.h"
#include "vat/internal/arg_summary.h"
#include "vat/introspect.h"

namespace vatic {
namespace {

using test::Counter;
using test::Pending;
using test::Point;

// Its methods take as long as they are told, on the vat's manual clock.
class Work : public Object {
 public:
  explicit Work(ManualClock* clock) : clock_(clock) {}
  std::int64_t run(std::int64_t ns, std::string label) {
    clock_->advance(std::chrono::nanoseconds(ns));
    return static_cast<std::int64_t>(label.size());
  }
  std::int64_t many(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d, std::int64_t e, std::int64_t f,
                    std::int64_t g) {
    return a + b + c + d + e + f + g;
  }
  void mixed(bool, double, Bytes, std::vector<std::int64_t>, Point, Ref<Counter>) {}
  void text(std::string) {}
  void stop_recording() { vat().set_recording(false); }

  VATIC_METHODS(Work, run, many, mixed, text, stop_recording)

 private:
  ManualClock* clock_;
};

const Value& field(const Value& record, std::string_view name) {
  const Value* v = record.as_record().find(name);
  if (!v) throw std::runtime_error("no field " + std::string(name));
  return *v;
}
std::string text(const Value& record, std::string_view name) { return field(record, name).as_text(); }

const List& dump(Vat& vat) {
  static Value last;
  last = recorder_dump(vat);
  return last.as_list();
}

// The "method" record of `method`, from vat_stats.
Value method_row(Vat& vat, std::string_view method) {
  Value stats = vat_stats(vat);
  for (const Value& m : field(stats, "methods").as_list())
    if (text(m, "method") == method) return m;
  throw std::runtime_error("no stats for " + std::string(method));
}

VatOptions recording(ManualClock* clock, std::size_t capacity = 4096, std::size_t max_methods = 1024) {
  return VatOptions{.name = "rec", .clock = clock, .recorder = {true, capacity, max_methods, 1}};
}

TEST(FlightRecorder, IsOffWhenAskedSo) {
  Vat vat{VatOptions{.recorder = {.enabled = false}}};
  EXPECT_EQ(vat.recorder(), nullptr);
  auto c = vat.make<Counter>();
  c.send<&Counter::inc>(1);
  vat.run_until_idle();
  EXPECT_TRUE(dump(vat).empty());
  EXPECT_FALSE(field(vat_stats(vat), "recording").as_bool());
  EXPECT_EQ(field(vat_stats(vat), "recorder_local_sample_every").as_int(), 0);
}

// On by default, local deliveries sampled: about one in 64 is kept, and the
// method's estimated count stands for all of them.
TEST(FlightRecorder, IsOnByDefaultAndSamplesLocalDeliveries) {
  Vat vat;
  ASSERT_NE(vat.recorder(), nullptr);
  EXPECT_EQ(vat.recorder()->local_sample_every(), 64u);
  auto c = vat.make<Counter>();
  constexpr int kTotal = 64'000;
  for (int i = 0; i < kTotal; ++i) c.send<&Counter::inc>(1);
  vat.run_until_idle();
  std::uint64_t kept = vat.recorder()->recorded();
  // The gaps are uniform in [1, 127]: 1 000 expected, far from both ends.
  EXPECT_GT(kept, 700u);
  EXPECT_LT(kept, 1300u);
  Value row = method_row(vat, "inc");
  EXPECT_EQ(field(row, "count").as_int(), static_cast<std::int64_t>(kept));
  EXPECT_EQ(field(row, "estimated_count").as_int(), static_cast<std::int64_t>(kept) * 64);
  EXPECT_EQ(field(vat_stats(vat), "recorder_local_sample_every").as_int(), 64);
}

// A workload that alternates two methods is sampled in both: the gaps are
// random, not a period it could fall in step with.
TEST(FlightRecorder, SamplingDoesNotFallInStepWithAnAlternatingWorkload) {
  ManualClock clock;
  VatOptions o = recording(&clock);
  o.recorder.local_sample_every = 2;
  Vat vat(o);
  auto w = vat.make<Work>(&clock);
  for (int i = 0; i < 2000; ++i) {
    w.send<&Work::text>(std::string("t"));
    w.send<&Work::run>(std::int64_t{1}, std::string("r"));
  }
  vat.run_until_idle();
  EXPECT_GT(field(method_row(vat, "text"), "count").as_int(), 500);
  EXPECT_GT(field(method_row(vat, "run"), "count").as_int(), 500);
}

// Deliveries with a sender (another vat here) are all kept, whatever the
// local sampling.
TEST(FlightRecorder, DeliveriesFromAnotherVatAreAllRecorded) {
  VatGroup g(2, "grp");
  auto target = g[0].submit([&] { return portable(g[0].make<Counter>()); }).get();
  constexpr int kCalls = 200;
  g[1].submit([&] {
        auto far = target.take();
        for (int i = 1; i < kCalls; ++i) far.send<&Counter::inc>(1);
        return far.send<&Counter::inc>(1);
      })
      .get();
  auto [kept, every] = g[0].submit([&] {
                             return std::pair{g[0].recorder()->recorded(), g[0].recorder()->local_sample_every()};
                           })
                           .get();
  EXPECT_EQ(every, 64u);
  EXPECT_EQ(kept, static_cast<std::uint64_t>(kCalls));
}

TEST(FlightRecorder, RingStaysBoundedUnderAMillionDeliveries) {
  ManualClock clock;
  Vat vat(recording(&clock, 1000));
  auto c = vat.make<Counter>();
  constexpr int kTotal = 1'000'000, kBatch = 10'000;
  for (int i = 0; i < kTotal; i += kBatch) {
    for (int k = 0; k < kBatch; ++k) c.send<&Counter::inc>(1);
    vat.run_until_idle();
  }
  FlightRecorder* rec = vat.recorder();
  EXPECT_EQ(rec->capacity(), 1000u);
  EXPECT_EQ(rec->size(), 1000u);
  EXPECT_EQ(rec->recorded(), static_cast<std::uint64_t>(kTotal));
  const List& ring = dump(vat);
  ASSERT_EQ(ring.size(), 1000u);
  for (std::size_t i = 0; i < ring.size(); ++i)
    EXPECT_EQ(field(ring[i], "seq").as_int(), kTotal - 1000 + 1 + static_cast<std::int64_t>(i));
  EXPECT_EQ(field(ring.back(), "args").as_text(), "1");
  EXPECT_EQ(field(method_row(vat, "inc"), "count").as_int(), kTotal);
  EXPECT_EQ(field(vat_stats(vat), "methods").as_list().size(), 1u);
}

TEST(FlightRecorder, TypedSendRecordsTargetMethodArgsSenderOutcomeAndDuration) {
  ManualClock clock;
  Vat vat(recording(&clock));
  auto w = vat.make<Work>(&clock);
  clock.advance(std::chrono::seconds(3));
  EXPECT_EQ(vat.wait(w.send<&Work::run>(std::int64_t{5000}, std::string("x"))), 1);
  const List& ring = dump(vat);
  ASSERT_EQ(ring.size(), 1u);
  const Value& e = ring[0];
  EXPECT_EQ(e.as_record().label, "delivery");
  EXPECT_EQ(field(e, "seq").as_int(), 1);
  EXPECT_EQ(text(e, "target").substr(0, 5), "Work#");
  EXPECT_EQ(text(e, "method"), "run");
  EXPECT_EQ(text(e, "args"), "5000, \"x\"");
  EXPECT_EQ(text(e, "sender"), "rec");
  EXPECT_EQ(text(e, "outcome"), "ok");
  EXPECT_DOUBLE_EQ(field(e, "duration_us").as_double(), 5.0);
  EXPECT_GT(field(e, "time_ms").as_int(), 1'600'000'000'000);  // wall time, not the manual clock
}

TEST(FlightRecorder, SendByNameSharesTheTypedRowAndSummarizesValues) {
  ManualClock clock;
  Vat vat(recording(&clock));
  auto w = vat.make<Work>(&clock);
  vat.wait(w.send<&Work::run>(std::int64_t{1000}, std::string("a")));
  vat.wait(w.send("run", 3000, std::string("tab\there")));
  const List& ring = dump(vat);
  ASSERT_EQ(ring.size(), 2u);
  EXPECT_EQ(text(ring[1], "method"), "run");
  EXPECT_EQ(text(ring[1], "args"), "3000, \"tab\\there\"");
  EXPECT_DOUBLE_EQ(field(ring[1], "duration_us").as_double(), 3.0);
  Value row = method_row(vat, "run");
  EXPECT_EQ(text(row, "class"), "Work");
  EXPECT_EQ(field(row, "count").as_int(), 2);
  EXPECT_DOUBLE_EQ(field(row, "max_us").as_double(), 3.0);
}

TEST(FlightRecorder, BrokenOutcomesCountAsFailures) {
  ManualClock clock;
  Vat vat(recording(&clock));
  auto c = vat.make<Counter>();
  auto a = c.send<&Counter::boom>();
  auto b = c.send<&Counter::fail_with>(static_cast<int>(ErrorKind::overloaded), std::string("busy"));
  auto u = c.send("no_such_method", 1);
  auto ok = c.send<&Counter::inc>(1);
  vat.run_until_idle();
  ASSERT_TRUE(a.is_broken() && b.is_broken() && u.is_broken() && !ok.is_broken());
  const List& ring = dump(vat);
  ASSERT_EQ(ring.size(), 4u);
  EXPECT_EQ(text(ring[0], "outcome"), "broken:failed");
  EXPECT_EQ(text(ring[1], "outcome"), "broken:overloaded");
  EXPECT_EQ(text(ring[2], "outcome"), "broken:unimplemented");
  EXPECT_EQ(text(ring[2], "method"), "no_such_method");  // what was asked, though its row is "(unknown)"
  EXPECT_EQ(text(ring[2], "target").substr(0, 8), "Counter#");
  EXPECT_EQ(text(ring[3], "outcome"), "ok");
  EXPECT_EQ(field(method_row(vat, "boom"), "failures").as_int(), 1);
  EXPECT_EQ(field(method_row(vat, "fail_with"), "failures").as_int(), 1);
  EXPECT_EQ(field(method_row(vat, "(unknown)"), "failures").as_int(), 1);
  EXPECT_EQ(field(method_row(vat, "inc"), "failures").as_int(), 0);
}

TEST(FlightRecorder, MirandaMethodsKeepTheirNames) {
  ManualClock clock;
  Vat vat(recording(&clock));
  auto c = vat.make<Counter>();
  c.send("__whenBroken");
  vat.run_until_idle();
  EXPECT_EQ(text(dump(vat)[0], "method"), "__whenBroken");
  EXPECT_EQ(field(method_row(vat, "__whenBroken"), "count").as_int(), 1);
}

TEST(FlightRecorder, AResultStillWorkingAfterTheTurnIsPending) {
  ManualClock clock;
  Vat vat(recording(&clock));
  auto p = vat.make<Pending>();
  auto answer = p.send<&Pending::wait>();
  vat.run_until_idle();
  EXPECT_EQ(text(dump(vat)[0], "outcome"), "pending");
  p.send<&Pending::release_all>(std::int64_t{1});
  vat.run_until_idle();
  EXPECT_EQ(vat.wait(answer), 1);
}

TEST(FlightRecorder, PercentilesFollowTheDurations) {
  ManualClock clock;
  Vat vat(recording(&clock));
  auto w = vat.make<Work>(&clock);
  for (int us = 1; us <= 100; ++us) w.send<&Work::run>(std::int64_t{us * 1000}, std::string());
  vat.run_until_idle();
  Value row = method_row(vat, "run");
  EXPECT_EQ(field(row, "count").as_int(), 100);
  // Quarter-octave buckets: within 13% of the exact nearest-rank figure.
  EXPECT_NEAR(field(row, "p50_us").as_double(), 50, 50 * 0.13);
  EXPECT_NEAR(field(row, "p90_us").as_double(), 90, 90 * 0.13);
  EXPECT_NEAR(field(row, "p99_us").as_double(), 99, 99 * 0.13);
  EXPECT_LE(field(row, "p99_us").as_double(), 100);
  EXPECT_DOUBLE_EQ(field(row, "max_us").as_double(), 100);
}

TEST(FlightRecorder, RealTicksGiveDurationsAndTimesInRange) {
  Vat vat(VatOptions{.recorder = {.enabled = true, .local_sample_every = 1}});
  auto c = vat.make<Counter>();
  auto before =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  for (int i = 0; i < 100; ++i) c.send<&Counter::inc>(i);
  vat.run_until_idle();
  const List& ring = dump(vat);
  ASSERT_EQ(ring.size(), 100u);
  for (const Value& e : ring) {
    EXPECT_GE(field(e, "duration_us").as_double(), 0);
    EXPECT_LT(field(e, "duration_us").as_double(), 1e5);
    EXPECT_NEAR(static_cast<double>(field(e, "time_ms").as_int()), static_cast<double>(before), 5000);
  }
  Value row = method_row(vat, "inc");
  EXPECT_LE(field(row, "p50_us").as_double(), field(row, "max_us").as_double());
}

TEST(FlightRecorder, SwitchesOnAndOffAtRunTime) {
  ManualClock clock;
  Vat vat(VatOptions{
      .name = "rec", .clock = &clock, .recorder = {.enabled = false, .capacity = 16, .local_sample_every = 1}});
  auto w = vat.make<Work>(&clock);
  w.send<&Work::run>(std::int64_t{1}, std::string());
  vat.run_until_idle();
  EXPECT_EQ(vat.recorder(), nullptr);

  vat.set_recording(true);
  ASSERT_NE(vat.recorder(), nullptr);
  EXPECT_EQ(vat.recorder()->capacity(), 16u);
  w.send<&Work::run>(std::int64_t{1}, std::string());
  vat.run_until_idle();
  EXPECT_EQ(dump(vat).size(), 1u);
  EXPECT_EQ(field(vat_stats(vat), "recorded").as_int(), 1);

  // Off from inside a recorded delivery: that delivery still ends its entry.
  w.send<&Work::stop_recording>();
  vat.run_until_idle();
  EXPECT_EQ(vat.recorder(), nullptr);
  EXPECT_TRUE(dump(vat).empty());

  vat.set_recording(true);  // afresh
  w.send<&Work::run>(std::int64_t{1}, std::string());
  vat.run_until_idle();
  EXPECT_EQ(field(dump(vat)[0], "seq").as_int(), 1);
}

TEST(FlightRecorder, EventsInterleaveWithDeliveries) {
  ManualClock clock;
  Vat vat(recording(&clock));
  auto c = vat.make<Counter>();
  c.send<&Counter::inc>(1);
  vat.run_until_idle();
  vat.recorder()->event("sup", "restart", "child worker-1, restarts 2");
  c.send<&Counter::inc>(2);
  vat.run_until_idle();
  const List& ring = dump(vat);
  ASSERT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring[0].as_record().label, "delivery");
  const Value& ev = ring[1];
  EXPECT_EQ(ev.as_record().label, "event");
  EXPECT_EQ(field(ev, "seq").as_int(), 2);
  EXPECT_EQ(text(ev, "source"), "sup");
  EXPECT_EQ(text(ev, "what"), "restart");
  EXPECT_EQ(text(ev, "detail"), "child worker-1, restarts 2");
  EXPECT_EQ(text(ring[2], "args"), "2");
  EXPECT_EQ(field(vat_stats(vat), "recorded").as_int(), 2);  // deliveries only
}

TEST(FlightRecorder, SummariesAreCappedAndEscaped) {
  ManualClock clock;
  Vat vat(recording(&clock));
  auto w = vat.make<Work>(&clock);
  w.send<&Work::text>(std::string(200, 'a'));
  w.send<&Work::text>(std::string("line\nbell\x01quote\"") + "\xC3\xA9");
  w.send("text", std::string(200, 'b'));
  w.send<&Work::many>(std::int64_t{1}, std::int64_t{2}, std::int64_t{3}, std::int64_t{4}, std::int64_t{5},
                      std::int64_t{6}, std::int64_t{7});
  w.send<&Work::text>(std::string(45, 'x') + "\xC3\xA9");  // cut inside the two-byte character
  w.send("many", 1, 2, 3, 4, 5, 6, 7);
  w.send("text", std::string("\x7f\xff\r"));
  vat.run_until_idle();
  const List& ring = dump(vat);
  ASSERT_EQ(ring.size(), 7u);
  std::string longest = text(ring[0], "args");
  EXPECT_LE(longest.size(), detail::kArgSummaryMax);
  EXPECT_EQ(longest, "\"" + std::string(46, 'a') + "\xE2\x80\xA6\"");
  EXPECT_EQ(text(ring[1], "args"), "\"line\\nbell\\x01quote\\\"\xC3\xA9\"");
  EXPECT_EQ(text(ring[2], "args"), "\"" + std::string(24, 'b') + "\xE2\x80\xA6\"");
  EXPECT_EQ(text(ring[3], "args"), "1, 2, 3, 4, 5, 6, \xE2\x80\xA6");
  EXPECT_EQ(text(ring[4], "args"), "\"" + std::string(45, 'x') + "\xE2\x80\xA6\"");
  EXPECT_EQ(text(ring[5], "args"), "1, 2, 3, 4, 5, \xE2\x80\xA6");
  EXPECT_EQ(text(ring[6], "args"), "\"\\x7f\\xff\\r\"");  // invalid UTF-8 is escaped too
}

TEST(FlightRecorder, OtherArgumentTypesShowAsTags) {
  ManualClock clock;
  Vat vat(recording(&clock));
  auto w = vat.make<Work>(&clock);
  auto c = vat.make<Counter>();
  w.send<&Work::mixed>(true, 2.5, Bytes(123), std::vector<std::int64_t>{1, 2}, Point{1, 2}, c);
  w.send("mixed", false, 0.5, Bytes(7), std::vector<std::int64_t>{}, Point{}, c);
  vat.run_until_idle();
  const List& ring = dump(vat);
  ASSERT_EQ(ring.size(), 2u);
  EXPECT_EQ(text(ring[0], "args"), "true, 2.5, <bytes 123>, <list 2>, <record Point>, <ref>");
  EXPECT_EQ(text(ring[1], "args"), "false, 0.5, <bytes 7>, <list 0>, <record Point>, <ref>");
}

TEST(FlightRecorder, MethodsBeyondTheLimitAddUpInOther) {
  ManualClock clock;
  Vat vat(recording(&clock, 64, 2));
  auto c = vat.make<Counter>();
  c.send<&Counter::inc>(1);
  c.send<&Counter::get>();
  c.send<&Counter::reset>();
  c.send("describe", std::string("n="));
  vat.run_until_idle();
  Value stats = vat_stats(vat);
  const List& rows = field(stats, "methods").as_list();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(text(rows[2], "method"), "(other)");
  EXPECT_EQ(field(rows[2], "count").as_int(), 2);
  const List& ring = dump(vat);
  EXPECT_EQ(text(ring[2], "method"), "reset");  // the ring still names it
  EXPECT_EQ(text(ring[3], "method"), "describe");
  EXPECT_EQ(text(ring[3], "target").substr(0, 8), "Counter#");
}

TEST(FlightRecorder, StatsRecordCarriesTheVatFigures) {
  ManualClock clock;
  Vat vat(recording(&clock, 128));
  auto c = vat.make<Counter>();
  c.send<&Counter::inc>(1);
  c.send<&Counter::inc>(1);
  Value queued = vat_stats(vat);
  EXPECT_EQ(queued.as_record().label, "stats");
  EXPECT_EQ(field(queued, "queue_depth").as_int(), 2);
  vat.run_until_idle();
  Value s = vat_stats(vat);
  EXPECT_EQ(field(s, "turns").as_int(), 2);
  EXPECT_EQ(field(s, "turn_failures").as_int(), 0);
  EXPECT_EQ(field(s, "queue_depth").as_int(), 0);
  EXPECT_EQ(field(s, "live_objects").as_int(), 1);
  EXPECT_EQ(field(s, "pending_questions").as_int(), 0);
  EXPECT_EQ(field(s, "timers").as_int(), 0);
  EXPECT_TRUE(field(s, "recording").as_bool());
  EXPECT_EQ(field(s, "recorder_capacity").as_int(), 128);
  EXPECT_EQ(field(s, "recorded").as_int(), 2);
  std::vector<std::string> names;
  for (const auto& [k, v] : s.as_record().fields) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"turns", "turn_failures", "queue_depth", "live_objects",
                                             "pending_questions", "timers", "recording", "recorder_capacity",
                                             "recorded", "recorder_local_sample_every", "methods"}));
  const Value& m = field(s, "methods").as_list()[0];
  names.clear();
  for (const auto& [k, v] : m.as_record().fields) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"class", "method", "count", "estimated_count", "failures", "p50_us",
                                             "p90_us", "p99_us", "max_us"}));
}

TEST(FlightRecorder, CallsFromAnotherVatNameTheCaller) {
  VatGroup g(2, "grp");
  auto target = g[0].submit([&] {
                      g[0].set_recording(true);
                      return portable(g[0].make<Counter>());
                    })
                    .get();
  g[1].submit([&] { return target.take().send<&Counter::inc>(5); }).get();
  Value ring = g[0].submit([&] { return recorder_dump(g[0]); }).get();
  ASSERT_EQ(ring.as_list().size(), 1u);
  EXPECT_EQ(text(ring.as_list()[0], "method"), "inc");
  EXPECT_EQ(text(ring.as_list()[0], "args"), "5");
  EXPECT_EQ(text(ring.as_list()[0], "sender"), g[1].name());
}

}  // namespace
}  // namespace vatic
