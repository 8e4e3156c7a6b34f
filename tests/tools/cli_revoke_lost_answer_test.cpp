// A revoke whose answer is lost: the vat committed it, then the connection
// dropped before the answer came. `vatic revoke` cannot know which happened,
// so it exits 4 and says the revoke may have happened and that a retry is
// safe; the retry (revoke is idempotent, spec/admin.md) answers "already
// revoked".
//
//   test process --fork/exec--> vatic revoke LOSSY-ADMIN TOKEN --store <tmp>/store-c
//        |                              | CapTP, unix:<tmp>/lossy.sock
//        +--fork/exec--> cli_test_lossy_admin <tmp>/store-server   (commits, then SIGKILLs itself)
//        +--fork/exec--> vatic serve <tmp>/data --store <tmp>/store-server  (before and after)
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/tools/cli_fixture.h"
#include "tests/tools/helper_process.h"

#ifndef VATIC_LOSSY_ADMIN
#error "VATIC_LOSSY_ADMIN (the path of cli_test_lossy_admin) must be defined by the build"
#endif

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

TEST_F(CliTest, ARevokeWhoseAnswerIsLostSaysItMayHaveHappenedAndTheRetryIsSafe) {
  const std::string data = make_sample_tree();
  const std::string srv = store("server");
  const std::string admin = (fs::path(srv) / "admin.ref").string();
  std::string branch;
  {
    auto server = serve(data, srv, unix_listen("s.sock"));
    branch = attenuate(server->first_line(), {"--path", "public"});
    ASSERT_TRUE(succeeded(run({"ls", branch, "--store", store("c")})));
  }

  // cli_test_lossy_admin STORE LISTEN.
  HelperServer lossy(VATIC_LOSSY_ADMIN, tmp_ / "home", {srv, unix_listen("lossy.sock")});
  RunResult lost = run({"revoke", lossy.ref(), branch, "--store", store("c")});
  EXPECT_TRUE(fails_with(lost, kUnreachable));
  EXPECT_NE(lost.err.find("may have happened"), std::string::npos) << lost.err;
  EXPECT_NE(lost.err.find("a retry is safe"), std::string::npos) << lost.err;
  int status = lossy.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << describe_wait_status(status);

  // It had happened: the branch is refused, and revoking it again succeeds
  // and says it was already revoked.
  auto server = serve(data, srv, unix_listen("s.sock"));
  EXPECT_TRUE(fails_with(run({"ls", branch, "--store", store("c")}), kRefused));
  RunResult again = run({"revoke", admin, branch, "--store", store("c")});
  EXPECT_TRUE(succeeded(again));
  EXPECT_NE(again.out.find("already revoked"), std::string::npos) << again.out;
  RunResult json = run({"revoke", admin, branch, "--store", store("c"), "--json"});
  EXPECT_TRUE(succeeded(json));
  EXPECT_NE(json.out.find("\"revoked\":\"already\""), std::string::npos) << json.out;
}

TEST_F(CliTest, RevokingTheSameRefTwiceSucceedsBothTimes) {
  auto server = serve(make_sample_tree(), store("server"), unix_listen("s.sock"));
  const std::string admin = (fs::path(store("server")) / "admin.ref").string();
  const std::string branch = attenuate(server->first_line(), {"--ops", "read,list"});
  RunResult first = run({"revoke", admin, branch, "--store", store("c")});
  ASSERT_TRUE(succeeded(first));
  EXPECT_EQ(first.out.find("already"), std::string::npos) << first.out;
  RunResult second = run({"revoke", admin, branch, "--store", store("c")});
  EXPECT_TRUE(succeeded(second));
  EXPECT_NE(second.out.find("already revoked"), std::string::npos) << second.out;
  // A forged ref is still refused, not "already revoked".
  EXPECT_TRUE(fails_with(run({"revoke", admin, forged_tag(branch), "--store", store("c")}), kRefused));
}

}  // namespace
}  // namespace vatic::test
