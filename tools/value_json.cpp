#include "tools/value_json.h"

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

#include "vat/json.h"

namespace vatic::cli {
namespace {

std::string hex(const Bytes& b) {
  std::string out;
  out.reserve(b.size() * 2);
  for (std::uint8_t x : b) out += fmt::format("{:02x}", x);
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<Value> bytes_from_hex(std::string_view h, const std::string& where) {
  if (h.size() % 2 != 0) return refuse(fmt::format("at {}: \"bytes\" must be hex digits in pairs", where));
  Bytes out(h.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_digit(h[2 * i]), lo = hex_digit(h[2 * i + 1]);
    if (hi < 0 || lo < 0) return refuse(fmt::format("at {}: \"bytes\" must be hex digits", where));
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return Value(std::move(out));
}

// Nested JSON deeper than this is refused rather than recursed into.
constexpr int kMaxDepth = 64;

Result<Value> from_json(const boost::json::value& j, const std::string& where, int depth) {
  if (depth > kMaxDepth) return refuse(fmt::format("at {}: nested more than {} deep", where, kMaxDepth));
  switch (j.kind()) {
    case boost::json::kind::null: return Value(nullptr);
    case boost::json::kind::bool_: return Value(j.get_bool());
    case boost::json::kind::int64: return Value(j.get_int64());
    case boost::json::kind::uint64:
      if (j.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return refuse(fmt::format("at {}: {} does not fit in a 64-bit signed integer", where, j.get_uint64()));
      return Value(static_cast<std::int64_t>(j.get_uint64()));
    case boost::json::kind::double_: return Value(j.get_double());
    case boost::json::kind::string: return Value(std::string(j.get_string()));
    case boost::json::kind::array: {
      List items;
      const auto& a = j.get_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        auto x = from_json(a[i], fmt::format("{}[{}]", where, i), depth + 1);
        if (!x) return x;
        items.push_back(std::move(*x));
      }
      return Value(std::move(items));
    }
    case boost::json::kind::object: {
      const auto& o = j.get_object();
      if (o.size() == 1 && o.contains("bytes")) {
        const auto& b = o.at("bytes");
        if (!b.is_string()) return refuse(fmt::format("at {}: \"bytes\" must be a hex string", where));
        return bytes_from_hex(b.get_string(), where);
      }
      if (o.size() == 1 && o.contains("reference"))
        return refuse(fmt::format("at {}: a reference cannot be written as JSON", where));
      Record r;
      for (const auto& [k, x] : o) {
        if (k == "record" && x.is_string()) {
          r.label = std::string(x.get_string());
          continue;
        }
        auto field = from_json(x, fmt::format("{}.{}", where, std::string_view(k)), depth + 1);
        if (!field) return field;
        r.fields.emplace_back(std::string(k), std::move(*field));
      }
      return Value(std::move(r));
    }
  }
  return refuse(fmt::format("at {}: not a JSON value", where));
}

}  // namespace

boost::json::value to_json_value(const Value& v) {
  switch (v.type()) {
    case Value::Type::null: return nullptr;
    case Value::Type::boolean: return v.as_bool();
    case Value::Type::integer: return v.as_int();
    case Value::Type::real: {
      double d = v.as_double();
      return std::isfinite(d) ? boost::json::value(d) : boost::json::value(nullptr);
    }
    case Value::Type::text: return json_text(v.as_text());
    case Value::Type::bytes: return boost::json::object{{"bytes", hex(v.as_bytes())}};
    case Value::Type::list: {
      boost::json::array a;
      a.reserve(v.as_list().size());
      for (const auto& x : v.as_list()) a.push_back(to_json_value(x));
      return a;
    }
    case Value::Type::record: {
      const Record& r = v.as_record();
      boost::json::object o;
      if (!r.label.empty() && !r.find("record")) o["record"] = json_text(r.label);
      // Keys are made valid UTF-8 too; a later duplicate (possible only when
      // two names differ in invalid bytes) replaces the earlier.
      for (const auto& [k, x] : r.fields) o[json_text(k)] = to_json_value(x);
      return o;
    }
    case Value::Type::reference: return boost::json::object{{"reference", true}};
    case Value::Type::error: {
      const Error& e = v.as_error();
      return boost::json::object{
          {"error", boost::json::object{{"kind", json_text(to_string(e.kind))}, {"reason", json_text(e.reason)}}}};
    }
  }
  return nullptr;
}

std::string value_to_json(const Value& v) { return json_write(to_json_value(v)); }

Result<Value> value_from_json(const boost::json::value& j) { return from_json(j, "$", 0); }

Result<Value> parse_value_json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value j = boost::json::parse(text, ec);
  if (ec) return refuse(fmt::format("not JSON ({})", ec.message()));
  return value_from_json(j);
}

}  // namespace vatic::cli
