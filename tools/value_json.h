// Values (vat/value.h) as JSON and back: how `vatic inspect --json` and
// `vatic call` print what a vat answers, and how `vatic call` reads the
// arguments it sends. The convention, both ways:
//
//   Value                     JSON
//   null, bool                null, true/false
//   integer (int64)           a number without '.' or exponent: 42
//   real (float64)            a number with one: 0.5, 12.0, 1e+300; a
//                             non-finite real is written as null
//   text                      "..." (made valid UTF-8 when written)
//   bytes                     {"bytes": "<lowercase hex>"}
//   list                      [...]
//   record                    {"record": "<label>", field: value, ...}; the
//                             "record" member is left out when the label is
//                             empty or a field has that name
//   error (written only)      {"error": {"kind": "...", "reason": "..."}}
//   reference (written only)  {"reference": true}
//
// Read back, an object with the one member "bytes" holding a hex string is
// bytes; any other object is a record, labelled by its "record" member when
// that is a string. So every Value without references, errors, non-finite
// reals or a field named "record" reads back as itself. References cannot be
// written as JSON (a name is not a capability): reading {"reference": ...}
// alone is refused, as are integers outside int64.
//
// Pure functions; any thread.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

#include "vat/promise.h"  // value.h needs PromiseBase complete (see inspect_render.h)
#include "vat/result.h"
#include "vat/value.h"

namespace vatic::cli {

boost::json::value to_json_value(const Value& v);

// to_json_value(v) written by json_write (vat/json.h): one line.
std::string value_to_json(const Value& v);

// A JSON value as a Value, or why it has none (naming where: "at [1].size: ...").
Result<Value> value_from_json(const boost::json::value& j);

// One JSON document (as given on a command line) as a Value.
Result<Value> parse_value_json(std::string_view text);

}  // namespace vatic::cli
