// ArgCapture: what the flight recorder keeps of a message's arguments. On the
// delivery path a typed message copies its scalars and a prefix of each string
// into a fixed 48-byte buffer (a memcpy, no formatting, no allocation) together
// with a pointer to the function that knows their types; the text is made only
// when someone reads the ring. A by-name message formats its Values at once
// (that path is already slow). Vat-local, like the message it came from.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "vat/internal/method_traits.h"

namespace vatic {
class Value;
}  // namespace vatic

namespace vatic::detail {

struct ArgCapture {
  static constexpr std::size_t kRaw = 48;
  // Writes the summary of `raw` into out[0, cap) and returns its length.
  using Format = std::size_t (*)(const unsigned char* raw, char* out, std::size_t cap);
  Format format;  // null: nothing captured (no arguments)
  unsigned char raw[kRaw];
};

// The longest summary text, whatever the arguments (escapes included).
inline constexpr std::size_t kArgSummaryMax = 80;

// A bounded text builder: once full it ends in an ellipsis and drops the rest.
class SummaryOut {
 public:
  SummaryOut(char* out, std::size_t cap) noexcept : p_(out), cap_(cap) {}
  void put(std::string_view s) noexcept;
  // `s` quoted, control characters and quotes escaped; `cut` adds an ellipsis
  // inside the quotes (the text was longer than what was kept).
  void put_quoted(std::string_view s, bool cut) noexcept;
  void put_int(std::int64_t v) noexcept;
  void put_uint(std::uint64_t v) noexcept;
  void put_double(double v) noexcept;
  void separator() noexcept {
    if (args_++) put(", ");
  }
  std::size_t size() const noexcept { return n_; }
  bool full() const noexcept { return full_; }

 private:
  char* p_;
  std::size_t cap_;
  std::size_t n_ = 0;
  unsigned args_ = 0;
  bool full_ = false;
};

// A summary of one Value ("42", "\"text\"", "<bytes 12>", "<record Point>"...).
void summarize_value(const Value& v, SummaryOut& out);
// The text summary kept by a by-name message: `text` stored as is.
void capture_text(ArgCapture& c, std::string_view text) noexcept;
std::size_t format_capture(const ArgCapture& c, char* out, std::size_t cap) noexcept;

template <class T>
struct IsPromiseArg : std::false_type {};
template <class T>
struct IsPromiseArg<::vatic::Promise<T>> : std::true_type {};
template <class T>
concept RecordArg = requires {
  T::vatic_label();
};

// How one argument type is captured: `fixed` bytes always, or (for strings and
// Values) a 2-byte length and as much text as the budget leaves.
template <class T>
struct ArgSlot {
  static constexpr bool scalar = std::is_arithmetic_v<T> || std::is_enum_v<T>;
  static constexpr bool text = std::is_same_v<T, std::string> || std::is_same_v<T, Value>;
  static constexpr bool sized = requires(const T& t) { t.size(); }
  &&!text;  // bytes, lists, maps
  static constexpr std::size_t fixed = scalar ? sizeof(T) : sized ? sizeof(std::uint32_t) : 0;
};

void summarize_value_text(const Value& v, char* out, std::size_t cap, std::size_t* n) noexcept;

template <class... A>
struct ArgLayout {
  static constexpr std::size_t kTexts = ((ArgSlot<A>::text ? 1 : 0) + ... + 0);
  static constexpr std::size_t kFixed = (ArgSlot<A>::fixed + ... + 0);
  // What each text argument may keep: the space the fixed ones leave, shared.
  static constexpr std::size_t kTextBudget =
      kTexts == 0 || kFixed + 2 * kTexts >= ArgCapture::kRaw ? 0 : (ArgCapture::kRaw - kFixed) / kTexts - 2;

  template <class T>
  static constexpr std::size_t width() {
    return ArgSlot<T>::text ? 2 + kTextBudget : ArgSlot<T>::fixed;
  }

  // Copies what fits; an argument that does not fit is left out (its formatter
  // prints an ellipsis there).
  static void capture(const std::tuple<A...>& args, unsigned char* raw) noexcept {
    std::size_t at = 0;
    std::apply([&](const A&... a) { (capture_one(a, raw, at), ...); }, args);
  }

  static std::size_t format(const unsigned char* raw, char* out, std::size_t cap) noexcept {
    SummaryOut o(out, cap);
    std::size_t at = 0;
    bool cut = false;
    ((format_one<A>(raw, at, o, cut)), ...);
    return o.size();
  }

 private:
  template <class T>
  static void capture_one(const T& a, unsigned char* raw, std::size_t& at) noexcept {
    constexpr std::size_t w = width<T>();
    if (at + w > ArgCapture::kRaw) {
      at = ArgCapture::kRaw + 1;  // nor any after it: format() stops at the same place
      return;
    }
    if constexpr (ArgSlot<T>::scalar) {
      std::memcpy(raw + at, &a, sizeof(T));
    } else if constexpr (std::is_same_v<T, std::string>) {
      auto len = static_cast<std::uint16_t>(std::min<std::size_t>(a.size(), 0xffff));
      std::memcpy(raw + at, &len, 2);
      std::memcpy(raw + at + 2, a.data(), std::min<std::size_t>(a.size(), kTextBudget));
    } else if constexpr (ArgSlot<T>::text) {
      // A Value argument: formatted now, as a by-name message's would be.
      std::size_t n = 0;
      summarize_value_text(a, reinterpret_cast<char*>(raw + at + 2), kTextBudget, &n);
      auto len = static_cast<std::uint16_t>(n);
      std::memcpy(raw + at, &len, 2);
    } else if constexpr (ArgSlot<T>::sized) {
      auto n = static_cast<std::uint32_t>(std::min<std::size_t>(a.size(), 0xffffffffu));
      std::memcpy(raw + at, &n, sizeof n);
    }
    at += w;
  }

  template <class T>
  static void format_one(const unsigned char* raw, std::size_t& at, SummaryOut& o, bool& cut) noexcept {
    if (cut) return;
    constexpr std::size_t w = width<T>();
    o.separator();
    if (at + w > ArgCapture::kRaw) {
      o.put("\xE2\x80\xA6");  // the arguments that did not fit
      cut = true;
      return;
    }
    if constexpr (std::is_same_v<T, bool>) {
      o.put(raw[at] ? "true" : "false");
    } else if constexpr (std::is_floating_point_v<T>) {
      T v;
      std::memcpy(&v, raw + at, sizeof v);
      o.put_double(static_cast<double>(v));
    } else if constexpr (ArgSlot<T>::scalar) {
      T v;
      std::memcpy(&v, raw + at, sizeof v);
      if constexpr (std::is_enum_v<T>)
        o.put_int(static_cast<std::int64_t>(v));
      else if constexpr (std::is_signed_v<T>)
        o.put_int(static_cast<std::int64_t>(v));
      else
        o.put_uint(static_cast<std::uint64_t>(v));
    } else if constexpr (ArgSlot<T>::text) {
      std::uint16_t len;
      std::memcpy(&len, raw + at, 2);
      auto text = reinterpret_cast<const char*>(raw + at + 2);
      if constexpr (std::is_same_v<T, std::string>)
        o.put_quoted(std::string_view(text, std::min<std::size_t>(len, kTextBudget)), len > kTextBudget);
      else
        o.put(std::string_view(text, len));
    } else if constexpr (ArgSlot<T>::sized) {
      std::uint32_t n;
      std::memcpy(&n, raw + at, sizeof n);
      if constexpr (std::is_same_v<T, std::vector<std::uint8_t>>)
        o.put("<bytes ");
      else if constexpr (requires { typename T::key_type; })
        o.put("<map ");
      else
        o.put("<list ");
      o.put_uint(n);
      o.put(">");
    } else if constexpr (IsRef<T>::value) {
      o.put("<ref>");
    } else if constexpr (IsPromiseArg<T>::value) {
      o.put("<promise>");
    } else if constexpr (RecordArg<T>) {
      o.put("<record ");
      o.put(T::vatic_label());
      o.put(">");
    } else {
      o.put("<arg>");
    }
    at += w;
  }
};

// Captures a typed message's argument tuple.
template <class... A>
void capture_tuple(const std::tuple<A...>& args, ArgCapture& c) noexcept {
  if constexpr (sizeof...(A) == 0) {
    c.format = nullptr;
  } else {
    ArgLayout<A...>::capture(args, c.raw);
    c.format = &ArgLayout<A...>::format;
  }
}

}  // namespace vatic::detail
