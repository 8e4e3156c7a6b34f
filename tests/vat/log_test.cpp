#include "vat/log.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "vat/supervise/supervisor.h"
#include "vat/utf8.h"
#include "vat/vat.h"

namespace vatic {
namespace {

LogEvent event(LogLevel level, std::string message = "m") {
  return LogEvent{level, "test", "test.event", std::move(message), {{"k", "v"}}};
}

TEST(Log, AVatWithoutASinkEnablesNoLevel) {
  Vat v;
  for (auto l : {LogLevel::trace, LogLevel::info, LogLevel::error}) EXPECT_FALSE(v.log_enabled(l));
  v.log(event(LogLevel::error));  // nowhere to go, and no harm done
}

TEST(Log, SinkReceivesEventsAtOrAboveItsLevelOnly) {
  std::vector<LogEvent> got;
  Vat v(VatOptions{.log = {[&](const LogEvent& e) { got.push_back(e); }, LogLevel::warn}});
  EXPECT_FALSE(v.log_enabled(LogLevel::info));
  EXPECT_TRUE(v.log_enabled(LogLevel::warn));
  EXPECT_TRUE(v.log_enabled(LogLevel::error));
  v.log(event(LogLevel::info, "dropped"));
  v.log(event(LogLevel::warn, "kept"));
  v.log(event(LogLevel::error, "kept too"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].message, "kept");
  EXPECT_EQ(got[0].component, "test");
  EXPECT_EQ(got[0].event, "test.event");
  ASSERT_NE(got[0].field("k"), nullptr);
  EXPECT_EQ(*got[0].field("k"), "v");
  EXPECT_EQ(got[0].field("absent"), nullptr);
  EXPECT_EQ(got[1].level, LogLevel::error);
}

TEST(Log, SetLogSinkReplacesTheSinkAndANullSinkDisablesEveryLevel) {
  std::vector<std::string> first, second;
  Vat v(VatOptions{.log = {[&](const LogEvent& e) { first.push_back(e.message); }, LogLevel::trace}});
  v.log(event(LogLevel::trace, "a"));
  v.set_log_sink([&](const LogEvent& e) { second.push_back(e.message); }, LogLevel::info);
  EXPECT_FALSE(v.log_enabled(LogLevel::debug));
  v.log(event(LogLevel::info, "b"));
  v.set_log_sink(nullptr, LogLevel::trace);
  EXPECT_FALSE(v.log_enabled(LogLevel::error));
  v.log(event(LogLevel::error, "c"));
  EXPECT_EQ(first, std::vector<std::string>{"a"});
  EXPECT_EQ(second, std::vector<std::string>{"b"});
}

TEST(Log, OffAsTheLeastLevelPassesNothing) {
  int calls = 0;
  Vat v(VatOptions{.log = {[&](const LogEvent&) { ++calls; }, LogLevel::off}});
  EXPECT_FALSE(v.log_enabled(LogLevel::error));
  v.log(event(LogLevel::error));
  EXPECT_EQ(calls, 0);
}

TEST(Log, ASinkThatThrowsLosesOnlyThatEvent) {
  int calls = 0;
  Vat v(VatOptions{.log = {[&](const LogEvent&) {
                             ++calls;
                             throw std::runtime_error("disk full");
                           },
                           LogLevel::info}});
  v.log(event(LogLevel::info));
  v.log(event(LogLevel::info));
  EXPECT_EQ(calls, 2);
}

TEST(Log, LevelsReadAsTheyAreWrittenAndNothingElse) {
  for (auto l : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error, LogLevel::off})
    EXPECT_EQ(parse_log_level(to_string(l)), l);
  EXPECT_EQ(to_string(LogLevel::warn), "warn");
  for (const char* bad : {"", "INFO", "warning", "bogus", "info "}) EXPECT_FALSE(parse_log_level(bad)) << bad;
}

class Crasher : public Object {
 public:
  std::int64_t boom(std::string why) { throw std::runtime_error(why); }
  VATIC_METHODS(Crasher, boom)
};

TEST(Log, SupervisorCrashIsLoggedAtWarnWithPrintableText) {
  std::vector<LogEvent> got;
  Vat v(VatOptions{.log = {[&](const LogEvent& e) { got.push_back(e); }, LogLevel::info}});
  auto sup = v.make<Supervisor>(SupervisorOptions{.name = "workers"});
  auto w = start_child<Crasher>(sup, {.id = "w\n1", .start = [&] { return v.make<Crasher>(); }});
  EXPECT_THROW(v.wait(w.send<&Crasher::boom>(std::string("bad\nline\x1b[31m"))), VatError);
  v.run_until_idle();

  const LogEvent* crash = nullptr;
  for (const auto& e : got)
    if (e.event == "supervisor.crash") crash = &e;
  ASSERT_NE(crash, nullptr);
  EXPECT_EQ(crash->level, LogLevel::warn);
  EXPECT_EQ(crash->component, "vat");
  EXPECT_EQ(*crash->field("supervisor"), "workers");
  EXPECT_EQ(*crash->field("child"), "w\\n1");
  EXPECT_EQ(*crash->field("reason"), "bad\\nline\\x1b[31m");
  EXPECT_EQ(*crash->field("restarted"), "true");
  EXPECT_EQ(crash->message.find_first_of("\n\x1b"), std::string::npos) << crash->message;
  EXPECT_NE(crash->message.find("w\\n1"), std::string::npos) << crash->message;
}

TEST(Log, PrintableEscapesControlsInvalidBytesAndBackslashes) {
  EXPECT_EQ(utf8::printable("a\nb\tc\rd"), "a\\nb\\tc\\rd");
  EXPECT_EQ(utf8::printable("\x1b[2J\x7f"), "\\x1b[2J\\x7f");
  EXPECT_EQ(utf8::printable("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // valid text stays
  EXPECT_EQ(utf8::printable("\xc2\x9b"), "\\xc2\\x9b");                                // C1 CSI
  EXPECT_EQ(utf8::printable("\xff"), "\\xff");
  EXPECT_EQ(utf8::printable("a\\nb"), "a\\\\nb");
  EXPECT_EQ(utf8::printable("a\\nb", false), "a\\nb");
}

}  // namespace
}  // namespace vatic
