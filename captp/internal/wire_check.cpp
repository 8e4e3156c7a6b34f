// The checks a received message passes before anything in it is read
// (spec/captp.md section 7, "Messages"): at most kMaxSegments segments, and no
// list that claims 2^29 elements or more. Cap'n Proto's reader would read such
// a count modulo 2^29 (2^29 elements read as none), so the walk below looks at
// every list before the session decodes a single field.
//
// The walk follows pointers the way Cap'n Proto's reader does, and reads only
// inside the message's segments. Whatever it cannot follow (a pointer out of
// bounds, a far pointer to a missing segment) it leaves to Cap'n Proto, which
// reports it when the session reads the message. It charges each struct and
// pointer list it visits against the same budget as the reader (twice the
// message), so a message whose pointers alias cannot make it walk for long.
#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "captp/internal/wire.h"

namespace vatic::captp {
namespace {

std::uint64_t word_at(const capnp::word* w) {
  std::uint64_t v;
  std::memcpy(&v, w, sizeof v);
  return v;  // little-endian hosts, as the rest of the codec assumes
}

class Walk {
 public:
  Walk(std::vector<kj::ArrayPtr<const capnp::word>> segments, std::uint64_t budget)
      : segs_(std::move(segments)), budget_(budget) {}

  void pointer(std::size_t seg, std::uint64_t at, int depth, bool landing = false) {
    if (depth > kMaxCapnpNesting || seg >= segs_.size() || at >= segs_[seg].size()) return;
    std::uint64_t w = word_at(&segs_[seg][at]);
    if (w == 0) return;
    switch (w & 3) {
      case 0:
      case 1: {
        auto offset = static_cast<std::int32_t>(static_cast<std::uint32_t>(w)) >> 2;
        auto target = static_cast<std::int64_t>(at) + 1 + offset;
        if (target < 0) return;
        return object(w, seg, static_cast<std::uint64_t>(target), depth);
      }
      case 2: {
        if (landing) return;  // a far pointer landing on a far pointer: the reader refuses it
        std::uint64_t pad = (w >> 3) & ((1u << 29) - 1);
        auto pad_seg = static_cast<std::size_t>(w >> 32);
        if ((w & 4) == 0) return pointer(pad_seg, pad, depth, true);
        // A double landing pad: a far pointer to the content, then its tag.
        if (pad_seg >= segs_.size() || pad + 1 >= segs_[pad_seg].size()) return;
        std::uint64_t far = word_at(&segs_[pad_seg][pad]);
        std::uint64_t tag = word_at(&segs_[pad_seg][pad + 1]);
        if ((far & 7) != 2) return;
        return object(tag, static_cast<std::size_t>(far >> 32), (far >> 3) & ((1u << 29) - 1), depth);
      }
      default: return;  // a capability: no content here
    }
  }

 private:
  void object(std::uint64_t w, std::size_t seg, std::uint64_t target, int depth) {
    if (seg >= segs_.size()) return;
    const std::uint64_t size = segs_[seg].size();
    if ((w & 3) == 0) {  // struct
      std::uint64_t data = (w >> 32) & 0xffff, ptrs = w >> 48;
      if (target + data + ptrs > size) return;
      charge(data + ptrs);
      for (std::uint64_t i = 0; i < ptrs; ++i) pointer(seg, target + data + i, depth + 1);
      return;
    }
    std::uint64_t element = (w >> 32) & 7, count = w >> 35;
    if (element == 6) {  // pointers
      if (target + count > size) return;
      charge(count);
      for (std::uint64_t i = 0; i < count; ++i) pointer(seg, target + i, depth + 1);
      return;
    }
    if (element != 7) return;  // data only; a 29-bit count cannot reach 2^29
    // Composite: `count` is the words of content; the tag word before them
    // holds the element count in a 30-bit field.
    if (target + 1 + count > size) return;
    std::uint64_t tag = word_at(&segs_[seg][target]);
    std::uint64_t elements = (tag >> 2) & ((1u << 30) - 1);
    if (elements >= kMaxListElements)
      throw ProtocolError(fmt::format("list of {} elements (at most 2^29 - 1)", elements));
    std::uint64_t data = (tag >> 32) & 0xffff, ptrs = tag >> 48;
    if (elements * (data + ptrs) > count) return;
    charge(std::max(count, elements));
    for (std::uint64_t e = 0; ptrs > 0 && e < elements; ++e)
      for (std::uint64_t i = 0; i < ptrs; ++i) pointer(seg, target + 1 + e * (data + ptrs) + data + i, depth + 1);
  }

  void charge(std::uint64_t words) {
    words = std::max<std::uint64_t>(words, 1);
    if (words > budget_) throw ProtocolError("message reads more than twice its own size");
    budget_ -= words;
  }

  std::vector<kj::ArrayPtr<const capnp::word>> segs_;
  std::uint64_t budget_;
};

}  // namespace

void check_message(kj::ArrayPtr<const capnp::word> words) {
  if (words.size() == 0) return;
  std::uint64_t table = word_at(words.begin());
  std::uint64_t segments = (table & 0xffffffffu) + 1;
  // captp.md 7: the count is checked before the segment table is even read.
  if (segments > kMaxSegments)
    throw ProtocolError(fmt::format("message of {} segments (at most {})", segments, kMaxSegments));
  std::uint64_t table_words = segments / 2 + 1;
  if (table_words > words.size()) return;  // truncated: the reader says so
  const auto* sizes = reinterpret_cast<const std::uint8_t*>(words.begin()) + 4;
  std::vector<kj::ArrayPtr<const capnp::word>> segs;
  std::uint64_t next = table_words, total = 0;
  for (std::uint64_t i = 0; i < segments; ++i) {
    std::uint32_t n;
    std::memcpy(&n, sizes + 4 * i, sizeof n);
    if (next + n > words.size()) return;  // truncated: the reader says so
    segs.push_back(kj::arrayPtr(words.begin() + next, n));
    next += n;
    total += n;
  }
  Walk(std::move(segs), 2 * (total + table_words)).pointer(0, 0, 0);
}

}  // namespace vatic::captp
