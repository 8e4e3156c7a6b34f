// `vatic inspect`: the printers (tools/inspect_render.h) as unit tests, with
// hostile strings; then the real binary against a real `vatic serve`, each view
// as tables and as JSON, the exit-code contract, and a hostile peer's method
// names and arguments arriving at the operator's terminal escaped.
//
//   test process (gtest) --fork/exec--> vatic inspect STORE/admin.ref VIEW --store <tmp>/store-op
//        |     (and, for the hostile test, a vat of its own: CapTP client)       |
//        | fork/exec, stdout: root ref                                           | CapTP, Noise XK
//        v                                                                       v 127.0.0.1:<port 0>
//   vatic serve <tmp>/data --store <tmp>/store-server  (writes store-server/admin.ref, 0600)
#include "tools/inspect_render.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "captp/node.h"
#include "sturdyrefs/enliven.h"
#include "tests/tools/cli_fixture.h"
#include "tools/value_json.h"
#include "vat/json.h"
#include "vat/vat.h"

namespace vatic::test {
namespace {

namespace fs = std::filesystem;
using cli::render_view;
using cli::value_to_json;

// Hostile text: terminal escapes (clear screen, set title, OSC 8 link), a
// newline that would forge a row, C1 CSI, DEL, invalid UTF-8, a backslash.
const std::string kHostile =
    "x\x1b[2J\x1b]0;pwned\x07\nFAKE ROW\r\xc2\x9b"
    "31m\x7f\xff\xfe\\n";

// No byte a terminal could act on: C0 other than '\n', DEL, C1 (as UTF-8),
// and only valid UTF-8.
::testing::AssertionResult inert(const std::string& out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto c = static_cast<unsigned char>(out[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f || c == 0xff || c == 0xfe ||
        (c == 0xc2 && i + 1 < out.size() && static_cast<unsigned char>(out[i + 1]) < 0xa0))
      return ::testing::AssertionFailure() << "byte " << int(c) << " at " << i << " in:\n" << out;
  }
  return ::testing::AssertionSuccess();
}

bool has_line_starting(const std::string& out, const std::string& prefix) {
  std::size_t at = 0;
  while (at < out.size()) {
    if (out.compare(at, prefix.size(), prefix) == 0) return true;
    at = out.find('\n', at);
    if (at == std::string::npos) break;
    ++at;
  }
  return false;
}

Value delivery(const std::string& method, const std::string& args) {
  return Value(Record{"delivery",
                      {{"seq", 7},
                       {"time_ms", std::int64_t{1'800'000'000'123}},
                       {"target", "Directory#00ab"},
                       {"method", method},
                       {"args", args},
                       {"sender", kHostile},
                       {"outcome", "failed"},
                       {"duration_us", 12.5}}});
}

TEST(InspectRender, JsonEscapesControlsC1AndInvalidUtf8) {
  EXPECT_EQ(json_quote("a\"b\\c\n\t\x01\x7f"), "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\"");
  EXPECT_EQ(json_quote("\xc2\x9b"), "\"\\u009b\"");                    // C1 CSI
  EXPECT_EQ(json_quote("\xe2\x80\xa8"), "\"\\u2028\"");                // line separator
  EXPECT_EQ(json_quote("\xff\xc3"), "\"\\ufffd\\ufffd\"");             // not UTF-8
  EXPECT_EQ(json_quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  EXPECT_EQ(json_quote("caf\xc3\xa9 \xe2\x9c\x93"), "\"caf\xc3\xa9 \xe2\x9c\x93\"");
  std::string j = json_quote(kHostile);
  EXPECT_TRUE(inert(j));
  auto back = parse_json(j);
  ASSERT_TRUE(back && back->is_string());
  EXPECT_EQ(std::string(back->get_string()).substr(0, 6), kHostile.substr(0, 6));
}

TEST(InspectRender, ValuesBecomeJsonWithRecordLabels) {
  Value v(Record{"stats",
                 {{"turns", 3},
                  {"recording", true},
                  {"ratio", 0.5},
                  {"none", nullptr},
                  {"methods", List{Value(Record{"method", {{"method", "list"}}})}},
                  {"raw", Bytes{0x01, 0xab}}}});
  EXPECT_EQ(value_to_json(v),
            "{\"record\":\"stats\",\"turns\":3,\"recording\":true,\"ratio\":0.5,\"none\":null,"
            "\"methods\":[{\"record\":\"method\",\"method\":\"list\"}],\"raw\":{\"bytes\":\"01ab\"}}");
  // A field named "record" wins over the label; no duplicate key.
  EXPECT_EQ(value_to_json(Value(Record{"x", {{"record", 1}}})), "{\"record\":1}");
  EXPECT_EQ(value_to_json(Value(Error{ErrorKind::failed, "no"})),
            "{\"error\":{\"kind\":\"failed\",\"reason\":\"no\"}}");
  EXPECT_EQ(value_to_json(Value(List{})), "[]");
}

TEST(InspectRender, TablesAlignColumnsAndRightAlignNumbers) {
  cli::TextTable t{{"NAME", "COUNT"}, {{"list", "3"}, {"read", "12"}, {"caf\xc3\xa9", "1"}}};
  EXPECT_EQ(t.render(),
            "NAME  COUNT\n"
            "list      3\n"
            "read     12\n"
            "caf\xc3\xa9      1\n");
  cli::TextTable cut{{"A"}, {{std::string(100, 'x')}}, 10};
  EXPECT_EQ(cut.render(), "A\nxxxxxxx...\n");
}

TEST(InspectRender, HostileStringsAreEscapedInEveryView) {
  Value recorder(
      List{delivery(kHostile, kHostile),
           Value(Record{"event",
                        {{"seq", 8}, {"time_ms", 5}, {"source", kHostile}, {"what", "crash"}, {"detail", kHostile}}})});
  Value crash(List{Value(Record{"crash",
                                {{"time_ms", std::int64_t{1'800'000'000'000}},
                                 {"supervisor", kHostile},
                                 {"child", kHostile},
                                 {"exception", "std::runtime_error"},
                                 {"message", kHostile},
                                 {"restarts", 1}}})});
  Value child(
      Record{"child",
             {{"id", kHostile}, {"restart", "permanent"}, {"state", "running"}, {"restarts", 0}, {"incarnation", 1}}});
  Value tree(List{Value(Record{"supervisor",
                               {{"name", kHostile},
                                {"strategy", "one_for_one"},
                                {"intensity", 3},
                                {"period_ms", 5000},
                                {"state", "running"},
                                {"restarts", 0},
                                {"children", List{child}}}})});
  Value stats(Record{"stats", {{"vat", kHostile}, {"methods", List{Value(Record{"method", {{"method", kHostile}}})}}}});
  Value sessions(List{Value(Record{"session", {{"peer", kHostile}, {"address", kHostile}}})});
  Value objects(List{Value(Record{"ObjectInfo", {{"name", kHostile}, {"created", 0}}})});
  for (auto [view, v] : std::vector<std::pair<std::string, Value>>{{"recorder", recorder},
                                                                   {"crashes", crash},
                                                                   {"tree", tree},
                                                                   {"stats", stats},
                                                                   {"sessions", sessions},
                                                                   {"objects", objects}}) {
    std::string out = render_view(view, v);
    EXPECT_TRUE(inert(out)) << view;
    EXPECT_FALSE(has_line_starting(out, "FAKE")) << view << ":\n" << out;
    EXPECT_NE(out.find("pwned"), std::string::npos) << view << ": the text is shown, escaped:\n" << out;
    EXPECT_NE(out.find("\\x1b"), std::string::npos) << view << ":\n" << out;
    std::string json = value_to_json(v);
    EXPECT_TRUE(inert(json)) << view;
    EXPECT_TRUE(parse_json(json)) << view;
  }
}

TEST(InspectRender, EmptyViewsSaySo) {
  EXPECT_EQ(render_view("tree", Value(List{})), "no supervisors\n");
  EXPECT_EQ(render_view("crashes", Value(List{})), "no crashes\n");
  EXPECT_EQ(render_view("sessions", Value(List{})), "no sessions\n");
}

TEST(InspectRender, TheTreeIsIndentedLikeTree) {
  Value leaf(Record{
      "child", {{"id", "w"}, {"restart", "transient"}, {"state", "running"}, {"restarts", 2}, {"incarnation", 3}}});
  Value inner(Record{"supervisor",
                     {{"name", "inner"},
                      {"strategy", "one_for_all"},
                      {"intensity", 1},
                      {"period_ms", 100},
                      {"state", "running"},
                      {"restarts", 0},
                      {"children", List{leaf}}}});
  Value sub(Record{"child",
                   {{"id", "inner"},
                    {"restart", "permanent"},
                    {"state", "running"},
                    {"restarts", 0},
                    {"incarnation", 1},
                    {"supervisor", inner}}});
  Value root(List{Value(Record{"supervisor",
                               {{"name", "root"},
                                {"strategy", "one_for_one"},
                                {"intensity", 3},
                                {"period_ms", 5000},
                                {"state", "running"},
                                {"restarts", 2},
                                {"children", List{leaf, sub}}}})});
  EXPECT_EQ(render_view("tree", root),
            "supervisor root (one_for_one, at most 3 restarts in 5000 ms): running, 2 restarts\n"
            "├── w (transient): running, 2 restarts, incarnation 3\n"
            "└── inner (permanent): running, 0 restarts, incarnation 1\n"
            "    supervisor inner (one_for_all, at most 1 restarts in 100 ms): running, 0 restarts\n"
            "    └── w (transient): running, 2 restarts, incarnation 3\n");
}

// --- The real binary.

class InspectTest : public CliTest {
 protected:
  std::string admin_file() const { return (fs::path(store("server")) / "admin.ref").string(); }
  RunResult inspect(const std::string& ref, const std::vector<std::string>& more = {}) const {
    std::vector<std::string> args{"inspect", ref};
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), {"--store", store("op")});
    return run(args);
  }
  // `vatic serve` runs with the flight recorder on (tools/serve.cpp), which
  // the recorder and per-method views below rely on.
  ::testing::AssertionResult serve_records() const {
    if (is_true(json(admin_file(), "stats"), "recording")) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "vatic serve runs without the flight recorder (VatOptions::recorder)";
  }
  boost::json::value json(const std::string& ref, const std::string& view) const {
    RunResult r = inspect(ref, {view, "--json"});
    EXPECT_TRUE(succeeded(r)) << view;
    auto doc = parse_json(r.out);
    EXPECT_TRUE(doc && doc->is_object()) << r.out;
    if (!doc) return {};
    EXPECT_EQ(str(*doc, "view"), view);
    const boost::json::value* data = member(*doc, "data");
    EXPECT_NE(data, nullptr) << r.out;
    return data ? *data : boost::json::value{};
  }
  // The items of a JSON array (none if it is not one).
  static boost::json::array items(const boost::json::value& v) {
    return v.is_array() ? v.get_array() : boost::json::array{};
  }
};

TEST_F(InspectTest, StatsAsJsonCarryTheDocumentedFields) {
  auto server = serve(make_sample_tree(), store("server"));
  ASSERT_TRUE(serve_records());
  ASSERT_TRUE(succeeded(run({"ls", server->first_line(), "--store", store("c")})));
  boost::json::value s = json(admin_file(), "stats");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(str(s, "record"), "stats");
  for (const char* f : {"turns", "turn_failures", "queue_depth", "live_objects", "pending_questions", "timers",
                        "recording", "recorder_capacity", "recorded", "methods", "vat", "vat_id", "uptime_ms",
                        "sessions", "handshakes_accepted", "handshakes_failed"})
    EXPECT_NE(member(s, f), nullptr) << f;
  EXPECT_EQ(str(s, "vat_id"), parse(server->first_line()).vat.to_text());
  ASSERT_TRUE(number(s, "sessions"));
  EXPECT_GE(*number(s, "sessions"), 1);  // this command's own session
  ASSERT_NE(member(s, "methods"), nullptr);
  bool list_counted = false;
  for (const auto& m : items(*member(s, "methods")))
    if (str(m, "method") == "list" && number(m, "count").value_or(0) >= 1) list_counted = true;
  EXPECT_TRUE(list_counted) << "the ls above is counted";
}

TEST_F(InspectTest, EveryViewPrintsAsTablesAndAsJson) {
  auto server = serve(make_sample_tree(), store("server"));
  ASSERT_TRUE(serve_records());
  ASSERT_TRUE(succeeded(run({"cat", server->first_line(), "a.txt", "--store", store("c")})));

  RunResult stats = inspect(admin_file());  // default view
  ASSERT_TRUE(succeeded(stats));
  EXPECT_TRUE(has_line_starting(stats.out, "turns ")) << stats.out;
  EXPECT_NE(stats.out.find("methods:"), std::string::npos) << stats.out;

  RunResult objects = inspect(admin_file(), {"objects"});
  ASSERT_TRUE(succeeded(objects));
  EXPECT_TRUE(has_line_starting(objects.out, "ID ")) << objects.out;
  EXPECT_NE(objects.out.find("vat.admin"), std::string::npos) << objects.out;
  EXPECT_GE(items(json(admin_file(), "objects")).size(), 2u);

  RunResult tree = inspect(admin_file(), {"tree"});
  ASSERT_TRUE(succeeded(tree));
  EXPECT_EQ(tree.out, "no supervisors\n");
  EXPECT_TRUE(json(admin_file(), "tree").is_array());

  RunResult crashes = inspect(admin_file(), {"crashes"});
  ASSERT_TRUE(succeeded(crashes));
  EXPECT_EQ(crashes.out, "no crashes\n");

  RunResult rec = inspect(admin_file(), {"recorder"});
  ASSERT_TRUE(succeeded(rec));
  EXPECT_TRUE(has_line_starting(rec.out, "SEQ ")) << rec.out;
  EXPECT_NE(rec.out.find("stream_to"), std::string::npos) << "the cat above is recorded:\n" << rec.out;
  boost::json::array r = items(json(admin_file(), "recorder"));
  ASSERT_FALSE(r.empty());
  EXPECT_TRUE(str(r[0], "record") == "delivery" || str(r[0], "record") == "event");

  RunResult sessions = inspect(admin_file(), {"sessions"});
  ASSERT_TRUE(succeeded(sessions));
  EXPECT_TRUE(has_line_starting(sessions.out, "PEER ")) << sessions.out;
  EXPECT_NE(sessions.out.find("accepted"), std::string::npos) << sessions.out;
  // This command's own session is among them (the cat's may still be closing).
  boost::json::array ss = items(json(admin_file(), "sessions"));
  const std::string op = vat_id(store("op"));
  const boost::json::value* mine = nullptr;
  for (const auto& x : ss)
    if (str(x, "peer") == op) mine = &x;
  ASSERT_NE(mine, nullptr) << "no session with " << op;
  for (const char* f : {"peer", "direction", "address", "state", "age_ms", "version", "features", "imports", "exports",
                        "questions", "answers", "embargoes", "messages_in", "messages_out"})
    EXPECT_NE(member(*mine, f), nullptr) << f;
  EXPECT_EQ(str(*mine, "direction"), "accepted");
  EXPECT_EQ(str(*mine, "state"), "open");
  EXPECT_NE(str(*mine, "address").value_or("").find("127.0.0.1"), std::string::npos);
}

TEST_F(InspectTest, TheAdminViewsAreRefusedWithoutTheAdminToken) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  const std::string admin = read_file(admin_file()).substr(0, read_file(admin_file()).find('\n'));
  // The root directory's ref is not the admin ref.
  RunResult as_root = inspect(root, {"stats"});
  EXPECT_TRUE(fails_with(as_root, kRefused));
  EXPECT_NE(as_root.err.find("not an admin reference"), std::string::npos) << as_root.err;
  // A tampered or forged admin ref.
  EXPECT_TRUE(fails_with(inspect(tampered(admin)), kRefused));
  EXPECT_TRUE(fails_with(inspect(forged_tag(admin), {"sessions"}), kRefused));
  // An attenuated admin ref whose expiry has passed (RFC 3339, in the past).
  std::string expired = attenuate(admin, {"--expires", "2001-01-01T00:00:00Z"});
  EXPECT_TRUE(fails_with(inspect(expired, {"recorder"}), kRefused));
  // One narrowed to revoke only, or bound to another holder.
  std::string revoke_only = attenuate(admin, {"--methods", "revoke"});
  EXPECT_TRUE(fails_with(inspect(revoke_only, {"recorder"}), kRefused));
  std::string for_b = attenuate(admin, {"--for", vat_id(store("b"))});
  EXPECT_TRUE(fails_with(inspect(for_b), kRefused));
  // The intact ref still works, and one with a future expiry too.
  EXPECT_TRUE(succeeded(inspect(admin)));
  EXPECT_TRUE(succeeded(inspect(attenuate(admin, {"--expires", "1h"}), {"tree"})));
}

TEST_F(InspectTest, BadViewsAreUsageErrorsAndDeadVatsUnreachable) {
  auto server = serve(make_sample_tree(), store("server"));
  EXPECT_TRUE(fails_with(inspect(admin_file(), {"everything"}), kUsage));
  RunResult hostile = inspect(admin_file(), {"\x1b[31mred\n"});
  EXPECT_TRUE(fails_with(hostile, kUsage));
  EXPECT_TRUE(inert(hostile.err));
  EXPECT_TRUE(fails_with(inspect(path("no-such-file")), kUsage));
  EXPECT_TRUE(fails_with(inspect(admin_file(), {"stats", "--bogus"}), kUsage));
  const std::string admin = read_file(admin_file()).substr(0, read_file(admin_file()).find('\n'));
  EXPECT_TRUE(fails_with(inspect(with_hints(admin, {unix_listen("nobody.sock")})), kUnreachable));
}

// A peer calls a method with a hostile name and a hostile argument; the
// operator's `vatic inspect recorder` shows both, escaped.
TEST_F(InspectTest, AHostilePeersMethodNamesReachTheTerminalEscaped) {
  auto server = serve(make_sample_tree(), store("server"));
  ASSERT_TRUE(serve_records());
  {
    Vat v(VatOptions{.name = "hostile"});
    captp::Node node(v, captp::Identity::generate());
    Ref<Object> dir = v.wait(sturdyrefs::enliven(node, parse(server->first_line())));
    Promise<Value> by_name = dir.send(kHostile);
    Promise<Value> with_arg = dir.send(std::string("list"), kHostile);
    EXPECT_THROW(v.wait(by_name), VatError);
    EXPECT_THROW(v.wait(with_arg), VatError);
    node.close("done");
    v.run_until_idle();
  }
  RunResult rec = inspect(admin_file(), {"recorder"});
  ASSERT_TRUE(succeeded(rec));
  EXPECT_TRUE(inert(rec.out));
  EXPECT_FALSE(has_line_starting(rec.out, "FAKE")) << rec.out;
  EXPECT_NE(rec.out.find("pwned"), std::string::npos) << rec.out;

  RunResult j = inspect(admin_file(), {"recorder", "--json"});
  ASSERT_TRUE(succeeded(j));
  EXPECT_TRUE(inert(j.out));
  auto doc = parse_json(j.out);
  ASSERT_TRUE(doc) << j.out;
  bool found = false;
  ASSERT_NE(member(*doc, "data"), nullptr) << j.out;
  for (const auto& e : items(*member(*doc, "data")))
    if (auto m = str(e, "method"); m && m->find("pwned") != std::string::npos) found = true;
  EXPECT_TRUE(found) << "the hostile method name is in the JSON, escaped:\n" << j.out;
}

}  // namespace
}  // namespace vatic::test
