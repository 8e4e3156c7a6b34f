// How `vatic` answers a person who typed something wrong or asked for help:
// --version, a mistyped verb or flag (named, with the closest known one
// suggested), each verb's --help with examples and exit codes; and, with
// --json, every failure as one JSON object on stdout with the same exit code.
//
//   test process (gtest) --fork/exec--> vatic ... [--json] --store <tmp>/store-c
//        |                                      | CapTP over Noise XK
//        v                                      v 127.0.0.1:<port 0>
//   vatic serve <tmp>/data --store <tmp>/store-server   (for the JSON failures)
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/tools/cli_fixture.h"
#include "vat/version.h"

namespace vatic::test {
namespace {

TEST_F(CliTest, VersionPrintsTheVersionOfTheHeaders) {
  RunResult r = run({"--version"});
  ASSERT_TRUE(succeeded(r));
  // The binary and its libraries come from one build: one version.
  EXPECT_EQ(r.out, "vatic " VATIC_VERSION_STRING "\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, UnknownVerbIsNamedWithTheClosestVerbSuggested) {
  RunResult sever = run({"sever"});
  EXPECT_TRUE(fails_with(sever, kUsage));
  EXPECT_EQ(sever.err, "vatic: unknown command 'sever'; did you mean 'serve'?\n");
  RunResult cta = run({"cta", "root.ref", "a.txt"});
  EXPECT_TRUE(fails_with(cta, kUsage));
  EXPECT_EQ(cta.err, "vatic: unknown command 'cta'; did you mean 'cat'?\n");
}

TEST_F(CliTest, UnknownVerbFarFromEveryVerbGetsNoSuggestion) {
  RunResult r = run({"frobnicate"});
  EXPECT_TRUE(fails_with(r, kUsage));
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("did you mean"), std::string::npos) << r.err;
}

TEST_F(CliTest, UnknownFlagsAndExtraArgumentsAreNamedUsageErrors) {
  RunResult jsn = run({"ls", "vatic://x", "--jsn"});
  EXPECT_TRUE(fails_with(jsn, kUsage));
  EXPECT_EQ(jsn.err, "vatic: unknown option '--jsn' for 'vatic ls'; did you mean '--json'? (see vatic ls --help)\n");
  RunResult far = run({"get", "vatic://x", "a.txt", "--frobnicate"});
  EXPECT_TRUE(fails_with(far, kUsage));
  EXPECT_NE(far.err.find("unknown option '--frobnicate' for 'vatic get'"), std::string::npos) << far.err;
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
  RunResult extra = run({"id", "extra", "--store", store("c")});
  EXPECT_TRUE(fails_with(extra, kUsage));
  EXPECT_NE(extra.err.find("unexpected argument 'extra' for 'vatic id'"), std::string::npos) << extra.err;
  RunResult top = run({"--verison"});
  EXPECT_TRUE(fails_with(top, kUsage));
  EXPECT_NE(top.err.find("unknown option '--verison'; did you mean '--version'?"), std::string::npos) << top.err;
  EXPECT_FALSE(std::filesystem::exists(store("c"))) << "a usage error touches no store";
}

TEST_F(CliTest, TopLevelHelpListsEveryVerbWithADescription) {
  auto listed = verbs();
  std::set<std::string> names;
  for (const auto& [name, help] : listed) {
    names.insert(name);
    EXPECT_GE(help.size(), 10u) << name << " has no description";
  }
  EXPECT_EQ(names, (std::set<std::string>{"id", "serve", "attenuate", "revoke", "inspect", "call", "ls", "cat", "get",
                                          "put", "rm", "mkdir"}));
  RunResult r = run({"--help"});
  EXPECT_NE(r.out.find("Exit status:"), std::string::npos) << r.out;
}

TEST_F(CliTest, EveryVerbsHelpShowsExamplesAndExitCodes) {
  for (const auto& [verb, help] : verbs()) {
    RunResult r = run({verb, "--help"});
    ASSERT_TRUE(succeeded(r)) << verb;
    std::size_t examples = r.out.find("\nExamples:\n");
    ASSERT_NE(examples, std::string::npos) << verb << ":\n" << r.out;
    EXPECT_NE(r.out.find("vatic " + verb + " ", examples), std::string::npos) << verb << ": no example runs it";
    std::size_t codes = r.out.find("\nExit status:\n", examples);
    ASSERT_NE(codes, std::string::npos) << verb << ":\n" << r.out;
    for (const char* line : {"  0  success", "  1  ", "  2  usage error"})
      EXPECT_NE(r.out.find(line, codes), std::string::npos) << verb << " lacks " << line;
    bool remote = verb != "id" && verb != "serve" && verb != "attenuate";
    EXPECT_EQ(r.out.find("  4  ", codes) != std::string::npos, remote) << verb << ":\n" << r.out;
  }
}

// --- With --json, failures are JSON too (one object on stdout, stderr empty).

TEST_F(CliTest, JsonFailureOfARefusedTokenIsAnObjectOnStdout) {
  auto server = serve(make_sample_tree(), store("server"));
  RunResult forged = run({"ls", forged_tag(server->first_line()), "--store", store("c"), "--json"});
  EXPECT_TRUE(fails_as_json(forged, kRefused, "refused"));
  auto doc = parse_json(forged.out);
  ASSERT_TRUE(doc);
  EXPECT_NE(str(*member(*doc, "error"), "message").value_or("").find("refused"), std::string::npos) << forged.out;
  // A path outside the grant, the same way.
  EXPECT_TRUE(
      fails_as_json(run({"cat", server->first_line(), "../x", "--store", store("c"), "--json"}), kRefused, "refused"));
}

TEST_F(CliTest, JsonFailureOfAnUnreachableVatIsAnObjectOnStdout) {
  auto server = serve(make_sample_tree(), store("server"));
  std::string nobody = with_hints(server->first_line(), {unix_listen("nobody.sock")});
  EXPECT_TRUE(fails_as_json(run({"ls", nobody, "--store", store("c"), "--json"}), kUnreachable, "unreachable"));
}

TEST_F(CliTest, JsonFailuresOfUsageAndOtherErrorsAreObjectsToo) {
  auto server = serve(make_sample_tree(), store("server"));
  EXPECT_TRUE(fails_as_json(run({"sever", "--json"}), kUsage, "usage"));
  EXPECT_TRUE(fails_as_json(run({"ls", server->first_line(), "--bogus", "--json"}), kUsage, "usage"));
  EXPECT_TRUE(fails_as_json(run({"ls", "--json"}), kUsage, "usage"));  // TOKEN missing
  RunResult missing = run({"cat", server->first_line(), "nope.txt", "--store", store("c"), "--json"});
  EXPECT_TRUE(fails_as_json(missing, 1, "failed"));
  // Hostile text in the message stays inert (escaped by the JSON writer).
  RunResult hostile = run({"cat", server->first_line(), "no\x1b[2J\xc2\x9b", "--store", store("c"), "--json"});
  EXPECT_TRUE(fails_as_json(hostile, 1, "failed"));
  EXPECT_EQ(hostile.out.find('\x1b'), std::string::npos) << hostile.out;
  EXPECT_EQ(hostile.out.find("\xc2\x9b"), std::string::npos) << hostile.out;
}

}  // namespace
}  // namespace vatic::test
