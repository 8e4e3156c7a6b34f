// `vatic inspect ADMIN-REF persist` (spec/admin.md, `persist`): the host of
// persistent objects of a real serving vat, its kinds with their versions
// and its activations, as tables and as JSON; and a vat without one.
//
//   test process --fork/exec--> vatic inspect ADMIN-REF persist --store <tmp>/store-op
//        |                              | CapTP, Noise XK, unix:<tmp>/p.sock
//        +--fork/exec--> cli_test_persist_server <tmp>/store-server   (counter v1 -> v2, note v1)
//        +--fork/exec--> vatic serve <tmp>/data --store <tmp>/store-plain
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/tools/cli_fixture.h"
#include "tests/tools/helper_process.h"
#include "tests/tools/json_read.h"

#ifndef VATIC_PERSIST_SERVER
#error "VATIC_PERSIST_SERVER (the path of cli_test_persist_server) must be defined by the build"
#endif

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

const boost::json::array* array(const boost::json::value& v, std::string_view key) {
  const auto* m = member(v, key);
  return m && m->is_array() ? &m->as_array() : nullptr;
}

// The one record of `list` whose `key` is `value`, or null.
const boost::json::value* find(const boost::json::array& list, std::string_view key, std::string_view value,
                               std::string_view key2 = {}, double value2 = 0) {
  for (const auto& x : list)
    if (str(x, key) == std::string(value) && (key2.empty() || number(x, key2) == value2)) return &x;
  return nullptr;
}

TEST_F(CliTest, InspectPersistShowsTheHostsKindsVersionsAndActivations) {
  HelperServer server(VATIC_PERSIST_SERVER, tmp_ / "home", {store("server"), unix_listen("p.sock")});
  RunResult r = run({"inspect", server.ref(), "persist", "--json", "--store", store("op")});
  ASSERT_TRUE(succeeded(r)) << r.err;
  auto doc = parse_json(r.out);
  ASSERT_TRUE(doc) << r.out;
  EXPECT_EQ(str(*doc, "view"), "persist");
  const boost::json::array* hosts = array(*doc, "data");
  ASSERT_TRUE(hosts && hosts->size() == 1) << r.out;
  const boost::json::value& h = (*hosts)[0];
  EXPECT_EQ(str(h, "record"), "persist");
  EXPECT_EQ(str(h, "host"), "inspect-test");
  EXPECT_EQ(number(h, "active"), 2);
  EXPECT_EQ(number(h, "migrations"), 1);
  EXPECT_EQ(number(h, "rollbacks"), 0);
  const boost::json::array* kinds = array(h, "kinds");
  ASSERT_TRUE(kinds) << r.out;
  EXPECT_EQ(kinds->size(), 3u);
  const boost::json::value* v1 = find(*kinds, "kind", "counter", "version", 1);
  const boost::json::value* v2 = find(*kinds, "kind", "counter", "version", 2);
  ASSERT_TRUE(v1 && v2) << r.out;
  EXPECT_EQ(str(*v1, "state"), "older");
  EXPECT_EQ(str(*v2, "state"), "current");
  EXPECT_TRUE(is_true(*v2, "migrate"));
  EXPECT_FALSE(is_true(*v1, "migrate"));
  const boost::json::array* objects = array(h, "objects");
  ASSERT_TRUE(objects) << r.out;
  const boost::json::value* alpha = find(*objects, "id", "counter/alpha");
  const boost::json::value* note = find(*objects, "id", "note/first");
  ASSERT_TRUE(alpha && note) << r.out;
  EXPECT_EQ(number(*alpha, "version"), 2);  // migrated by the upgrade
  EXPECT_EQ(str(*alpha, "kind"), "counter");
  EXPECT_EQ(number(*note, "version"), 1);
  EXPECT_GE(number(*alpha, "epoch").value_or(0), 2);  // activated at v1, then again at v2

  RunResult text = run({"inspect", server.ref(), "persist", "--store", store("op")});
  ASSERT_TRUE(succeeded(text)) << text.err;
  EXPECT_NE(text.out.find("persistent objects of host inspect-test\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\nkinds:\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\nobjects:\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("counter/alpha"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("withdrawn"), std::string::npos) << text.out;  // no version failed
}

TEST_F(CliTest, InspectPersistOfAVatWithoutPersistentObjectsSaysSo) {
  auto server = serve(make_sample_tree(), store("plain"), unix_listen("s.sock"));
  const std::string admin = (fs::path(store("plain")) / "admin.ref").string();
  RunResult text = run({"inspect", admin, "persist", "--store", store("op")});
  ASSERT_TRUE(succeeded(text)) << text.err;
  EXPECT_EQ(text.out, "no persistent-object host\n");
  RunResult json = run({"inspect", admin, "persist", "--json", "--store", store("op")});
  ASSERT_TRUE(succeeded(json)) << json.err;
  auto doc = parse_json(json.out);
  ASSERT_TRUE(doc) << json.out;
  const boost::json::array* hosts = array(*doc, "data");
  ASSERT_TRUE(hosts) << json.out;
  EXPECT_TRUE(hosts->empty());
}

}  // namespace
}  // namespace vatic::test
