// ByteStream: the writing end of a byte stream, held by the producer, over a
// reference to a ByteSink (vat/byte_sink.h) in this vat, another vat of the
// process or another process over CapTP: the window is kept here, on the
// client side, so it works the same for all three. It sends each chunk as
// `sink.write(chunk)` on its one reference (E-order keeps the chunks in
// order) and keeps at most a window of them unacknowledged, counted in
// chunks and in bytes; a producer that awaits each `write` before reading the
// next chunk never holds more than that window plus one chunk, however long
// the stream (spec/model.md, "Streams").
//
//   ByteStream out(sink);                   // StreamWindow{} by default
//   while (auto chunk = co_await source.next()) co_await out.write(std::move(*chunk));
//   co_await out.end();                      // the sink has everything
//
// A write whose promise breaks fails the stream: every later `write` and
// `end` breaks with that write's Error (kind and reason), and so does every
// write still waiting for room. A ByteStream dropped before `end` or `abort`
// sends nothing more: its waiting writes break, and its reference to the sink
// goes once the writes in flight are answered, which a sink can take for an
// abort (caps/fs/upload_sink.h does).
//
// Owned by one producer; used only on the thread of the vat that made it
// (the continuations run as turns of that vat). Movable, not copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "vat/byte_sink.h"
#include "vat/error.h"
#include "vat/promise.h"
#include "vat/ref.h"
#include "vat/value.h"

namespace vatic {

// How much may be unacknowledged at once: both bounds hold, except that one
// chunk larger than max_bytes is sent alone. 4 chunks of 256 KiB, the size a
// CapTP frame is cut at, keep the pipe to a sink in another process full
// without holding more than 1 MiB in flight.
struct StreamWindow {
  std::size_t max_chunks = 4;
  std::size_t max_bytes = std::size_t{1} << 20;
};

class ByteStream {
 public:
  // Throws VatError(failed) for an empty sink or a window bound of 0 (the
  // caller's mistake). Must be made in a turn of the vat it will be used in.
  explicit ByteStream(Ref<ByteSink> sink, StreamWindow window = {});
  ByteStream(ByteStream&&) noexcept;
  ByteStream& operator=(ByteStream&&) noexcept;
  ~ByteStream();

  // Sends `chunk` at once when the window has room for it (and no earlier
  // write waits), and then returns a settled promise; otherwise queues it
  // and returns a promise that settles when it was sent. Breaks with the
  // stream's Error once it failed, and with `failed` after end() or abort().
  // An empty chunk is not sent.
  Promise<void> write(Bytes chunk);
  // Once every write was sent and acknowledged, sends `sink.end()`; settles
  // as that does. Breaks with the stream's Error if it failed (before or
  // through end), with `failed` after abort() or a second end().
  Promise<void> end();
  // Gives up: the writes waiting for room break with `failed`, "aborted:
  // <reason>", and so does everything after; sends `sink.abort(reason)` (after
  // the writes already sent, E-order) and returns its promise. Does nothing
  // but return a settled promise on a stream that ended, aborted or failed
  // already (a failed sink broke the stream itself).
  Promise<void> abort(std::string reason);

  // What is in flight: sent and not yet acknowledged.
  std::size_t in_flight_chunks() const noexcept;
  std::size_t in_flight_bytes() const noexcept;
  // The most bytes ever in flight at once (for tests and benchmarks).
  std::size_t max_in_flight_bytes() const noexcept;
  // Bytes the sink acknowledged so far (a progress display).
  std::uint64_t acknowledged_bytes() const noexcept;
  // Why the stream failed, if it did.
  std::optional<Error> error() const;
  const StreamWindow& window() const noexcept;

  struct State;  // byte_stream.cpp; shared with the acknowledgements in flight

 private:
  std::shared_ptr<State> s_;
};

}  // namespace vatic
