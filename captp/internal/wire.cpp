#include "captp/internal/wire.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

// Completes the types handler.h uses inline (Message holds a PromiseBase).
#include "vat/promise_state.h"

namespace vatic::captp {

namespace {

wire::ErrorInfo::Kind kind_to_wire(ErrorKind k) {
  switch (k) {
    case ErrorKind::failed: return wire::ErrorInfo::Kind::FAILED;
    case ErrorKind::disconnected: return wire::ErrorInfo::Kind::DISCONNECTED;
    case ErrorKind::overloaded: return wire::ErrorInfo::Kind::OVERLOADED;
    case ErrorKind::unimplemented: return wire::ErrorInfo::Kind::UNIMPLEMENTED;
  }
  return wire::ErrorInfo::Kind::FAILED;
}

std::string capped(kj::StringPtr s) {
  std::string out(s.cStr(), std::min<std::size_t>(s.size(), kMaxReasonBytes));
  return out;
}

void check_depth(int depth) {
  if (depth > kMaxValueDepth) throw ProtocolError(fmt::format("value nested deeper than {} levels", kMaxValueDepth));
}

kj::StringPtr text_of(const std::string& s) { return kj::StringPtr(s.c_str(), s.size()); }

// Room VectorOutput leaves after a message for the channel's frame
// bookkeeping (tag and next prefix, 28 bytes; captp/internal/net/channel.h).
constexpr std::size_t kAppendSlack = 64;

// Below this, bytes are copied into the arena: an extra segment costs more than it saves.
constexpr std::size_t kExternalBytesMin = 4096;

}  // namespace

void write_error(const Error& e, wire::ErrorInfo::Builder out) {
  out.setKind(kind_to_wire(e.kind));
  std::string_view r(e.reason);
  if (r.size() > kMaxReasonBytes) r = r.substr(0, kMaxReasonBytes);
  out.setReason(capnp::Text::Reader(r.data(), r.size()));
}

Error read_error(wire::ErrorInfo::Reader in) {
  Error e;
  switch (in.getKind()) {
    case wire::ErrorInfo::Kind::FAILED: e.kind = ErrorKind::failed; break;
    case wire::ErrorInfo::Kind::DISCONNECTED: e.kind = ErrorKind::disconnected; break;
    case wire::ErrorInfo::Kind::OVERLOADED: e.kind = ErrorKind::overloaded; break;
    case wire::ErrorInfo::Kind::UNIMPLEMENTED: e.kind = ErrorKind::unimplemented; break;
    default: e.kind = ErrorKind::failed; break;  // a newer kind: the safe reading
  }
  e.reason = capped(in.getReason());
  return e;
}

void write_value(const Value& v, wire::Value::Builder out, CapWriter& caps, int depth) {
  if (depth > kMaxValueDepth)
    throw_error(ErrorKind::failed, fmt::format("value nested deeper than {} levels cannot be sent", kMaxValueDepth));
  switch (v.type()) {
    case Value::Type::null: out.setNull(); break;
    case Value::Type::boolean: out.setBool(v.as_bool()); break;
    case Value::Type::integer: out.setInt(v.as_int()); break;
    case Value::Type::real: out.setFloat(v.as_double()); break;
    case Value::Type::text: out.setText(text_of(v.as_text())); break;
    case Value::Type::bytes: {
      const Bytes& b = v.as_bytes();
      capnp::Data::Reader data(b.data(), b.size());
      if (b.size() >= kExternalBytesMin && b.size() % sizeof(capnp::word) == 0 &&
          reinterpret_cast<std::uintptr_t>(b.data()) % alignof(capnp::word) == 0 &&
          caps.external_segments < kMaxExternalSegments) {
        ++caps.external_segments;
        // Bulk bytes become a segment of their own that points at `b`, so they
        // are copied once (by writeMessage into the frame), not into the
        // builder's zeroed arena first. Cap'n Proto reads whole words of an
        // external segment: only word-aligned, whole-word buffers qualify.
        out.adoptBytes(capnp::Orphanage::getForMessageContaining(out).referenceExternalData(data));
      } else {
        out.setBytes(data);
      }
      break;
    }
    case Value::Type::list: {
      const List& l = v.as_list();
      auto items = out.initList(static_cast<unsigned>(l.size()));
      for (unsigned i = 0; i < l.size(); ++i) write_value(l[i], items[i], caps, depth + 1);
      break;
    }
    case Value::Type::record: {
      const Record& r = v.as_record();
      auto rec = out.initRecord();
      rec.setLabel(text_of(r.label));
      auto fields = rec.initFields(static_cast<unsigned>(r.fields.size()));
      for (unsigned i = 0; i < r.fields.size(); ++i) {
        fields[i].setName(text_of(r.fields[i].first));
        write_value(r.fields[i].second, fields[i].initValue(), caps, depth + 1);
      }
      break;
    }
    case Value::Type::reference: caps.write_cap(v.as_capability(), out.initCap()); break;
    case Value::Type::error: write_error(v.as_error(), out.initError()); break;
  }
}

Value read_value(wire::Value::Reader in, CapReader& caps, int depth) {
  check_depth(depth);
  switch (in.which()) {
    case wire::Value::NULL_: return Value();
    case wire::Value::BOOL: return Value(in.getBool());
    case wire::Value::INT: return Value(in.getInt());
    case wire::Value::FLOAT: return Value(in.getFloat());
    case wire::Value::TEXT: {
      auto t = in.getText();
      return Value(std::string(t.cStr(), t.size()));
    }
    case wire::Value::BYTES: {
      // TODO(perf): one copy out of the frame buffer per received bulk value;
      // only a Bytes that could adopt part of the (reused) frame buffer avoids it.
      auto d = in.getBytes();
      return Value(Bytes(d.begin(), d.end()));
    }
    case wire::Value::LIST: {
      auto items = in.getList();
      List l;
      l.reserve(items.size());
      for (auto item : items) l.push_back(read_value(item, caps, depth + 1));
      return Value(std::move(l));
    }
    case wire::Value::RECORD: {
      auto rec = in.getRecord();
      Record r;
      auto label = rec.getLabel();
      r.label.assign(label.cStr(), label.size());
      auto fields = rec.getFields();
      r.fields.reserve(fields.size());
      for (auto f : fields) {
        auto name = f.getName();
        r.fields.emplace_back(std::string(name.cStr(), name.size()), read_value(f.getValue(), caps, depth + 1));
      }
      return Value(std::move(r));
    }
    case wire::Value::CAP: return Value(caps.read_cap(in.getCap()));
    case wire::Value::ERROR: return Value(read_error(in.getError()));
  }
  throw ProtocolError(fmt::format("unknown value type {}", static_cast<unsigned>(in.which())));
}

void VectorOutput::write(const void* buffer, size_t size) {
  auto* p = static_cast<const std::uint8_t*>(buffer);
  out_.insert(out_.end(), p, p + size);
}

void VectorOutput::write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  std::size_t total = 0;
  for (auto& p : pieces) total += p.size();
  // reserve + insert, not resize + memcpy: a bulk message is copied once and
  // never zero-filled first. Growth stays geometric for the channel's buffer.
  // The slack is for what the channel adds after a message (a tag and the
  // next frame's prefix): without it, closing the frame behind a bulk
  // message would reallocate and copy the message a second time.
  std::size_t need = out_.size() + total + kAppendSlack;
  if (need > out_.capacity()) out_.reserve(std::max(need, 2 * out_.capacity()));
  for (auto& p : pieces) out_.insert(out_.end(), p.begin(), p.end());
}

}  // namespace vatic::captp
