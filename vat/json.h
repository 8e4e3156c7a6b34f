// The one JSON writer of vatic: what the command-line tools, `inspect` and the
// examples print as JSON. Documents are built as boost::json values and written by json_write(),
// which keeps what every `--json` output of vatic promises:
//
//   - It is valid UTF-8 JSON. Text may come from a peer or from whoever names
//     files in a served tree; json_text() makes it valid UTF-8 first (each
//     byte that is not part of a valid sequence becomes U+FFFD).
//   - It is inert on a terminal: `cat`ing it cannot move the cursor, set a
//     title or forge a line. Boost.JSON escapes C0 controls, '"' and '\', but
//     writes DEL, the C1 controls (U+0080..U+009F; U+009B is CSI) and U+2028 /
//     U+2029 as they are. json_write() rewrites those (and U+FFFD, so that a
//     replaced byte is visible) as \u escapes. They can only occur inside
//     string literals (the rest of JSON text is ASCII), so the rewrite keeps
//     the document's meaning.
//   - Reals read as people write them ("0.5", "12.0"), not as Boost.JSON 1.81
//     writes them ("5E-1", "1.2E1"): integers never carry a '.', so a real
//     stays a real when the text is read back (tools/value_json.h).
//
// Pure functions (print_json writes to stdout); any thread.
#pragma once

#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace vatic {

// `s` as a JSON string value, made valid UTF-8 (vatic::utf8::to_valid).
boost::json::string json_text(std::string_view s);

// `v` as JSON text (one line, no trailing newline), inert as described above.
// A string that bypassed json_text() and holds invalid UTF-8 still comes out
// valid: each such byte is written as \ufffd.
std::string json_write(const boost::json::value& v);

// A JSON string literal (quotes included) for `s`: json_write(json_text(s)).
std::string json_quote(std::string_view s);

// json_write(v) and a newline on stdout: what a `--json` command prints.
void print_json(const boost::json::value& v);

}  // namespace vatic
