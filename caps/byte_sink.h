// ByteSink: the receiving end of a byte stream, implemented by whoever wants
// the bytes (a CLI writing to stdout, a File on another vat, a test). A
// producer such as File::stream_to sends `write(chunk)` in order (E-order on
// one reference) and keeps only a few writes unacknowledged: the promise a
// write returns is the acknowledgement, so a sink slows the producer down by
// settling it later (flow control). `done()` follows the last write of a
// stream that ended well; a stream that fails just stops, and the producer's
// own promise carries the reason. Lives in the vat of its implementer and is
// run only by that vat's thread, like any object.
#pragma once

#include "vat/object.h"
#include "vat/promise.h"
#include "vat/value.h"

namespace vatic::caps {

class ByteSink : public Object {
 public:
  // Accepts the next chunk; settle the result when ready for more.
  virtual Promise<void> write(Bytes chunk) = 0;
  // The stream ended after the last chunk written.
  virtual Promise<void> done() = 0;

  VATIC_METHODS(ByteSink, write, done)
};

}  // namespace vatic::caps
