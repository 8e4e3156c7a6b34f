// The wire codec: vatic Values and Errors to and from the Cap'n Proto schema in
// spec/captp.capnp. References inside values are not the codec's business: it
// asks the session (a CapWriter / CapReader) to describe or resolve each one,
// because only the session knows its tables. Reading is for untrusted input:
// every failure throws ProtocolError, which aborts the session that sent it.
#pragma once

#include <capnp/message.h>
#include <kj/io.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "captp/internal/captp.capnp.h"
#include "vat/value.h"

namespace vatic::captp {

// A peer broke the protocol; the session aborts with this reason.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Values nest at most this deep on the wire (both directions), so that neither
// the decoder nor code walking a received value can be driven off the stack.
inline constexpr int kMaxValueDepth = 64;
// Cap'n Proto's own nesting limit, above what kMaxValueDepth values need.
inline constexpr int kMaxCapnpNesting = 4 * kMaxValueDepth + 16;
// spec/captp.md section 7, Messages: a message has at most this many segments
// (ours have one, or a few with bulk bytes); more aborts the session.
inline constexpr std::uint64_t kMaxSegments = 64;
// The segments write_value may add for bulk bytes: the builder's own (the first
// and its doublings up to a 16 MiB frame, about 14) leave room for these.
inline constexpr unsigned kMaxExternalSegments = 32;
// A list of this many elements or more aborts the session: Cap'n Proto reads
// element counts in 29 bits, so 2^29 would read as an empty list.
inline constexpr std::uint64_t kMaxListElements = std::uint64_t{1} << 29;

// Checks a received message against the two limits above before anything in
// it is read (wire_check.cpp); throws ProtocolError. `words` starts at the
// message's segment table and may run past its end (the rest of the frame).
void check_message(kj::ArrayPtr<const capnp::word> words);

class CapWriter {
 public:
  virtual void write_cap(const Capability& c, wire::CapDescriptor::Builder out) = 0;
  // Bulk bytes written as segments of their own into the message being built
  // (write_value). Past kMaxExternalSegments the rest are copied in, so that a
  // message keeps within the kMaxSegments a receiver allows.
  unsigned external_segments = 0;

 protected:
  ~CapWriter() = default;
};

class CapReader {
 public:
  virtual Capability read_cap(wire::CapDescriptor::Reader in) = 0;

 protected:
  ~CapReader() = default;
};

// Throws VatError(failed) for a value too deep to send. Large Bytes in `v` are
// referenced by the message, not copied into it: `v` must outlive the
// message builder (every caller serializes before `v` goes).
void write_value(const Value& v, wire::Value::Builder out, CapWriter& caps, int depth = 0);
Value read_value(wire::Value::Reader in, CapReader& caps, int depth = 0);

void write_error(const Error& e, wire::ErrorInfo::Builder out);
Error read_error(wire::ErrorInfo::Reader in);

// Wire reason texts are capped so that a peer cannot make us keep or log
// megabytes of "reason".
inline constexpr std::size_t kMaxReasonBytes = 1024;

// Appends serialized messages to a byte vector (the channel's pending frame).
class VectorOutput final : public kj::OutputStream {
 public:
  explicit VectorOutput(std::vector<std::uint8_t>& out) : out_(out) {}
  void write(const void* buffer, size_t size) override;
  void write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override;

 private:
  std::vector<std::uint8_t>& out_;
};

// Scratch first segment for message builders, reused message after message so
// that small messages allocate nothing.
class BuilderScratch {
 public:
  static constexpr std::size_t kWords = 256;
  kj::ArrayPtr<capnp::word> segment() { return kj::arrayPtr(words_.get(), kWords); }

 private:
  std::unique_ptr<capnp::word[]> words_ = std::make_unique<capnp::word[]>(kWords);
};

}  // namespace vatic::captp
