// Stored values: how a kv value is written to an engine (spec/persistence.md,
// section 7). A stored value is a vatic::Value without references; the bytes
// are a small self-describing encoding owned by vatic, independent of the
// wire format, so that a store outlives changes of the protocol.
//
// Decoding reads what a file on disk holds, which the process did not
// necessarily write (a damaged or hand-edited store): it returns a Result and
// never throws. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <span>

#include "vat/result.h"
#include "vat/value.h"

namespace vatic::persist {

// Throws VatError(failed) if `v` holds a reference or a promise.
Bytes encode_stored(const Value& v);

Result<Value> decode_stored(std::span<const std::uint8_t> bytes);

}  // namespace vatic::persist
