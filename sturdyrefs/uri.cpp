#include "sturdyrefs/uri.h"

#include <sodium.h>

#include <algorithm>

#include "vat/error.h"

namespace vatic::sturdyrefs {
namespace {

using caps::Bytes;

// sturdyref.md: hints. The bytes kept raw; everything else is %XY.
bool raw_hint_byte(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == ':' || c == '[' || c == ']';
}

int upper_hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string encode_hint(std::string_view hint) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : hint) {
    auto c = static_cast<unsigned char>(ch);
    if (raw_hint_byte(c)) {
      out += ch;
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

// sturdyref.md: hints, the decoder's checks; then the address must be canonical.
Result<std::string> decode_hint(std::string_view text) {
  if (text.empty()) return refuse("empty address hint");
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c != '%') {
      if (!raw_hint_byte(c)) return refuse("address hint has a byte that must be percent-encoded");
      out += text[i];
      continue;
    }
    int hi = i + 2 < text.size() ? upper_hex_value(text[i + 1]) : -1;
    int lo = hi >= 0 ? upper_hex_value(text[i + 2]) : -1;
    if (lo < 0) return refuse("'%' in an address hint is not followed by two uppercase hex digits");
    auto decoded = static_cast<unsigned char>(hi * 16 + lo);
    if (raw_hint_byte(decoded)) return refuse("address hint percent-encodes a byte that needs no encoding");
    out += static_cast<char>(decoded);
    i += 2;
  }
  auto address = captp::Address::parse(out);
  if (!address) return refuse("address hint: " + address.error());
  if (address->to_string() != out)
    return refuse("address hint is not in canonical form (" + address->to_string() + ")");
  return out;
}

std::string encode_token64(const Bytes& bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), kVariant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

// sturdyref.md: the token part.
Result<caps::Token> decode_token64(std::string_view text) {
  if (text.empty()) return refuse("missing token after '/'");
  // The decoded size is at most 3/4 of the text; the URI limit bounds both.
  Bytes bytes(text.size() * 3 / 4 + 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(bytes.data(), bytes.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size())
    return refuse("token is not base64url without padding");
  bytes.resize(len);
  // Unused bits must be zero: only the canonical text reads back the same.
  if (encode_token64(bytes) != text) return refuse("token is not canonical base64url");
  auto token = caps::decode_token(bytes);
  if (!token) return refuse("token: " + token.error());
  return token;
}

}  // namespace

std::vector<captp::Address> SturdyRef::addresses() const {
  std::vector<captp::Address> out;
  for (const auto& h : hints) {
    auto a = captp::Address::parse(h);
    if (!a) throw_error(ErrorKind::failed, "caller bug: sturdy ref hint '" + h + "' is not an address");
    out.push_back(*a);
  }
  return out;
}

Result<SturdyRef> parse_sturdy_ref(std::string_view text) {
  // sturdyref.md: parsing order, 1 and 2.
  if (text.size() > kMaxSturdyRefChars)
    return refuse("sturdy ref is " + std::to_string(text.size()) + " bytes, longer than the limit of 16384");
  if (!text.starts_with(kScheme)) return refuse("sturdy ref does not start with \"vatic://\"");
  text.remove_prefix(kScheme.size());

  // 3: the authority and the vat id.
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return refuse("sturdy ref has no '/' before its token");
  std::string_view authority = text.substr(0, slash);
  std::string_view token_text = text.substr(slash + 1);
  auto at = authority.find('@');
  auto vat = captp::VatId::parse(authority.substr(0, at));
  if (!vat) return refuse("vat id: " + vat.error());

  // 4: the hints, counted before any is decoded.
  std::vector<std::string> hints;
  if (at != std::string_view::npos) {
    std::string_view list = authority.substr(at + 1);
    if (std::count(list.begin(), list.end(), ',') + 1 > static_cast<std::ptrdiff_t>(kMaxHints))
      return refuse("sturdy ref has more than 8 address hints");
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t end = std::min(list.find(',', start), list.size());
      auto hint = decode_hint(list.substr(start, end - start));
      if (!hint) return refuse(hint.error());
      hints.push_back(std::move(hint).value());
      start = end + 1;
    }
  }

  // 5 and 6: the token, and its vat.
  auto token = decode_token64(token_text);
  if (!token) return refuse(token.error());
  if (token->vat != vat->bytes()) return refuse("the token is for another vat than the sturdy ref names");
  return SturdyRef{*vat, std::move(hints), std::move(token).value()};
}

std::string format_sturdy_ref(const SturdyRef& ref) {
  if (ref.hints.size() > kMaxHints) throw_error(ErrorKind::failed, "caller bug: sturdy ref with more than 8 hints");
  if (ref.token.vat != ref.vat.bytes()) throw_error(ErrorKind::failed, "caller bug: sturdy ref token for another vat");
  std::string out(kScheme);
  out += ref.vat.to_text();
  for (std::size_t i = 0; i < ref.hints.size(); ++i) {
    auto a = captp::Address::parse(ref.hints[i]);
    if (!a || a->to_string() != ref.hints[i])
      throw_error(ErrorKind::failed, "caller bug: sturdy ref hint '" + ref.hints[i] + "' is not a canonical address");
    out += i == 0 ? '@' : ',';
    out += encode_hint(ref.hints[i]);
  }
  out += '/';
  out += encode_token64(caps::encode_token(ref.token));
  return out;
}

}  // namespace vatic::sturdyrefs
