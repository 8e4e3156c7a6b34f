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

#include <algorithm>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "sturdyrefs/uri.h"
#include "tests/tools/cli_process.h"
#include "tests/tools/json_read.h"

namespace vatic::test {

inline constexpr int kOk = 0, kUsage = 2, kRefused = 3, kUnreachable = 4;

// With --json, a failure is one JSON object on stdout and nothing on stderr:
// {"ok":false,"error":{"exit_code":N,"kind":KIND,"message":"..."}}, exit N.
inline ::testing::AssertionResult fails_as_json(const RunResult& r, int code, const std::string& kind) {
  if (r.code != code) return ::testing::AssertionFailure() << "expected exit " << code << ", got " << r.describe();
  if (!r.err.empty()) return ::testing::AssertionFailure() << "expected no stderr, got " << r.describe();
  auto doc = parse_json(r.out);
  if (!doc || std::count(r.out.begin(), r.out.end(), '\n') != 1 || r.out.back() != '\n')
    return ::testing::AssertionFailure() << "expected one line of JSON, got " << r.describe();
  const boost::json::value* error = member(*doc, "error");
  if (!member(*doc, "ok") || is_true(*doc, "ok") || !error || number(*error, "exit_code") != code ||
      str(*error, "kind") != kind || !str(*error, "message") || str(*error, "message")->empty())
    return ::testing::AssertionFailure() << "expected ok:false and error {exit_code: " << code << ", kind: " << kind
                                         << ", message}, got " << r.describe();
  return ::testing::AssertionSuccess();
}

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
  // its stderr to its own file. `nofile`: its open-file limit, if not 0.
  std::unique_ptr<ServerProcess> serve(const std::string& dir, const std::string& store_dir,
                                       const std::string& listen = "127.0.0.1:0",
                                       const std::vector<std::string>& extra = {}, rlim_t nofile = 0) {
    std::vector<std::string> args{dir, "--store", store_dir, "--listen", listen};
    args.insert(args.end(), extra.begin(), extra.end());
    auto log = tmp_ / ("serve-" + std::to_string(++servers_) + ".log");
    return std::make_unique<ServerProcess>(tmp_ / "home", args, log, nofile);
  }

  // The verbs the binary knows, as `vatic --help` lists them under
  // "Subcommands:": name and one-line description.
  std::vector<std::pair<std::string, std::string>> verbs() const {
    RunResult r = run({"--help"});
    EXPECT_TRUE(succeeded(r));
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream lines(r.out);
    std::string line;
    bool in_list = false;
    while (std::getline(lines, line)) {
      if (line == "Subcommands:") {
        in_list = true;
      } else if (in_list && line.starts_with("  ")) {
        std::size_t name_end = line.find(' ', 2);
        std::size_t help = line.find_first_not_of(' ', name_end);
        out.emplace_back(line.substr(2, name_end - 2), help == std::string::npos ? "" : line.substr(help));
      } else if (in_list) {
        break;
      }
    }
    return out;
  }

  // The long flags `vatic VERB --help` lists under "Options:" ("--store", ...).
  std::vector<std::string> flags_of(const std::string& verb) const {
    RunResult r = run({verb, "--help"});
    EXPECT_TRUE(succeeded(r)) << verb;
    std::vector<std::string> out;
    std::istringstream lines(r.out);
    std::string line;
    bool in_list = false;
    while (std::getline(lines, line)) {
      if (line == "Options:") {
        in_list = true;
      } else if (in_list && line.starts_with("  ")) {
        // "  -f,--force   help" or "  --store TEXT   help"
        std::string names = line.substr(2, line.find(' ', 2) - 2);
        for (std::size_t at = names.find("--"); at != std::string::npos; at = names.find("--", at + 2))
          out.push_back(names.substr(at, names.find(',', at) - at));
      } else if (in_list) {
        break;
      }
    }
    return out;
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
