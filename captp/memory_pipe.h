// Memory pipe: an in-process duplex byte stream, the transport for tests,
// simulations and vats of one process that still want the secure channel (and
// its identity check) between them. It behaves like a socket pair: bytes come
// out in order, in chunks of any size; close() on one end gives the other end
// EOF on reads (after what was already written) and broken_pipe on writes.
//
// Threads: end 1 belongs to io_context `a`, end 2 to `b`; they may be the same
// io_context or two run by different threads. The ends exchange bytes under a
// mutex, and every completion is posted to the owning end's io_context, never
// run inline. Buffering is unbounded: a write completes once its bytes are
// queued, so back-pressure must come from the layer above (the secure channel's
// unsent_bytes()), not from the pipe.
#pragma once

#include <memory>
#include <utility>

#include <boost/asio/io_context.hpp>

#include "captp/stream.h"

namespace vatic::captp {

std::pair<std::unique_ptr<Stream>, std::unique_ptr<Stream>> memory_pipe(boost::asio::io_context& a,
                                                                        boost::asio::io_context& b);

}  // namespace vatic::captp
