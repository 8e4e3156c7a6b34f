// CliTest: the fixture the CLI tests share. Each test gets its own temporary
// directory holding a sample tree to serve, its stores (one per identity) and
// its unix sockets; servers it starts are stopped and reaped by ServerProcess.
// Also: small edits of sturdy refs (other hints, a flipped character, a forged
// tag) made with the library's own parser, so that each edit changes exactly
// what the test means to change.
//
// Threads: the test thread.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sturdyrefs/uri.h"
#include "tests/tools/cli_process.h"
#include "tests/tools/json_read.h"

namespace vatic::test {

inline constexpr int kOk = 0, kUsage = 2, kRefused = 3, kUnreachable = 4;

class CliTest : public ::testing::Test {
 protected:
  CliTest() { std::filesystem::create_directory(tmp_ / "home"); }

  std::filesystem::path path(const std::string& name) const { return tmp_ / name; }
  // A store directory that does not exist yet: vatic creates it.
  std::string store(const std::string& name) const { return (tmp_ / ("store-" + name)).string(); }
  std::string unix_listen(const std::string& name) const { return "unix:" + (tmp_ / name).string(); }

  RunResult run(const std::vector<std::string>& args, const RunOptions& opt = {}) const {
    return run_vatic(tmp_ / "home", args, opt);
  }

  // The vat id of `store_dir` (created if missing).
  std::string vat_id(const std::string& store_dir) const {
    RunResult r = run({"id", "--store", store_dir});
    EXPECT_TRUE(succeeded(r));
    return r.line();
  }

  // data/: a.txt, notes/b.txt, public/{index.txt, docs/c.txt}, secret.txt.
  std::string make_sample_tree() const {
    auto d = tmp_ / "data";
    std::filesystem::create_directories(d / "notes");
    std::filesystem::create_directories(d / "public/docs");
    write_file(d / "a.txt", "alpha\n");
    write_file(d / "notes/b.txt", "bravo\n");
    write_file(d / "public/index.txt", "public index\n");
    write_file(d / "public/docs/c.txt", "charlie\n");
    write_file(d / "secret.txt", "top secret\n");
    return d.string();
  }

  // `vatic serve DIR --store STORE --listen LISTEN EXTRA...`; each server logs
  // its stderr to its own file.
  std::unique_ptr<ServerProcess> serve(const std::string& dir, const std::string& store_dir,
                                       const std::string& listen = "127.0.0.1:0",
                                       const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{dir, "--store", store_dir, "--listen", listen};
    args.insert(args.end(), extra.begin(), extra.end());
    auto log = tmp_ / ("serve-" + std::to_string(++servers_) + ".log");
    return std::make_unique<ServerProcess>(tmp_ / "home", args, log);
  }

  // `vatic attenuate REF ARGS...`, expected to succeed: the narrower ref.
  std::string attenuate(const std::string& ref, const std::vector<std::string>& args) const {
    std::vector<std::string> all{"attenuate", ref};
    all.insert(all.end(), args.begin(), args.end());
    RunResult r = run(all);
    EXPECT_TRUE(succeeded(r)) << "attenuate " << ::testing::PrintToString(args);
    return r.line();
  }

  static sturdyrefs::SturdyRef parse(const std::string& ref) {
    auto r = sturdyrefs::parse_sturdy_ref(ref);
    if (!r) throw std::runtime_error("not a sturdy ref: " + ref + " (" + r.error() + ")");
    return r.value();
  }
  // The same ref (same vat id, same token) with other address hints.
  static std::string with_hints(const std::string& ref, std::vector<std::string> hints) {
    auto r = parse(ref);
    r.hints = std::move(hints);
    return sturdyrefs::format_sturdy_ref(r);
  }
  // The ref with one character in the middle of its token text changed to
  // another base64url character.
  static std::string tampered(const std::string& ref) {
    std::string t = ref;
    std::size_t token_start = t.rfind('/') + 1;
    std::size_t i = token_start + (t.size() - token_start) / 2;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    return t;
  }
  // The ref with a well-formed token whose tag was not made by the vat.
  static std::string forged_tag(const std::string& ref) {
    auto r = parse(ref);
    for (auto& b : r.token.tag) b = static_cast<std::uint8_t>(b ^ 0x5a);
    return sturdyrefs::format_sturdy_ref(r);
  }

  TempDir tmp_{"vatic-cli"};

 private:
  int servers_ = 0;
};

}  // namespace vatic::test
