// StoreLock: `vatic serve`'s claim on its store directory, held for the
// server's whole life. Two servers on one store would both write admin.ref,
// both mint and revoke in one database and both answer for one vat id; the
// second one is refused before it touches anything, with the first one's pid.
//
// The lock is flock(LOCK_EX) on STORE/serve.lock (sturdyrefs::kStoreLockFile),
// which the kernel drops when the process ends however it ends (kill -9 too),
// so a stale file never blocks a restart. The holder writes its pid in the
// file for the message; the pid is information, the flock is the lock.
//
// Only `vatic serve` takes it: client commands (ls, get, id...) may use the
// same store as their identity while a server runs, and never wait for or
// take this lock.
//
// Threads: the thread that runs main().
#pragma once

#include <filesystem>

namespace vatic::cli {

class StoreLock {
 public:
  // Creates the store directory if needed (0700, as sturdyrefs::Store does)
  // and takes the lock without waiting. Throws CliError(kOther) naming the
  // holder's pid when another process holds it, or the reason it could not
  // be taken ("no space left on device", ...).
  static StoreLock acquire(const std::filesystem::path& store_dir);

  StoreLock(StoreLock&& other) noexcept;
  StoreLock& operator=(StoreLock&&) = delete;
  StoreLock(const StoreLock&) = delete;
  ~StoreLock();  // releases the lock (the file stays: its name is reserved)

 private:
  explicit StoreLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace vatic::cli
