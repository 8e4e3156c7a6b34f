// SturdyRef: the text designator of an object that outlives sessions and
// restarts, `vatic://<vat-id>@<hint>,.../<base64url token>` (spec/sturdyref.md).
// It names the vat by its key, so dialling it authenticates the vat with no
// other trust; the hints only say where the vat may listen and are not part of
// the identity; the token (caps/token.h) carries the authority.
//
// Parsing is an untrusted-input boundary (refs arrive from users, files and
// peers): it returns a Result and never throws for bad text. A plain value;
// any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "caps/token.h"
#include "captp/address.h"
#include "captp/identity.h"

namespace vatic::sturdyrefs {

// sturdyref.md: constants.
inline constexpr std::size_t kMaxSturdyRefChars = 16384;
inline constexpr std::size_t kMaxHints = 8;
inline constexpr std::string_view kScheme = "vatic://";

struct SturdyRef {
  captp::VatId vat;
  std::vector<std::string> hints;  // canonical captp::Address text, decoded; may be empty
  caps::Token token;               // token.vat == vat.bytes()

  // The hints as addresses (each hint of a parsed ref is one).
  std::vector<captp::Address> addresses() const;
  friend bool operator==(const SturdyRef&, const SturdyRef&) = default;
};

// Strict parse in the order of sturdyref.md; the failure names the first problem.
Result<SturdyRef> parse_sturdy_ref(std::string_view text);
// The one text of `ref`. Preconditions (else throws VatError, a caller bug):
// every hint is a canonical address text, at most 8 hints, token.vat equals vat.
std::string format_sturdy_ref(const SturdyRef& ref);

}  // namespace vatic::sturdyrefs
