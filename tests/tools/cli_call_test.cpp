// `vatic call REF METHOD [ARGS...]`: any method of the object a sturdy ref
// names, by name, with JSON arguments and the answer printed as JSON; and the
// exit codes of what can go wrong (no such method, bad JSON, refused refs).
//
//   test process (gtest) --fork/exec--> vatic call REF METHOD ARGS... --store <tmp>/store-c
//        |                                         | CapTP over Noise XK
//        v                                         v 127.0.0.1:<port 0>
//   vatic serve <tmp>/data --store <tmp>/store-server   (REF: its root Directory)
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/tools/cli_fixture.h"

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

class CallTest : public CliTest {
 protected:
  RunResult call(const std::string& ref, const std::vector<std::string>& method_and_args, bool json = false) const {
    std::vector<std::string> args{"call", ref};
    args.insert(args.end(), method_and_args.begin(), method_and_args.end());
    args.insert(args.end(), {"--store", store("c")});
    if (json) args.push_back("--json");
    return run(args);
  }
  // The answer of a call expected to succeed, parsed.
  boost::json::value answer(const std::string& ref, const std::vector<std::string>& method_and_args) const {
    RunResult r = call(ref, method_and_args);
    EXPECT_TRUE(succeeded(r)) << ::testing::PrintToString(method_and_args);
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one line: " << r.out;
    auto doc = parse_json(r.out);
    EXPECT_TRUE(doc) << r.out;
    return doc.value_or(boost::json::value{});
  }
};

TEST_F(CallTest, ListAndStatOfADirectoryRefPrintTheirRecordsAsJson) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();

  boost::json::value list = answer(root, {"list", "\"public\""});
  ASSERT_TRUE(list.is_array()) << list;
  std::vector<std::string> names;
  for (const auto& e : list.get_array()) {
    EXPECT_EQ(str(e, "record"), "DirEntry");
    names.push_back(str(e, "name").value_or("?"));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"docs", "index.txt"}));
  EXPECT_EQ(str(list.get_array()[1], "type"), "file");
  EXPECT_EQ(number(list.get_array()[1], "size"), 13);

  boost::json::value stat = answer(root, {"stat", "\"a.txt\""});
  EXPECT_EQ(str(stat, "record"), "Stat");
  EXPECT_EQ(str(stat, "type"), "file");
  EXPECT_EQ(number(stat, "size"), 6);
  EXPECT_TRUE(member(stat, "mtime") && member(stat, "mtime")->is_int64());
}

TEST_F(CallTest, ArgumentsOfEveryJsonKindReachTheObject) {
  std::string data = make_sample_tree();
  auto server = serve(data, store("server"));
  const std::string root = server->first_line();
  // Integers for read's offset and length; the bytes come back as hex.
  EXPECT_EQ(answer(root, {"read", "\"a.txt\"", "1", "3"}), boost::json::parse(R"({"bytes":"6c7068"})"));
  // null for an optional argument; the answer is a reference.
  EXPECT_EQ(answer(root, {"restrict", "\"read,list\"", "null"}), boost::json::parse(R"({"reference":true})"));
  // A method without arguments answering text.
  EXPECT_EQ(answer(root, {"ops"}), boost::json::value("read,list,write,create,delete"));
  // One that changes the tree and answers nothing (null).
  EXPECT_EQ(answer(root, {"mkdir", "\"made-by-call\""}), boost::json::value(nullptr));
  EXPECT_TRUE(fs::is_directory(fs::path(data) / "made-by-call"));
}

TEST_F(CallTest, JsonFlagWrapsTheAnswerWithOk) {
  auto server = serve(make_sample_tree(), store("server"));
  RunResult r = call(server->first_line(), {"stat", "\"notes\""}, true);
  ASSERT_TRUE(succeeded(r));
  auto doc = parse_json(r.out);
  ASSERT_TRUE(doc) << r.out;
  EXPECT_TRUE(is_true(*doc, "ok"));
  ASSERT_NE(member(*doc, "result"), nullptr) << r.out;
  EXPECT_EQ(str(*member(*doc, "result"), "type"), "dir");
}

TEST_F(CallTest, AnUnknownMethodFailsWithTheObjectsReason) {
  auto server = serve(make_sample_tree(), store("server"));
  RunResult r = call(server->first_line(), {"frobnicate", "1"});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_NE(r.err.find("no method \"frobnicate\""), std::string::npos) << r.err;
  RunResult arity = call(server->first_line(), {"list"});
  EXPECT_TRUE(fails_with(arity, 1));
  EXPECT_NE(arity.err.find("argument"), std::string::npos) << arity.err;
}

TEST_F(CallTest, BadJsonArgumentsAreUsageErrorsBeforeAnythingIsSent) {
  // No server at all: the arguments are refused before the ref is redeemed.
  const std::string nowhere = "vatic://nowhere.invalid/xyz";
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"list", "notes"},                          // a bare word, not a JSON string
           {"list", "[1,"},                            // cut short
           {"read", "\"a\"", "18446744073709551615"},  // beyond int64
           {"read", "\"a\"", "{\"bytes\":\"xyz\"}"},   // not hex
           {"sub", "{\"reference\":true}"},            // a reference cannot be written
       }) {
    RunResult r = call(nowhere, bad);
    EXPECT_TRUE(fails_with(r, kUsage)) << ::testing::PrintToString(bad);
    EXPECT_NE(r.err.find("argument"), std::string::npos) << r.err;
  }
  RunResult bare = call(nowhere, {"list", "notes"});
  EXPECT_NE(bare.err.find("'\"notes\"'"), std::string::npos) << "the hint shows the quoted form: " << bare.err;
  EXPECT_TRUE(fails_as_json(call(nowhere, {"list", "notes"}, true), kUsage, "usage"));
}

TEST_F(CallTest, ForgedRevokedOrNarrowedRefsAreRefused) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  EXPECT_TRUE(fails_with(call(forged_tag(root), {"list", "\"\""}), kRefused));
  EXPECT_TRUE(fails_with(call(tampered(root), {"list", "\"\""}), kRefused));
  // A token narrowed to `stat` cannot list; one narrowed to public/ cannot reach out.
  std::string stat_only = attenuate(root, {"--methods", "stat"});
  EXPECT_TRUE(succeeded(call(stat_only, {"stat", "\"a.txt\""})));
  EXPECT_TRUE(fails_with(call(stat_only, {"list", "\"\""}), kRefused));
  std::string pub = attenuate(root, {"--path", "public"});
  EXPECT_TRUE(fails_with(call(pub, {"stat", "\"../secret.txt\""}), kRefused));
  // Revoked.
  const std::string admin = (fs::path(store("server")) / "admin.ref").string();
  ASSERT_TRUE(succeeded(run({"revoke", admin, pub, "--store", store("c")})));
  EXPECT_TRUE(fails_as_json(call(pub, {"list", "\"\""}, true), kRefused, "refused"));
}

TEST_F(CallTest, AnUnreachableVatExitsFour) {
  auto server = serve(make_sample_tree(), store("server"));
  std::string nobody = with_hints(server->first_line(), {unix_listen("nobody.sock")});
  EXPECT_TRUE(fails_with(call(nobody, {"ops"}), kUnreachable));
}

}  // namespace
}  // namespace vatic::test
