#include "vat/value.h"

#include <fmt/format.h>

#include "vat/internal/far.h"

namespace vatic {

std::string_view to_string(Value::Type t) noexcept {
  switch (t) {
    case Value::Type::null: return "null";
    case Value::Type::boolean: return "bool";
    case Value::Type::integer: return "int64";
    case Value::Type::real: return "float64";
    case Value::Type::text: return "text";
    case Value::Type::bytes: return "bytes";
    case Value::Type::list: return "list";
    case Value::Type::record: return "record";
    case Value::Type::reference: return "reference";
    case Value::Type::error: return "error";
  }
  return "?";
}

namespace {

[[noreturn]] void type_mismatch(Value::Type want, Value::Type got) {
  throw_error(ErrorKind::failed, fmt::format("expected {}, got {}", to_string(want), to_string(got)));
}

template <class T, Value::Type W, class Rep>
auto& get_as(Rep& rep) {
  if (auto* p = std::get_if<T>(&rep)) return *p;
  type_mismatch(W, static_cast<Value::Type>(rep.index()));
}

}  // namespace

const Value* Record::find(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (k == name) return &v;
  return nullptr;
}

bool operator==(const Record& a, const Record& b) { return a.label == b.label && a.fields == b.fields; }

const void* Capability::identity() const noexcept {
  if (handler) return handler->identity();
  if (transit) return transit->identity;
  return nullptr;
}

bool Value::as_bool() const { return get_as<bool, Type::boolean>(rep_); }
std::int64_t Value::as_int() const { return get_as<std::int64_t, Type::integer>(rep_); }
double Value::as_double() const {
  if (auto* i = std::get_if<std::int64_t>(&rep_)) return static_cast<double>(*i);
  return get_as<double, Type::real>(rep_);
}
const std::string& Value::as_text() const { return get_as<std::string, Type::text>(rep_); }
const Bytes& Value::as_bytes() const { return get_as<Bytes, Type::bytes>(rep_); }
const List& Value::as_list() const { return get_as<List, Type::list>(rep_); }
const Record& Value::as_record() const { return get_as<Record, Type::record>(rep_); }
const Capability& Value::as_capability() const { return get_as<Capability, Type::reference>(rep_); }
const Error& Value::as_error() const { return get_as<Error, Type::error>(rep_); }
std::string& Value::as_text() { return get_as<std::string, Type::text>(rep_); }
Bytes& Value::as_bytes() { return get_as<Bytes, Type::bytes>(rep_); }
List& Value::as_list() { return get_as<List, Type::list>(rep_); }
Record& Value::as_record() { return get_as<Record, Type::record>(rep_); }
Capability& Value::as_capability() { return get_as<Capability, Type::reference>(rep_); }

namespace {

void render(const Value& v, std::string& out, std::size_t max) {
  if (out.size() >= max) return;
  switch (v.type()) {
    case Value::Type::null: out += "null"; break;
    case Value::Type::boolean: out += v.as_bool() ? "true" : "false"; break;
    case Value::Type::integer: out += fmt::format("{}", v.as_int()); break;
    case Value::Type::real: out += fmt::format("{}", v.as_double()); break;
    case Value::Type::text: out += fmt::format("{:?}", v.as_text().substr(0, max)); break;
    case Value::Type::bytes: out += fmt::format("<{} bytes>", v.as_bytes().size()); break;
    case Value::Type::list: {
      out += '[';
      bool first = true;
      for (const auto& e : v.as_list()) {
        if (!first) out += ", ";
        first = false;
        render(e, out, max);
        if (out.size() >= max) break;
      }
      out += ']';
      break;
    }
    case Value::Type::record: {
      const auto& r = v.as_record();
      out += r.label;
      out += '{';
      bool first = true;
      for (const auto& [k, f] : r.fields) {
        if (!first) out += ", ";
        first = false;
        out += k;
        out += ": ";
        render(f, out, max);
        if (out.size() >= max) break;
      }
      out += '}';
      break;
    }
    case Value::Type::reference: out += v.as_capability().promise ? "<promise>" : "<ref>"; break;
    case Value::Type::error: out += "<error " + to_string(v.as_error()) + ">"; break;
  }
}

}  // namespace

std::string Value::to_string(std::size_t max) const {
  std::string out;
  render(*this, out, max);
  if (out.size() > max) {
    out.resize(max);
    out += "...";
  }
  return out;
}

}  // namespace vatic
