// Shared by the tests that run real processes (tests/captp/process_util.h,
// tests/tools/cli_process.h): a fresh directory under /tmp, removed with its
// contents, short enough for unix socket paths (108 bytes in sockaddr_un), and
// a readable rendering of a child's wait status.
#pragma once

#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace vatic::test {

inline std::string describe_wait_status(int status) {
  if (status < 0) return "not reaped";
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

class TempDir {
 public:
  // /tmp/<prefix>-XXXXXX
  explicit TempDir(const std::string& prefix = "vatic-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);  // never follows symlinks
  }

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // "unix:<dir>/<name>", for listen addresses.
  std::string unix_address(const std::string& name) const { return "unix:" + (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace vatic::test
