// How `vatic inspect` shows what the admin object returns (spec/admin.md): as
// one JSON document for tools, or as readable text for people (aligned
// tables, the supervision tree indented as `tree` does it).
//
// Everything shown may come from peers: method names, argument summaries,
// exception messages, supervisor and child names. The text forms pass every
// string through printable() (tools/cli_util.h), so no control character,
// escape sequence or invalid UTF-8 reaches the terminal, and a newline cannot
// forge a row. The JSON form (value_to_json, tools/value_json.h) is written by
// the one JSON writer (vat/json.h): valid UTF-8, and just as inert when
// a person cats it.
//
// Pure functions of their arguments; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vat/value.h"

namespace vatic::cli {

// The views, in the order `vatic inspect --help` lists them; each is also the
// name of the Admin method that returns it.
inline constexpr std::string_view kInspectViews[] = {"stats",    "objects",  "tree",   "crashes",
                                                     "recorder", "sessions", "persist"};
bool is_inspect_view(std::string_view view);

// An aligned text table: a header row, then one row per entry. Cells are made
// printable, cut to `max_cell` characters ("..." marks a cut), and numeric
// columns are right-aligned. Rows end with "\n"; no trailing spaces.
struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::size_t max_cell = 72;

  std::string render() const;
};

// One view as readable text, ending with "\n".
std::string render_view(std::string_view view, const Value& v);

}  // namespace vatic::cli
