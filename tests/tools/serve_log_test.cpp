// Integration tests of `vatic serve`'s log (spec/log.md): real servers, real
// clients, the server's stderr read back from its log file. With --log-json
// every stderr line is one JSON object; a session through a good ref logs
// session.opened, redeem.granted and session.closed; forged and revoked refs
// log redeem.refused with the token.md step; a dialer expecting another vat
// and raw garbage on the socket log handshake.failed; a method name a peer
// chose with a newline and ESC is escaped; --log-level warn keeps info lines
// out; a bad --log-level is a usage error naming the levels.
//
//   test process (gtest) --fork/exec, one per command--+  (and one raw unix
//        |                                             v   socket for garbage)
//        |              vatic ls|call|revoke --store <tmp>/store-c
//        | fork/exec; SIGTERM                          |  CapTP, Noise XK
//        v                                             v  unix:<tmp>/s.sock
//   vatic serve <tmp>/data --log-json ...  --stderr--> <tmp>/serve-N.log
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/tools/cli_fixture.h"

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// Every line of a --log-json log as JSON; a line that is not one object fails
// the test (a peer's newline must not have started a line of its own).
std::vector<boost::json::value> json_events(const std::string& log) {
  static const std::regex kTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  std::vector<boost::json::value> out;
  for (const auto& line : lines_of(log)) {
    auto doc = parse_json(line);
    EXPECT_TRUE(doc && doc->is_object()) << "not a JSON object: " << line;
    if (!doc || !doc->is_object()) continue;
    for (const char* key : {"time", "level", "component", "event", "message"})
      EXPECT_TRUE(str(*doc, key)) << key << " missing in " << line;
    EXPECT_TRUE(std::regex_match(str(*doc, "time").value_or(""), kTime)) << line;
    out.push_back(std::move(*doc));
  }
  return out;
}

// The events named `name` (whose `field` equals `value`, when given).
std::vector<boost::json::value> find(const std::vector<boost::json::value>& events, const std::string& name,
                                     const std::string& field = "", const std::string& value = "") {
  std::vector<boost::json::value> out;
  for (const auto& e : events)
    if (str(e, "event") == name && (field.empty() || str(e, field) == value)) out.push_back(e);
  return out;
}

class ServeLogTest : public CliTest {
 protected:
  // Waits (polling the log file, within the command deadline) until the
  // server has logged an event `name` with `field` == `value`; the events then.
  std::vector<boost::json::value> wait_for(const ServerProcess& server, const std::string& name,
                                           const std::string& field = "", const std::string& value = "") {
    auto end = Clock::now() + kCommandDeadline;
    for (;;) {
      auto events = json_events(server.log());
      if (!find(events, name, field, value).empty()) return events;
      if (Clock::now() > end) {
        ADD_FAILURE() << "no " << name << " " << field << "=" << value << " logged; log:\n" << server.log();
        return events;
      }
      std::this_thread::sleep_for(milliseconds(10));  // polling, bounded by the deadline
    }
  }

  std::string admin_ref() const { return (fs::path(store("server")) / "admin.ref").string(); }
};

TEST_F(ServeLogTest, LsThroughAGoodRefLogsSessionRedeemAndCloseAsJson) {
  auto server = serve(make_sample_tree(), store("server"), unix_listen("s.sock"), {"--log-json"});
  EXPECT_TRUE(server->first_line().starts_with("vatic://")) << "stdout is still the root ref alone";
  const std::string client = vat_id(store("c"));
  ASSERT_TRUE(succeeded(run({"ls", server->first_line(), "--store", store("c")})));
  wait_for(*server, "session.closed", "peer", client);
  server->stop(SIGTERM);
  auto events = json_events(server->log());

  auto listen = find(events, "listen.started");
  ASSERT_EQ(listen.size(), 1u) << server->log();
  EXPECT_EQ(str(listen[0], "address"), unix_listen("s.sock"));
  EXPECT_EQ(str(listen[0], "component"), "captp");
  auto opened = find(events, "session.opened", "peer", client);
  ASSERT_EQ(opened.size(), 1u) << server->log();
  EXPECT_EQ(str(opened[0], "level"), "info");
  EXPECT_EQ(str(opened[0], "direction"), "accepted");
  EXPECT_TRUE(str(opened[0], "transport").value_or("").starts_with("unix")) << server->log();
  auto granted = find(events, "redeem.granted", "peer", client);
  ASSERT_EQ(granted.size(), 1u) << server->log();
  EXPECT_EQ(str(granted[0], "component"), "sturdyrefs");
  EXPECT_EQ(str(granted[0], "kind"), "fs.dir");
  EXPECT_EQ(str(granted[0], "name"), "root");
  EXPECT_EQ(str(granted[0], "caveats"), "no caveats");
  EXPECT_EQ(str(granted[0], "object").value_or("").size(), 32u);  // 16 bytes, hex
  auto closed = find(events, "session.closed", "peer", client);
  ASSERT_EQ(closed.size(), 1u) << server->log();
  EXPECT_FALSE(str(closed[0], "reason").value_or("").empty());
  EXPECT_EQ(find(events, "serve.stopping", "signal", "SIGTERM").size(), 1u) << server->log();
  // In order: the session opened, was granted, closed.
  auto at = [&](const std::string& name) {
    for (std::size_t i = 0; i < events.size(); ++i)
      if (str(events[i], "event") == name) return i;
    return events.size();
  };
  EXPECT_LT(at("session.opened"), at("redeem.granted"));
  EXPECT_LT(at("redeem.granted"), at("session.closed"));
}

TEST_F(ServeLogTest, ForgedAndRevokedRefsLogRedeemRefusedWithTheStep) {
  auto server = serve(make_sample_tree(), store("server"), unix_listen("s.sock"), {"--log-json"});
  const std::string root = server->first_line();
  const std::string client = vat_id(store("c"));
  EXPECT_TRUE(fails_with(run({"ls", forged_tag(root), "--store", store("c")}), kRefused));
  auto events = wait_for(*server, "redeem.refused", "peer", client);
  auto refused = find(events, "redeem.refused", "peer", client);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(str(refused[0], "level"), "warn");
  EXPECT_EQ(str(refused[0], "step"), "3-6");
  EXPECT_EQ(str(refused[0], "reason"), "refused: invalid token");

  const std::string notes = attenuate(root, {"--path", "notes"});
  ASSERT_TRUE(succeeded(run({"revoke", admin_ref(), notes, "--store", store("c")})));
  events = wait_for(*server, "revoke", "scope", "branch");
  EXPECT_EQ(find(events, "revoke", "scope", "branch").size(), 1u);
  EXPECT_TRUE(fails_with(run({"ls", notes, "--store", store("c")}), kRefused));
  server->stop(SIGTERM);
  refused = find(json_events(server->log()), "redeem.refused", "peer", client);
  ASSERT_EQ(refused.size(), 2u) << server->log();
  EXPECT_EQ(str(refused[1], "step"), "3-6");
  EXPECT_EQ(str(refused[1], "reason"), "refused: invalid token");
}

TEST_F(ServeLogTest, WrongVatIdAndRawGarbageLogHandshakeFailures) {
  auto server = serve(make_sample_tree(), store("server"), unix_listen("s.sock"), {"--log-json"});
  // The same address and token, but another vat's id: XK fails on the server's
  // side as soon as the dialer's first message cannot be opened.
  auto wrong = parse(server->first_line());
  auto other = VatId::parse(vat_id(store("other")));
  ASSERT_TRUE(other);
  wrong.vat = other.value();
  wrong.token.vat = other.value().bytes();  // a ref names one vat (its tag no longer verifies: never reached)
  EXPECT_TRUE(fails_with(run({"ls", sturdyrefs::format_sturdy_ref(wrong), "--store", store("c")}), kUnreachable));
  auto events = wait_for(*server, "handshake.failed");
  auto failed = find(events, "handshake.failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(str(failed[0], "level"), "warn");
  EXPECT_EQ(str(failed[0], "direction"), "accepted");
  EXPECT_TRUE(str(failed[0], "transport").value_or("").starts_with("unix")) << server->log();
  EXPECT_FALSE(str(failed[0], "reason").value_or("").empty());

  // Raw garbage, then our end closed for writing.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock = path("s.sock").string();
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  std::string garbage(200, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 37 + 11);
  ASSERT_EQ(::write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  ::shutdown(fd, SHUT_WR);
  auto end = Clock::now() + kCommandDeadline;
  std::size_t count = 0;
  while (count < 2 && Clock::now() < end) {
    count = find(json_events(server->log()), "handshake.failed").size();
    if (count < 2) std::this_thread::sleep_for(milliseconds(10));  // polling, bounded by the deadline
  }
  ::close(fd);
  EXPECT_EQ(count, 2u) << server->log();
  // The server goes on serving.
  EXPECT_TRUE(succeeded(run({"ls", server->first_line(), "--store", store("c")})));
}

TEST_F(ServeLogTest, PeerChosenMethodNameIsEscapedInTheLog) {
  auto server = serve(make_sample_tree(), store("server"), unix_listen("s.sock"), {"--log-json"});
  const std::string only_list = attenuate(server->first_line(), {"--methods", "list"});
  const std::string method = "li\nst\x1b[31m\xc2\x9b";  // newline, ESC, C1 CSI
  RunResult r = run({"call", only_list, method, "--store", store("c")});
  EXPECT_EQ(r.code, kRefused) << r.describe();
  auto events = wait_for(*server, "call.refused");
  auto refused = find(events, "call.refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(str(refused[0], "method"), "li\\nst\\x1b[31m\\xc2\\x9b");
  EXPECT_EQ(str(refused[0], "level"), "warn");
  EXPECT_EQ(str(refused[0], "peer"), vat_id(store("c")));
  const std::string log = server->log();
  EXPECT_EQ(log.find('\x1b'), std::string::npos);
  EXPECT_EQ(log.find("\xc2\x9b"), std::string::npos);
  EXPECT_EQ(log.find("st\x1b"), std::string::npos);
}

TEST_F(ServeLogTest, LogLevelWarnKeepsInfoLinesOutOfATextLog) {
  auto server = serve(make_sample_tree(), store("server"), unix_listen("s.sock"), {"--log-level", "warn"});
  const std::string root = server->first_line();
  ASSERT_TRUE(succeeded(run({"ls", root, "--store", store("c")})));
  const std::string only_list = attenuate(root, {"--methods", "list"});
  EXPECT_EQ(run({"call", only_list, "a\nb", "--store", store("c")}).code, kRefused);
  EXPECT_TRUE(fails_with(run({"ls", forged_tag(root), "--store", store("c")}), kRefused));
  server->stop(SIGTERM);  // every session is closed, and logged, by now

  // Only the two refusals: no listen, session, grant or stop line.
  static const std::regex kLine(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn sturdyrefs [a-z.]+: .*)");
  auto lines = lines_of(server->log());
  ASSERT_EQ(lines.size(), 2u) << server->log();
  for (const auto& line : lines) EXPECT_TRUE(std::regex_match(line, kLine)) << line;
  EXPECT_NE(lines[0].find("call.refused: call a\\nb from "), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(" method=a\\nb "), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("redeem.refused: "), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(" step=3-6 "), std::string::npos) << lines[1];
}

TEST_F(ServeLogTest, DefaultTextLogHasInfoLinesAndStdoutOnlyTheRef) {
  auto server = serve(make_sample_tree(), store("server"), unix_listen("s.sock"));
  ASSERT_TRUE(succeeded(run({"ls", server->first_line(), "--store", store("c")})));
  server->stop(SIGTERM);
  const std::string log = server->log();
  EXPECT_NE(log.find(" info captp listen.started: listening on unix:"), std::string::npos) << log;
  EXPECT_NE(log.find(" info sturdyrefs redeem.granted: "), std::string::npos) << log;
  EXPECT_NE(log.find(" info serve serve.started: serving "), std::string::npos) << log;
  EXPECT_NE(log.find("SIGTERM received, stopping"), std::string::npos) << log;
}

TEST_F(ServeLogTest, BogusLogLevelIsAUsageErrorNamingTheLevels) {
  RunResult r = run({"serve", make_sample_tree(), "--store", store("server"), "--listen", unix_listen("s.sock"),
                     "--log-level", "bogus"});
  EXPECT_TRUE(fails_with(r, kUsage));
  for (const char* level : {"trace", "debug", "info", "warn", "error", "off", "bogus"})
    EXPECT_NE(r.err.find(level), std::string::npos) << level << " not named: " << r.err;
  EXPECT_FALSE(fs::exists(path("s.sock"))) << "nothing was started";
}

}  // namespace
}  // namespace vatic::test
