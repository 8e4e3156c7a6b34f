// The two MACs of the tag chain (spec/token.md, "Tag chain"), for the files
// of caps/ that compute chains (token.cpp, chain_cache.cpp). Internal: the
// public face is verify_chain and ChainCache. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <span>

#include "caps/token.h"

namespace vatic::caps::internal {

// token.md: tag_0 = MAC_token(K_obj, version || vat id || object id), 32 bytes into `out`.
void tag_zero(std::uint8_t* out, const ObjectKey& key, const VatKey& vat, const ObjectId& object);
// token.md: tag_i = MAC_caveat(tag_(i-1), caveat_i); `out` may not overlap `prev`.
void tag_next(std::uint8_t* out, const std::uint8_t* prev, std::span<const std::uint8_t> caveat);
// token.md: rid_i = H_revoke(tag_i).
RevocationId rid_of(const std::uint8_t* tag);

}  // namespace vatic::caps::internal
