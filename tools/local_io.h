// LocalIo: the command's own descriptors (stdin, stdout, a local file) read
// and written on a thread of their own, never on the vat's loop. A pipe or a
// terminal may block for as long as the other end likes (`slow-producer |
// vatic put`, `vatic cat | less` paused); meanwhile the loop must keep running,
// so that keepalive pings flow and neither side's idle deadline
// (spec/handshake.md, "Deadlines") ends the session. A transfer waits for its
// local end as long as it takes.
//
// Threads: made, called and destroyed on the vat's thread; each operation runs
// on the LocalIo's worker, one at a time in the order asked (so writes to one
// descriptor land in order), and settles its promise in the vat. Destroying
// it abandons what is still queued; an operation still blocked in the kernel
// is left to finish (or to die with the process) on the detached worker,
// which never touches the vat again.
#pragma once

#include <cstddef>
#include <memory>

#include "vat/promise.h"
#include "vat/value.h"

namespace vatic {
class Vat;
}

namespace vatic::cli {

class LocalIo {
 public:
  explicit LocalIo(Vat& vat);
  LocalIo(const LocalIo&) = delete;
  LocalIo& operator=(const LocalIo&) = delete;
  ~LocalIo();

  // Reads until `max` bytes or end of input: fewer bytes mean the input ended
  // (none: it had already). Breaks `failed` with "reading input: <why>".
  Promise<Bytes> read(int fd, std::size_t max);
  // Writes all of `data`. Breaks `failed` with "writing output: <why>".
  Promise<void> write(int fd, Bytes data);

  struct Shared;

 private:
  Vat* vat_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace vatic::cli
