// The documentation that ships beside the binary stays honest: every verb and
// flag the binary knows (asked of the binary: `vatic --help`, `vatic VERB
// --help`) is in the man page (tools/man/vatic.1) and offered by the bash
// completion (tools/completion/vatic.bash, run in a real bash); the page
// renders without warnings and the script parses.
//
//   test process (gtest) --fork/exec--> vatic --help, vatic VERB --help
//        |--popen--> bash -n vatic.bash; bash (sources it, calls _vatic)
//        '--popen--> man -l vatic.1
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/tools/cli_fixture.h"

#ifndef VATIC_SOURCE_DIR
#error "VATIC_SOURCE_DIR (the source tree) must be defined by the build"
#endif

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

const fs::path kManPage = fs::path(VATIC_SOURCE_DIR) / "tools/man/vatic.1";
const fs::path kCompletion = fs::path(VATIC_SOURCE_DIR) / "tools/completion/vatic.bash";

struct Shell {
  int code = -1;
  std::string out, err;
};

// Runs `command` with /bin/sh in `cwd`; stderr is collected through a file.
Shell sh(const std::string& command, const fs::path& cwd, const fs::path& err_file) {
  std::string full = "cd '" + cwd.string() + "' && " + command + " 2>'" + err_file.string() + "'";
  Shell r;
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = fs::exists(err_file) ? read_file(err_file) : "";
  return r;
}

bool have(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

// `-` as roff writes it in flags: "\-\-store".
std::string roff(const std::string& flag) {
  std::string out;
  for (char c : flag) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

std::set<std::string> words(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string w;
  while (in >> w) out.insert(w);
  return out;
}

class DocsTest : public CliTest {
 protected:
  // What the completion offers when the command line is `words` (the last
  // one being completed): one candidate per output line.
  std::set<std::string> complete(const std::vector<std::string>& line, const fs::path& cwd) {
    std::string script = "source '" + kCompletion.string() + "'\nCOMP_WORDS=(";
    for (const auto& w : line) script += "'" + w + "' ";
    script += ")\nCOMP_CWORD=" + std::to_string(line.size() - 1) + "\n_vatic\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
    write_file(path("complete.sh"), script);
    Shell r = sh("bash --norc --noprofile '" + path("complete.sh").string() + "'", cwd, path("complete.err"));
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return words(r.out);
  }
};

TEST_F(DocsTest, ManPageHasEveryVerbAndEveryFlag) {
  const std::string page = read_file(kManPage);
  auto listed = verbs();
  ASSERT_GE(listed.size(), 10u);
  for (const auto& [verb, help] : listed) {
    std::string heading = "\n.SS \"vatic " + verb;
    std::size_t at = page.find(heading);
    EXPECT_TRUE(at != std::string::npos && (page[at + heading.size()] == '"' || page[at + heading.size()] == ' '))
        << "no .SS section for " << verb;
    for (const auto& flag : flags_of(verb)) EXPECT_NE(page.find(roff(flag)), std::string::npos) << verb << " " << flag;
  }
  EXPECT_NE(page.find(roff("--version")), std::string::npos);
  for (const char* section :
       {"NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"})
    EXPECT_NE(page.find(std::string("\n.SH ") + section + "\n"), std::string::npos) << section;
  for (const char* name : {"VATIC_STORE", "XDG_DATA_HOME", "admin.ref"})
    EXPECT_NE(page.find(name), std::string::npos) << name;
  for (const char* code : {"\n.B 0\n", "\n.B 1\n", "\n.B 2\n", "\n.B 3\n", "\n.B 4\n"})
    EXPECT_NE(page.find(code), std::string::npos) << "exit status" << code;
}

TEST_F(DocsTest, ManPageRendersWithoutWarnings) {
  if (!have("man")) GTEST_SKIP() << "man is not installed; the page was not rendered";
  Shell r = sh("LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l '" + kManPage.string() + "'", tmp_.path(),
               path("man.err"));
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.err, "") << "man (groff) warned";
  EXPECT_NE(r.out.find("EXIT STATUS"), std::string::npos) << r.out.substr(0, 400);
}

TEST_F(DocsTest, CompletionScriptIsValidBash) {
  Shell r = sh("bash -n '" + kCompletion.string() + "'", tmp_.path(), path("bash.err"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(DocsTest, CompletionOffersEveryVerbAndEachVerbsFlags) {
  std::set<std::string> offered = complete({"vatic", ""}, tmp_.path());
  for (const auto& [verb, help] : verbs()) {
    EXPECT_TRUE(offered.count(verb)) << verb << " is not offered";
    std::set<std::string> flags = complete({"vatic", verb, "-"}, tmp_.path());
    for (const auto& flag : flags_of(verb)) EXPECT_TRUE(flags.count(flag)) << verb << " " << flag << " is not offered";
  }
  EXPECT_EQ(complete({"vatic", "se"}, tmp_.path()), std::set<std::string>{"serve"});
  EXPECT_TRUE(complete({"vatic", "--v"}, tmp_.path()).count("--version"));
}

TEST_F(DocsTest, CompletionOffersInspectViewsRefFilesAndLocalPaths) {
  EXPECT_EQ(complete({"vatic", "inspect", "admin.ref", ""}, tmp_.path()),
            (std::set<std::string>{"stats", "objects", "tree", "crashes", "recorder", "sessions", "persist"}));
  fs::create_directory(path("work"));
  write_file(path("work") / "root.ref", "vatic://...\n");
  write_file(path("work") / "report.pdf", "");
  // The TOKEN of ls is a ref file; OUT of get a local file; a remote PATH nothing.
  EXPECT_EQ(complete({"vatic", "ls", "ro"}, path("work")), std::set<std::string>{"root.ref"});
  EXPECT_EQ(complete({"vatic", "get", "root.ref", "a.pdf", "rep"}, path("work")), std::set<std::string>{"report.pdf"});
  EXPECT_TRUE(complete({"vatic", "get", "root.ref", "re"}, path("work")).empty());
  EXPECT_EQ(complete({"vatic", "attenuate", "root.ref", "--ops", "read,wr"}, path("work")),
            std::set<std::string>{"read,write"});
}

}  // namespace
}  // namespace vatic::test
