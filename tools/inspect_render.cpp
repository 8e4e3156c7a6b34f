#include "tools/inspect_render.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "tools/cli_util.h"

namespace vatic::cli {
namespace {

// Characters (code points) in `s`, which printable() made valid UTF-8.
std::size_t width(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xc0) != 0x80; }));
}

// `s` cut to at most `max` characters, "..." marking a cut.
std::string cut(std::string s, std::size_t max) {
  if (max < 4 || width(s) <= max) return s;
  std::size_t chars = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((s[i] & 0xc0) != 0x80 && ++chars > max - 3) break;
  }
  s.resize(i);
  return s + "...";
}

bool numeric(std::string_view s) {
  if (s.empty()) return false;
  std::size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) return false;
  return true;
}

// --- Text views.

const Value* field(const Value& v, std::string_view name) {
  return v.type() == Value::Type::record ? v.as_record().find(name) : nullptr;
}

// A scalar as a cell (raw: TextTable::render makes it printable).
std::string cell(const Value* v) {
  if (!v) return "";
  switch (v->type()) {
    case Value::Type::null: return "-";
    case Value::Type::boolean: return v->as_bool() ? "yes" : "no";
    case Value::Type::integer: return fmt::format("{}", v->as_int());
    case Value::Type::real: {
      double d = v->as_double();
      return std::fabs(d) < 1e12 ? fmt::format("{:.1f}", d) : fmt::format("{:.6g}", d);
    }
    case Value::Type::text: return v->as_text();
    case Value::Type::list: return fmt::format("[{} items]", v->as_list().size());
    default: return v->to_string(80);
  }
}

std::string text(const Value& rec, std::string_view name) { return cell(field(rec, name)); }

// Unix milliseconds as RFC 3339 with milliseconds; other values as cell().
std::string unix_ms(const Value* v) {
  if (!v || v->type() != Value::Type::integer || v->as_int() < 0) return cell(v);
  std::int64_t ms = v->as_int();
  std::string s = format_rfc3339(ms / 1000);
  s.insert(s.size() - 1, fmt::format(".{:03}", ms % 1000));
  return s;
}

// Unix milliseconds as the time of day (UTC) with milliseconds: "14:03:27.120".
std::string time_of_day(const Value* v) {
  std::string s = unix_ms(v);
  return s.size() == 24 && s[10] == 'T' ? s.substr(11, 12) : s;
}

std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

// A table of a list of records: one column per field name, in order of first
// appearance. `created` (unix seconds) is shown as a time.
TextTable table_of(const List& items) {
  TextTable t;
  std::vector<std::string> names;
  for (const auto& x : items) {
    if (x.type() != Value::Type::record) {
      if (std::find(names.begin(), names.end(), "value") == names.end()) names.push_back("value");
      continue;
    }
    for (const auto& [k, v] : x.as_record().fields)
      if (std::find(names.begin(), names.end(), k) == names.end()) names.push_back(k);
  }
  for (const auto& n : names) t.header.push_back(upper(n));
  for (const auto& x : items) {
    std::vector<std::string> row;
    for (const auto& n : names) {
      const Value* v = x.type() == Value::Type::record ? field(x, n) : (n == "value" ? &x : nullptr);
      if (n == "created" && v && v->type() == Value::Type::integer)
        row.push_back(format_rfc3339(v->as_int()));
      else
        row.push_back(cell(v));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

const List* list_of(const Value& v) { return v.type() == Value::Type::list ? &v.as_list() : nullptr; }

std::string render_list(const Value& v, std::string_view empty) {
  const List* l = list_of(v);
  if (!l) return printable(v.to_string(2000)) + "\n";
  if (l->empty()) return std::string(empty) + "\n";
  return table_of(*l).render();
}

std::string render_stats(const Value& v) {
  if (v.type() != Value::Type::record) return printable(v.to_string(2000)) + "\n";
  TextTable scalars;
  std::string lists;
  for (const auto& [k, x] : v.as_record().fields) {
    if (const List* l = list_of(x)) {
      lists += fmt::format("\n{}:\n", printable(k));
      lists += l->empty() ? std::string("(none)\n") : table_of(*l).render();
    } else {
      scalars.rows.push_back({k, cell(&x)});
    }
  }
  return scalars.render() + lists;
}

// "worker (permanent): running, 2 restarts, incarnation 3" and, for a
// supervisor, "(one_for_one, at most 3 restarts in 5000 ms)".
std::string supervisor_summary(const Value& s) {
  return fmt::format("supervisor {} ({}, at most {} restarts in {} ms): {}, {} restarts", text(s, "name"),
                     text(s, "strategy"), text(s, "intensity"), text(s, "period_ms"), text(s, "state"),
                     text(s, "restarts"));
}

void render_supervisor(const Value& s, const std::string& indent, std::string& out);

void render_children(const Value& s, const std::string& indent, std::string& out) {
  const Value* children = field(s, "children");
  const List* l = children ? list_of(*children) : nullptr;
  if (!l || l->empty()) {
    out += indent + "└── (no children)\n";
    return;
  }
  for (std::size_t i = 0; i < l->size(); ++i) {
    const Value& c = (*l)[i];
    bool last = i + 1 == l->size();
    std::string line = fmt::format("{} ({}): {}, {} restarts, incarnation {}", text(c, "id"), text(c, "restart"),
                                   text(c, "state"), text(c, "restarts"), text(c, "incarnation"));
    out += indent + (last ? "└── " : "├── ") + printable(line) + "\n";
    if (const Value* sub = field(c, "supervisor"); sub && sub->type() == Value::Type::record)
      render_supervisor(*sub, indent + (last ? "    " : "│   "), out);
  }
}

void render_supervisor(const Value& s, const std::string& indent, std::string& out) {
  out += indent + printable(supervisor_summary(s)) + "\n";
  render_children(s, indent, out);
}

std::string render_tree(const Value& v) {
  const List* l = list_of(v);
  if (!l) return printable(v.to_string(2000)) + "\n";
  if (l->empty()) return "no supervisors\n";
  std::string out;
  for (const auto& s : *l) render_supervisor(s, "", out);
  return out;
}

std::string render_crashes(const Value& v) {
  const List* l = list_of(v);
  if (!l) return printable(v.to_string(2000)) + "\n";
  if (l->empty()) return "no crashes\n";
  TextTable t{{"TIME", "SUPERVISOR", "CHILD", "RESTARTS", "EXCEPTION", "MESSAGE"}, {}};
  for (const auto& c : *l)
    t.rows.push_back({unix_ms(field(c, "time_ms")), text(c, "supervisor"), text(c, "child"), text(c, "restarts"),
                      text(c, "exception"), text(c, "message")});
  return t.render();
}

// Deliveries and supervisor events in one table: an event's source, what and
// detail go in the target, method and args columns, its outcome is "event".
std::string render_recorder(const Value& v) {
  const List* l = list_of(v);
  if (!l) return printable(v.to_string(2000)) + "\n";
  if (l->empty()) return "nothing recorded (recording may be off)\n";
  TextTable t{{"SEQ", "TIME (UTC)", "DURATION_US", "OUTCOME", "SENDER", "TARGET", "METHOD", "ARGS"}, {}};
  for (const auto& e : *l) {
    bool event = e.type() == Value::Type::record && e.as_record().label == "event";
    std::string when = time_of_day(field(e, "time_ms"));
    if (event)
      t.rows.push_back({text(e, "seq"), when, "", "event", "", text(e, "source"), text(e, "what"), text(e, "detail")});
    else
      t.rows.push_back({text(e, "seq"), when, text(e, "duration_us"), text(e, "outcome"), text(e, "sender"),
                        text(e, "target"), text(e, "method"), text(e, "args")});
  }
  return t.render();
}

// One block per host of persistent objects: a title line, its counts as
// name/value lines, then its kinds and activations as tables.
std::string render_persist(const Value& v) {
  const List* l = list_of(v);
  if (!l) return printable(v.to_string(2000)) + "\n";
  if (l->empty()) return "no persistent-object host\n";
  std::string out;
  for (const auto& h : *l) {
    if (!out.empty()) out += "\n";
    out += printable(fmt::format("persistent objects of host {}", text(h, "host"))) + "\n";
    out += render_stats(h);
  }
  return out;
}

}  // namespace

bool is_inspect_view(std::string_view view) {
  return std::find(std::begin(kInspectViews), std::end(kInspectViews), view) != std::end(kInspectViews);
}

std::string TextTable::render() const {
  std::vector<std::vector<std::string>> all;
  if (!header.empty()) all.push_back(header);
  for (const auto& r : rows) all.push_back(r);
  std::size_t columns = 0;
  for (auto& r : all) columns = std::max(columns, r.size());
  for (auto& r : all) {
    r.resize(columns);
    for (auto& c : r) c = cut(printable(c), max_cell);
  }
  std::vector<std::size_t> widths(columns, 0);
  std::vector<bool> right(columns, true);
  for (std::size_t k = 0; k < columns; ++k) {
    bool any = false;
    for (std::size_t i = 0; i < all.size(); ++i) {
      widths[k] = std::max(widths[k], width(all[i][k]));
      if (header.empty() || i > 0) {
        if (!all[i][k].empty()) any = true;
        if (!all[i][k].empty() && !numeric(all[i][k])) right[k] = false;
      }
    }
    if (!any) right[k] = false;
  }
  std::string out;
  for (const auto& r : all) {
    std::string line;
    for (std::size_t k = 0; k < columns; ++k) {
      std::size_t pad = widths[k] - width(r[k]);
      if (k > 0) line += "  ";
      if (right[k]) line.append(pad, ' ');
      line += r[k];
      if (!right[k]) line.append(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string render_view(std::string_view view, const Value& v) {
  if (view == "stats") return render_stats(v);
  if (view == "objects") return render_list(v, "no objects");
  if (view == "tree") return render_tree(v);
  if (view == "crashes") return render_crashes(v);
  if (view == "recorder") return render_recorder(v);
  if (view == "sessions") return render_list(v, "no sessions");
  if (view == "persist") return render_persist(v);
  return printable(v.to_string(2000)) + "\n";
}

}  // namespace vatic::cli
