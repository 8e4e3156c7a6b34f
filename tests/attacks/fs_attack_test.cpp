// Attacks on the scoped filesystem (caps/fs): a capability holder who tries to
// reach beyond the directory it was given, or to hang or exhaust the vat that
// serves it.
//
//   holder --(path text, by name or typed)--> Directory / File --(*at syscalls)--> tree
//                                                                 \--X--> parent, /etc, /proc
//
// The holder chooses every path byte; the host (this test) also plays a
// concurrent local attacker who swaps directories for symlinks under the
// resolver. Every case runs against both resolvers (openat2 and the O_NOFOLLOW
// walk). Symbolic links that stay in the tree are followed (spec/fs.md); a
// refusal must break the call with "refused: ..."; nothing outside the tree
// may be read, written, created or listed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "caps/fs/directory.h"
#include "tests/caps/fs_test_util.h"

namespace vatic::caps::test {
namespace {

class FsAttack : public ::testing::TestWithParam<PathResolver> {
 protected:
  void SetUp() override {
    // outside/ is the attacker's target; tree/ is what the holder is given.
    outside_.write("secret", "OUTSIDE");
    outside_.mkdir("dir");
    w.tree.write("a.txt", "alpha");
    w.tree.mkdir("inner");
    w.tree.write("inner/in.txt", "inside");
    UniqueFd fd(::open(w.tree.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (GetParam() == PathResolver::openat2 && !openat2_supported(fd.get())) GTEST_SKIP() << "no openat2 here";
    d = w.open(kAllFsOps, std::nullopt, GetParam());
  }

  // Sends every path-taking method with `path` and expects each to be refused
  // with exactly `reason`.
  void expect_all_refused(const std::string& path, const std::string& reason) {
    EXPECT_EQ(w.reason(d.send<&Directory::list>(path)), reason) << "list " << path;
    EXPECT_EQ(w.reason(d.send<&Directory::stat>(path)), reason) << "stat " << path;
    EXPECT_EQ(w.reason(d.send<&Directory::read>(path, 0, 100)), reason) << "read " << path;
    EXPECT_EQ(w.reason(d.send<&Directory::open>(path)), reason) << "open " << path;
    EXPECT_EQ(w.reason(d.send<&Directory::create>(path)), reason) << "create " << path;
    EXPECT_EQ(w.reason(d.send<&Directory::mkdir>(path)), reason) << "mkdir " << path;
    EXPECT_EQ(w.reason(d.send<&Directory::remove>(path)), reason) << "remove " << path;
    EXPECT_EQ(w.reason(d.send<&Directory::rename>(path, "x")), reason) << "rename from " << path;
    EXPECT_EQ(w.reason(d.send<&Directory::rename>("a.txt", path)), reason) << "rename to " << path;
    EXPECT_EQ(w.reason(d.send<&Directory::sub>(path)), reason) << "sub " << path;
  }

  void expect_outside_untouched() {
    EXPECT_EQ(outside_.read("secret"), "OUTSIDE");
    EXPECT_FALSE(outside_.exists("x"));
    EXPECT_FALSE(outside_.exists("new"));
    EXPECT_TRUE(w.tree.exists("a.txt"));
  }

  TempTree outside_;
  FsWorld w;
  Ref<Directory> d;
};

TEST_P(FsAttack, DotDotAboveTheRootIsRefusedInEveryPosition) {
  for (std::string p :
       {"..", "../", "../secret", "./..", "inner/../../secret", "inner/../..", "inner/./../../", "a.txt/../../secret"})
    expect_all_refused(p, "refused: path \"" + p + "\" leaves the directory");
  expect_outside_untouched();
}

// fs.md, Parse 4: a ".." that cancels a name the holder wrote is lexical.
TEST_P(FsAttack, DotDotThatStaysInsideNamesWhatItLexicallyMeans) {
  EXPECT_EQ(text_of(w.get(d.send<&Directory::read>("inner/../a.txt", 0, 10))), "alpha");
  EXPECT_EQ(text_of(w.get(d.send<&Directory::read>("nothing/../inner/in.txt", 0, 10))), "inside");
  EXPECT_EQ(w.get(d.send<&Directory::list>("inner/..")).size(), 2u);  // the root: a.txt, inner
  EXPECT_EQ(w.get(d.send<&Directory::stat>("inner/in.txt/..")).type, "dir");
  EXPECT_EQ(w.reason(d.send<&Directory::remove>("inner/..")), "invalid path: \"inner/..\" names this directory itself");
  w.get(d.send<&Directory::mkdir>("inner/../made"));
  EXPECT_TRUE(w.tree.exists("made"));
  auto sub = w.get(d.send<&Directory::sub>("inner/in.txt/.."));
  EXPECT_EQ(text_of(w.get(sub.send<&Directory::read>("in.txt", 0, 10))), "inside");
  EXPECT_EQ(w.reason(sub.send<&Directory::read>("x/../../a.txt", 0, 10)),
            "refused: path \"x/../../a.txt\" leaves the directory");
  expect_outside_untouched();
}

TEST_P(FsAttack, AbsolutePathsAreRefused) {
  std::string target = outside_.path("secret");
  for (std::string p : {std::string("/"), std::string("/etc/passwd"), target})
    expect_all_refused(p, "refused: path \"" + p + "\" is absolute");
  expect_outside_untouched();
}

std::string leaves(const std::string& p) { return "refused: path \"" + p + "\" leaves the directory"; }
std::string too_many(const std::string& p) { return "refused: path \"" + p + "\": too many levels of symbolic links"; }
std::string magic(const std::string& p) { return "refused: path \"" + p + "\" goes through a /proc magic link"; }

TEST_P(FsAttack, SymlinksOutAreNeverFollowed) {
  w.tree.symlink(outside_.root(), "abs");
  w.tree.symlink(outside_.path("secret"), "abs_file");
  w.tree.symlink("../" + outside_.root().substr(5), "rel");  // from /tmp/x to /tmp/outside
  w.tree.symlink("../../../../../../../../..", "inner/deep_up");
  w.tree.symlink(w.tree.path("a.txt"), "abs_inside");  // absolute, even back into the tree
  for (const std::string& p :
       std::vector<std::string>{"abs/secret", "rel/secret", "abs/new", "inner/../abs/secret",
                                "inner/deep_up/etc/passwd", "inner/deep_up" + outside_.path("secret")})
    expect_all_refused(p, leaves(p));
  EXPECT_EQ(w.reason(d.send<&Directory::list>("abs/dir/")), leaves("abs/dir/"));
  for (std::string p : {"abs", "abs_file", "rel", "abs_inside", "inner/deep_up"}) {
    EXPECT_EQ(w.reason(d.send<&Directory::read>(p, 0, 100)), leaves(p));
    EXPECT_EQ(w.reason(d.send<&Directory::open>(p)), leaves(p));
    EXPECT_EQ(w.reason(d.send<&Directory::list>(p)), leaves(p));
    EXPECT_EQ(w.reason(d.send<&Directory::sub>(p)), leaves(p));
    EXPECT_EQ(w.reason(d.send<&Directory::stat>(p)), leaves(p));
  }
  // Listed as themselves, never resolved.
  for (const auto& e : w.get(d.send<&Directory::list>("")))
    if (e.name != "a.txt" && e.name != "inner") {
      EXPECT_EQ(e.type, "other") << e.name;
    }
  expect_outside_untouched();
}

TEST_P(FsAttack, SymlinkLoopsFailWithoutHanging) {
  w.tree.symlink("loop", "loop");
  w.tree.symlink("ping", "pong");
  w.tree.symlink("pong", "ping");
  w.tree.symlink(".", "inner/here");
  w.tree.symlink("here/here/here/here/here/here/here/here/here/here/here/here", "inner/far");
  for (std::string p : {"loop/x", "ping/x", "pong/a/b/c", "loop", "inner/far/far/far/far/a"})
    EXPECT_EQ(w.reason(d.send<&Directory::read>(p, 0, 1)), too_many(p));
  EXPECT_EQ(w.reason(d.send<&Directory::open>("loop")), too_many("loop"));
  EXPECT_EQ(w.reason(d.send<&Directory::list>("ping")), too_many("ping"));
  EXPECT_EQ(w.reason(d.send<&Directory::create>("loop/x")), too_many("loop/x"));
  // Under the budget the same links work: far is 13 links, 3 of them 39.
  EXPECT_EQ(text_of(w.get(d.send<&Directory::read>("inner/far/far/far/in.txt", 0, 10))), "inside");
}

TEST_P(FsAttack, CreatingThroughADanglingSymlinkCreatesNothingOutside) {
  w.tree.symlink(outside_.path("new"), "dangling");
  w.tree.symlink("../../new", "inner/dangling_rel");
  w.tree.symlink("not_yet", "dangling_in");
  EXPECT_EQ(w.reason(d.send<&Directory::create>("dangling")), "already exists: dangling");
  EXPECT_EQ(w.reason(d.send<&Directory::mkdir>("dangling")), "already exists: dangling");
  EXPECT_EQ(w.reason(d.send<&Directory::create>("inner/dangling_rel")), "already exists: inner/dangling_rel");
  EXPECT_EQ(w.reason(d.send<&Directory::open>("dangling")), leaves("dangling"));
  EXPECT_EQ(w.reason(d.send<&Directory::open>("inner/dangling_rel")), leaves("inner/dangling_rel"));
  // A dangling link inside the tree: not found, and create does not go through it either.
  EXPECT_EQ(w.reason(d.send<&Directory::open>("dangling_in")), "not found: dangling_in");
  EXPECT_EQ(w.reason(d.send<&Directory::create>("dangling_in")), "already exists: dangling_in");
  EXPECT_FALSE(w.tree.exists("not_yet"));
  EXPECT_FALSE(outside_.exists("new"));
  // Removing the link removes the link only.
  w.get(d.send<&Directory::remove>("dangling"));
  EXPECT_FALSE(w.tree.exists("dangling"));
}

TEST_P(FsAttack, ProcMagicLinksAreNotFollowed) {
  w.tree.symlink("/proc/self/root", "proc_root");
  EXPECT_EQ(w.reason(d.send<&Directory::read>("proc_root/etc/passwd", 0, 10)), leaves("proc_root/etc/passwd"));
  // Serving /proc/self itself: root, cwd, exe and fd/N are magic links.
  auto proc = open_directory(w.vat, w.io, "/proc/self", kReadOnlyFsOps, std::nullopt, GetParam());
  for (std::string p : {"root/etc/passwd", "cwd/a.txt", "root/", "fd/0/x"})
    EXPECT_EQ(w.reason(proc.send<&Directory::read>(p, 0, 10)), magic(p));
  for (std::string p : {"root", "cwd", "exe", "fd/0"}) {
    EXPECT_EQ(w.reason(proc.send<&Directory::open>(p)), magic(p));
    EXPECT_EQ(w.reason(proc.send<&Directory::sub>(p)), magic(p));
    EXPECT_EQ(w.reason(proc.send<&Directory::stat>(p)), magic(p));
  }
  // Listed, as what they are.
  bool listed = false;
  for (const auto& e : w.get(proc.send<&Directory::list>("")))
    if (e.name == "root") listed = e.type == "other";
  EXPECT_TRUE(listed);
}

TEST_P(FsAttack, NulBytesAreRefused) {
  std::string p("a.txt\0/../../secret", 19);
  EXPECT_EQ(w.reason(d.send<&Directory::read>(p, 0, 10)),
            "refused: path \"a.txt\\x00/../../secret\" contains a NUL byte");
  EXPECT_EQ(w.reason(d.send("create", Value(std::string("n\0x", 3)))), "refused: path \"n\\x00x\" contains a NUL byte");
  EXPECT_FALSE(w.tree.exists("n"));
}

TEST_P(FsAttack, VeryLongNamesAndPathsAreRefusedClearly) {
  EXPECT_EQ(w.reason(d.send<&Directory::create>(std::string(300, 'n'))),
            "invalid path: a name of 300 bytes exceeds NAME_MAX (255)");
  std::string deep;
  for (int i = 0; i < 2100; ++i) deep += "a/";
  EXPECT_EQ(w.reason(d.send<&Directory::stat>(deep)), "invalid path: 4200 bytes exceeds PATH_MAX (4095)");
  std::string huge(1 << 20, 'x');
  EXPECT_EQ(w.reason(d.send<&Directory::stat>(huge)), "invalid path: 1048576 bytes exceeds PATH_MAX (4095)");
  // Under both limits, a deep path simply is not there.
  EXPECT_EQ(w.reason(d.send<&Directory::stat>(deep.substr(0, 3000))), "not found: " + deep.substr(0, 3000));
}

TEST_P(FsAttack, TrailingSlashesMustNameDirectories) {
  EXPECT_EQ(w.reason(d.send<&Directory::read>("a.txt/", 0, 10)), "not a directory: a.txt/");
  EXPECT_EQ(w.reason(d.send<&Directory::open>("a.txt/")), "not a directory: a.txt/");
  EXPECT_EQ(w.reason(d.send<&Directory::remove>("a.txt/")), "not a directory: a.txt/");
  EXPECT_EQ(w.reason(d.send<&Directory::rename>("a.txt/", "b")), "not a directory: a.txt/");
  EXPECT_EQ(w.reason(d.send<&Directory::create>("b/")), "invalid path: \"b/\" does not name a file");
  EXPECT_EQ(w.get(d.send<&Directory::list>("inner//")).size(), 1u);
  w.get(d.send<&Directory::mkdir>("made/"));
  EXPECT_TRUE(w.tree.exists("made"));
}

TEST_P(FsAttack, RenameNeitherFollowsNorReplacesSymlinks) {
  w.tree.symlink(outside_.path("secret"), "link");
  w.tree.symlink(outside_.root(), "outdir");
  EXPECT_EQ(w.reason(d.send<&Directory::rename>("a.txt", "link")), "already exists: link");
  EXPECT_EQ(w.reason(d.send<&Directory::rename>("a.txt", "outdir/stolen")), leaves("outdir/stolen"));
  EXPECT_EQ(w.reason(d.send<&Directory::rename>("outdir/secret", "got")), leaves("outdir/secret"));
  // Moving the link moves the entry; it still leads out, so it is not followed.
  w.get(d.send<&Directory::rename>("link", "inner/link2"));
  EXPECT_EQ(w.reason(d.send<&Directory::read>("inner/link2", 0, 10)), leaves("inner/link2"));
  // A relative link that stayed inside where it was can lead out from where it
  // is moved to: it is judged where it is, at every use.
  w.tree.symlink("inner/in.txt", "rel_in");
  EXPECT_EQ(text_of(w.get(d.send<&Directory::read>("rel_in", 0, 10))), "inside");
  w.get(d.send<&Directory::rename>("rel_in", "inner/rel_in"));
  EXPECT_EQ(w.reason(d.send<&Directory::read>("inner/rel_in", 0, 10)), "not found: inner/rel_in");
  expect_outside_untouched();
  EXPECT_TRUE(outside_.exists("dir"));
}

// A local attacker swaps a directory of the tree for a symlink to the outside
// (atomically, RENAME_EXCHANGE) as fast as it can while the vat reads through
// it: every read sees the inside file or fails; none sees the outside.
TEST_P(FsAttack, ARenameRaceWhileReadingNeverEscapes) {
  w.tree.mkdir("d");
  w.tree.write("d/secret", "inside");
  w.tree.symlink(outside_.root(), "swap");
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::string dpath = w.tree.path("d"), spath = w.tree.path("swap");
  std::thread attacker([&] {
    while (!stop.load()) {
      if (::renameat2(AT_FDCWD, dpath.c_str(), AT_FDCWD, spath.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
    }
  });
  int inside = 0, refused = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (int i = 0; i < 3000 && std::chrono::steady_clock::now() < deadline; ++i) {
    auto p = d.send<&Directory::read>(std::string(i % 2 ? "d/secret" : "swap/secret"), 0, 100);
    try {
      std::string got = text_of(w.get(p));
      ASSERT_EQ(got, "inside") << "read escaped the tree";
      ++inside;
    } catch (const VatError& e) {
      std::string r = e.error().reason;
      EXPECT_TRUE(r.starts_with("refused: ") || r.starts_with("not found: ") || r.starts_with("not a directory: "))
          << r;
      ++refused;
    }
    auto es = w.get(d.send<&Directory::list>(i % 2 ? "d" : "swap").catch_error([](const Error&) {
      return std::vector<DirEntry>{};
    }));
    for (const auto& e : es) ASSERT_NE(e.name, "dir") << "listed the outside";
  }
  stop = true;
  attacker.join();
  EXPECT_GT(swaps.load(), 0);
  EXPECT_GT(inside + refused, 0);
  expect_outside_untouched();
}

// A local attacker swaps a directory on the holder's paths for a symbolic link
// to "/" and for one that climbs there by "..", as fast as it can, while the
// vat resolves paths through it. Under that directory the tree holds the same
// names the outside secret has under "/", so a resolver that followed either
// link would find a file at every path it tries: every answer must be the
// inside copy or a refusal, and nothing may be created outside.
TEST_P(FsAttack, SwappingADirectoryForALinkToTheRootNeverEscapes) {
  const std::string rel_dir = outside_.root().substr(1);  // "tmp/vatic-fs-XXXXXX"
  std::string made = "d";
  w.tree.mkdir(made);
  for (std::size_t at = 0, end = 0; end != std::string::npos; at = end + 1) {
    end = rel_dir.find('/', at);
    made += "/" + rel_dir.substr(at, end == std::string::npos ? end : end - at);
    w.tree.mkdir(made);
  }
  w.tree.write("d/" + rel_dir + "/secret", "inside");
  w.tree.symlink("/", "to_root");
  std::string climb;
  for (char c : w.tree.root())
    if (c == '/') climb += "../";
  w.tree.symlink(climb, "climb");  // from the tree's root up to "/"
  const std::string names[] = {"d", "to_root", "climb"};
  std::vector<std::string> hosts;
  for (const auto& n : names) hosts.push_back(w.tree.path(n));

  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread attacker([&] {
    for (unsigned i = 0; !stop.load(); ++i) {
      const std::string& other = hosts[1 + i % 2];
      if (::renameat2(AT_FDCWD, hosts[0].c_str(), AT_FDCWD, other.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
    }
  });
  int inside = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (int i = 0; i < 3000 && std::chrono::steady_clock::now() < deadline; ++i) {
    const std::string& name = names[i % 3];
    auto got = w.get(d.send<&Directory::read>(name + "/" + rel_dir + "/secret", 0, 100).catch_error([](const Error& e) {
      EXPECT_TRUE(e.reason.starts_with("refused: ") || e.reason.starts_with("not found: ") ||
                  e.reason.starts_with("not a directory: "))
          << e.reason;
      return Bytes{};
    }));
    ASSERT_NE(text_of(got), "OUTSIDE") << "read escaped the tree through " << name;
    if (!got.empty()) ++inside;
    auto es = w.get(d.send<&Directory::list>(name + "/" + rel_dir).catch_error([](const Error&) {
      return std::vector<DirEntry>{};
    }));
    for (const auto& e : es) ASSERT_NE(e.name, "dir") << "listed the outside through " << name;
    auto st = w.get(
        d.send<&Directory::stat>(name + "/" + rel_dir + "/secret").catch_error([](const Error&) { return Stat{}; }));
    ASSERT_NE(st.size, 7u) << "stat'ed the outside through " << name;  // "OUTSIDE", not "inside"
    d.send<&Directory::create>(name + "/" + rel_dir + "/new").catch_error([](const Error&) { return Ref<File>(); });
    d.send<&Directory::mkdir>(name + "/" + rel_dir + "/x").catch_error([](const Error&) {});
  }
  stop = true;
  attacker.join();
  w.vat.run_until_idle();
  EXPECT_GT(swaps.load(), 0);
  EXPECT_GT(inside, 0);  // the race did not simply make every lookup fail
  expect_outside_untouched();
}

TEST_P(FsAttack, FailedResolutionsLeakNoDescriptors) {
  w.tree.symlink(outside_.root(), "abs");
  w.tree.mkfifo("fifo");
  int before = count_open_fds();
  w.tree.symlink("loop", "loop");
  w.tree.symlink("a.txt", "in_link");
  const std::vector<std::string> paths = {"missing/x", "abs/secret", "../x",   "/etc", "a.txt/x",
                                          "fifo",      "abs",        "inner/", "loop", "in_link/"};
  for (int round = 0; round < 100; ++round) {
    for (const auto& p : paths) {
      (void)w.reason(d.send<&Directory::read>(p, 0, 1));
      d.send<&Directory::stat>(p).catch_error([](const Error&) { return Stat{}; });
      d.send<&Directory::open>(p).catch_error([](const Error&) { return Ref<File>(); });
      d.send<&Directory::sub>(p).catch_error([](const Error&) { return Ref<Directory>(); });
    }
    w.vat.run_until_idle();
  }
  // Successful opens are released too, once their references go.
  for (int i = 0; i < 100; ++i) (void)w.get(d.send<&Directory::open>("a.txt"));
  w.vat.run_until_idle();
  EXPECT_EQ(count_open_fds(), before);
}

TEST_P(FsAttack, AFifoOrSocketInTheTreeNeverHangsTheVat) {
  w.tree.mkfifo("fifo");
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock = w.tree.path("sock");
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  sock.copy(addr.sun_path, sock.size());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto start = std::chrono::steady_clock::now();
  const std::string fifo_refused = "refused: \"fifo\" is a FIFO; only regular files and directories are served";
  EXPECT_EQ(w.reason(d.send<&Directory::read>("fifo", 0, 10)), fifo_refused);
  EXPECT_EQ(w.reason(d.send<&Directory::open>("fifo")), fifo_refused);
  EXPECT_EQ(w.reason(d.send<&Directory::open>("sock")),
            "refused: \"sock\" is a socket; only regular files and directories are served");
  EXPECT_EQ(w.reason(d.send<&Directory::list>("fifo")), "not a directory: fifo");
  EXPECT_EQ(w.get(d.send<&Directory::stat>("fifo")).type, "other");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ::close(s);
}

TEST_P(FsAttack, SubCannotReachItsParent) {
  w.tree.symlink("../a.txt", "inner/up");
  auto s = w.get(d.send<&Directory::sub>("inner"));
  EXPECT_EQ(w.reason(s.send<&Directory::read>("../a.txt", 0, 10)), "refused: path \"../a.txt\" leaves the directory");
  EXPECT_EQ(w.reason(s.send<&Directory::read>("up", 0, 10)), leaves("up"));
  EXPECT_EQ(text_of(w.get(d.send<&Directory::read>("inner/up", 0, 10))), "alpha");  // inside the wider tree
  EXPECT_EQ(w.reason(s.send<&Directory::sub>("..")), "refused: path \"..\" leaves the directory");
  EXPECT_EQ(w.reason(s.send<&Directory::stat>(w.tree.path("a.txt"))),
            "refused: path \"" + w.tree.path("a.txt") + "\" is absolute");
  auto names = w.get(s.send<&Directory::list>("."));
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0].name, "in.txt");
  // The host moves the directory away and puts a symlink to the parent in its
  // place: the sub stays bound to its own directory, wherever it went.
  ASSERT_EQ(::rename(w.tree.path("inner").c_str(), w.tree.path("moved").c_str()), 0);
  w.tree.symlink(".", "inner");
  EXPECT_EQ(text_of(w.get(s.send<&Directory::read>("in.txt", 0, 10))), "inside");
  EXPECT_EQ(w.reason(s.send<&Directory::stat>("a.txt")), "not found: a.txt");
}

TEST_P(FsAttack, AttenuationCanNeverBeWidened) {
  auto ro = w.get(d.send<&Directory::read_only>());
  auto wide = w.get(ro.send<&Directory::restrict>("read,list,write,create,delete", std::nullopt));
  EXPECT_EQ(w.get(wide.send<&Directory::ops>()), "read,list");
  EXPECT_EQ(w.reason(wide.send<&Directory::create>("n")), "refused: create is not allowed by this capability");
  auto f = w.get(wide.send<&Directory::open>("a.txt"));
  EXPECT_EQ(w.reason(f.send<&File::write>(0, bytes_of("X"))), "refused: write is not allowed by this capability");
  auto sub = w.get(wide.send<&Directory::sub>("inner"));
  EXPECT_EQ(w.get(sub.send<&Directory::ops>()), "read,list");

  auto small = w.get(d.send<&Directory::restrict>("read,list,write,create", std::optional<std::uint64_t>(8)));
  auto bigger = w.get(small.send<&Directory::restrict>("read,list,write,create", std::optional<std::uint64_t>(1000)));
  auto g = w.get(bigger.send<&Directory::create>("g"));
  EXPECT_EQ(w.reason(g.send<&File::write>(0, bytes_of("123456789"))),
            "refused: a file of 9 bytes exceeds this capability's max_bytes (8)");
  auto none = w.get(d.send<&Directory::restrict>("none", std::nullopt));
  EXPECT_EQ(w.get(none.send<&Directory::ops>()), "none");
  EXPECT_EQ(w.reason(none.send<&Directory::list>("")), "refused: list is not allowed by this capability");
  EXPECT_EQ(w.tree.read("a.txt"), "alpha");
}

TEST_P(FsAttack, MaxBytesHoldsThroughEveryDerivedObject) {
  auto lim = w.open(kAllFsOps, 4, GetParam());
  EXPECT_EQ(w.reason(lim.send<&Directory::read>("a.txt", 0, 5)),
            "refused: reading 5 bytes exceeds this capability's max_bytes (4)");
  EXPECT_EQ(text_of(w.get(lim.send<&Directory::read>("a.txt", 1, 4))), "lpha");
  auto sub = w.get(lim.send<&Directory::sub>("inner"));
  auto f = w.get(sub.send<&Directory::create>("new"));
  EXPECT_EQ(w.reason(f.send<&File::write>(2, bytes_of("abc"))),
            "refused: a file of 5 bytes exceeds this capability's max_bytes (4)");
  EXPECT_EQ(w.reason(f.send<&File::truncate>(1u << 30)),
            "refused: a file of 1073741824 bytes exceeds this capability's max_bytes (4)");
  EXPECT_EQ(w.tree.read("inner/new"), "");
}

TEST_P(FsAttack, ASinkThatNeverAcknowledgesStallsTheStreamAtTheWindow) {
  w.tree.write("big", std::string(kStreamChunk * 12, 'q'));
  SinkLog log;
  Ref<ByteSink> sink = w.vat.make<SlowSink>(&log);
  auto done = w.get(d.send<&Directory::open>("big")).send<&File::stream_to>(sink, 0, -1);
  // Give the producer every chance to run ahead (its reads are asynchronous).
  for (int i = 0; i < 50; ++i) w.vat.wait(w.vat.sleep(std::chrono::milliseconds(5)));
  EXPECT_TRUE(done.pending());
  EXPECT_EQ(log.writes, static_cast<int>(kStreamWindow));
  // Acknowledging one write at a time lets exactly one more through.
  ASSERT_TRUE(log.ack_one());
  for (int i = 0; i < 10; ++i) w.vat.wait(w.vat.sleep(std::chrono::milliseconds(2)));
  EXPECT_EQ(log.writes, static_cast<int>(kStreamWindow) + 1);
  while (done.pending()) {
    w.vat.run_until_idle();
    if (!log.ack_one()) w.vat.wait(w.vat.sleep(std::chrono::milliseconds(1)));
  }
  EXPECT_EQ(w.get(done), static_cast<std::int64_t>(kStreamChunk * 12));
  EXPECT_EQ(log.max_outstanding, kStreamWindow);
  EXPECT_EQ(log.dones, 1);
}

TEST_P(FsAttack, MalformedCallsByNameAreRefused) {
  EXPECT_FALSE(w.reason(d.send("read", 5, "x", "y")).empty());
  EXPECT_EQ(w.reason(d.send("read", "a.txt", -1, 10)), "integer -1 out of range");
  EXPECT_EQ(w.reason(d.send("list")), "method list takes 1 argument(s), got 0");
  EXPECT_EQ(w.reason(d.send("restrict", "read", -5)), "integer -5 out of range");
}

INSTANTIATE_TEST_SUITE_P(Both, FsAttack, ::testing::Values(PathResolver::openat2, PathResolver::walk),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace vatic::caps::test
