// Caveat: one restriction in a token's chain (spec/token.md, Caveats), and
// Caveats, what a whole chain means once combined. A caveat is stored and
// MACed as its exact encoding: one type byte and a payload with exactly one
// spelling per meaning, so a parser can insist on it. General caveats
// (expires, not_before, holder, methods) are understood for every object;
// filesystem caveats (path, ops, max_bytes) narrow a Directory or File and are
// applied by the redeemer through caps/fs limits.
//
// Parsing is an untrusted-input boundary: every function taking bytes returns
// a Result and never throws for bad input; an unknown type is an error (fail
// closed). Plain values and pure functions; any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "caps/fs_ops.h"
#include "caps/token.h"

namespace vatic::caps {

// token.md: the caveat types.
enum class CaveatType : std::uint8_t {
  expires = 0x01,
  not_before = 0x02,
  holder = 0x03,
  methods = 0x04,
  path = 0x10,
  ops = 0x11,
  max_bytes = 0x12,
};

inline constexpr std::size_t kMaxMethodName = 64;

struct Expires {
  std::int64_t at = 0;  // unix seconds; valid while now < at
  friend bool operator==(const Expires&, const Expires&) = default;
};
struct NotBefore {
  std::int64_t at = 0;  // unix seconds; valid while now >= at
  friend bool operator==(const NotBefore&, const NotBefore&) = default;
};
struct Holder {
  VatKey vat{};  // only a session authenticated as this vat may redeem
  friend bool operator==(const Holder&, const Holder&) = default;
};
struct Methods {
  std::vector<std::string> names;  // strictly ascending
  friend bool operator==(const Methods&, const Methods&) = default;
};
struct Path {
  std::string path;  // relative, "a/b": narrows the view so far
  friend bool operator==(const Path&, const Path&) = default;
};
struct Ops {
  FsOps ops = 0;
  friend bool operator==(const Ops&, const Ops&) = default;
};
struct MaxBytes {
  std::uint64_t limit = 0;
  friend bool operator==(const MaxBytes&, const MaxBytes&) = default;
};
using Caveat = std::variant<Expires, NotBefore, Holder, Methods, Path, Ops, MaxBytes>;

// Strict parse of one caveat's bytes (type byte first).
Result<Caveat> parse_caveat(std::span<const std::uint8_t> bytes);
// The one encoding of a caveat. Precondition: the value is valid (as parse_caveat
// would accept it); otherwise throws VatError (a caller bug).
Bytes encode_caveat(const Caveat& c);

// Builders: the encoded bytes, ready for attenuate(). Those taking text from
// users validate it and return a Result.
Bytes caveat_expires(std::int64_t unix_seconds);
Bytes caveat_not_before(std::int64_t unix_seconds);
Bytes caveat_holder(const VatKey& vat);
// Sorts and removes duplicates; refuses names that are not method names.
Result<Bytes> caveat_methods(std::vector<std::string> names);
Result<Bytes> caveat_path(std::string_view relative_path);
// Precondition: only bits of kAllFsOps (else throws VatError).
Bytes caveat_ops(FsOps ops);
Bytes caveat_max_bytes(std::uint64_t limit);

// The meaning of a whole chain: the intersection of its caveats (token.md, Combining).
struct Caveats {
  std::optional<std::int64_t> expires;              // the smallest
  std::optional<std::int64_t> not_before;           // the largest
  std::vector<VatKey> holders;                      // distinct; all must match the redeemer
  std::optional<std::vector<std::string>> methods;  // the intersection, ascending
  std::vector<std::string> paths;                   // in chain order; they compose as a/b
  std::optional<FsOps> ops;                         // the intersection
  std::optional<std::uint64_t> max_bytes;           // the smallest

  bool has_fs_caveats() const { return !paths.empty() || ops || max_bytes; }
  // The paths joined in order ("" when there are none).
  std::string joined_path() const;
  friend bool operator==(const Caveats&, const Caveats&) = default;
};

// Parses every caveat of a chain (the first invalid one fails the whole chain,
// named by its 1-based position) and combines them.
Result<Caveats> parse_caveats(const std::vector<Bytes>& caveats);

// token.md: redeeming, step 7 and the time membrane. Each returns the outward
// refusal reason ("refused: ..."), or nullopt when the caveats allow it.
//
// `skew_seconds` (token.md, Clock skew) is how far the minting host's clock
// may be from ours: the window is not_before - skew <= now < expires + skew.
// A negative skew counts as 0; the sums saturate instead of overflowing.
std::optional<std::string> check_time(const Caveats& c, std::int64_t now_unix_seconds, std::int64_t skew_seconds = 0);
// The same check on bare bounds (each optional), for the time membrane.
std::optional<std::string> check_time_window(std::optional<std::int64_t> not_before,
                                             std::optional<std::int64_t> expires, std::int64_t now_unix_seconds,
                                             std::int64_t skew_seconds);
// `redeemer` is the session's authenticated peer; nullopt (an in-process
// caller) fails any holder caveat.
std::optional<std::string> check_holder(const Caveats& c, const std::optional<VatKey>& redeemer);
// The methods allow-list at the root of a redeemed reference.
bool method_allowed(const Caveats& c, std::string_view method);

// For humans: one caveat per line ("expires 1700000000 (2023-11-14T22:13:20Z)"),
// "no caveats" for none. `vat_text` spells holder keys (captp's text form from
// above; hex by default, since caps/ cannot see captp/).
using VatKeyText = std::function<std::string(const VatKey&)>;
std::string describe(const Caveats& c, const VatKeyText& vat_text = {});
// For `vatic attenuate --json`: one JSON object with the fields that are set.
std::string describe_json(const Caveats& c, const VatKeyText& vat_text = {});

}  // namespace vatic::caps
