// ByteSink: the receiving end of a byte stream, the interface a large value
// travels through instead of one message holding all of it (a file being
// copied, a download written to stdout). It is implemented by whoever wants
// the bytes (a file being written, a CLI, a test) and is written by a
// ByteStream (vat/byte_stream.h), which keeps only a window of chunks
// unacknowledged: the promise `write` returns is the acknowledgement, so a
// sink slows its producer down by settling it later. This is Cap'n Proto's
// `-> stream` method, built from an ordinary method and a client-side window
// (spec/model.md, "Streams").
//
// What a sink sees, in this order (E-order on the one reference the producer
// holds): any number of `write(chunk)`, then either `end()` once every write
// was acknowledged, or `abort(reason)` at any point, or nothing at all (the
// producer died or gave up; its reference goes). A sink that does its work
// asynchronously keeps the chunks in the order they arrived (an offset taken
// on arrival, say): several writes may be unacknowledged at once. Breaking a
// write's promise fails the stream: the producer sends nothing after it but
// `abort`.
//
// Lives in the vat of its implementer and is run only by that vat's thread,
// like any object. Callable by name, so a sink in another process works the
// same over CapTP (spec/fs.md lists it on the wire).
#pragma once

#include <string>

#include "vat/object.h"
#include "vat/promise.h"
#include "vat/value.h"

namespace vatic {

class ByteSink : public Object {
 public:
  // Accepts the next chunk; settles the result when ready for more, or
  // breaks it to fail the stream (a full disk).
  virtual Promise<void> write(Bytes chunk) = 0;
  // Every chunk was written and acknowledged: the stream ended well. The
  // result settles once the sink holds everything (a file renamed into
  // place); breaking it fails the stream.
  virtual Promise<void> end() = 0;
  // The producer gave up, for `reason` (text from the producer: report it,
  // never trust it): undo what a stream that ends early must not leave
  // behind. Nothing follows an abort.
  virtual void abort(std::string reason) = 0;

  VATIC_METHODS(ByteSink, write, end, abort)
};

}  // namespace vatic
