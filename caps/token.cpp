#include "caps/token.h"

#include <sodium.h>

#include <string_view>

#include "caps/caveat.h"
#include "caps/internal/token_mac.h"

namespace vatic::caps {
namespace {

using Personal = std::array<std::uint8_t, crypto_generichash_blake2b_PERSONALBYTES>;

// token.md: primitives. The labels, zero-padded to 16 bytes.
constexpr Personal personal(std::string_view label) {
  Personal p{};
  for (std::size_t i = 0; i < label.size() && i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(label[i]);
  return p;
}
constexpr Personal kObjKeyLabel = personal("vatic-objkey-v1");
constexpr Personal kTokenLabel = personal("vatic-token-v1");
constexpr Personal kCaveatLabel = personal("vatic-caveat-v1");
constexpr Personal kRevokeLabel = personal("vatic-revoke-v1");
constexpr std::array<std::uint8_t, crypto_generichash_blake2b_SALTBYTES> kSalt{};

// MAC_P(k, m) (key non-empty) or H_P(m) (key empty), 32 bytes into `out`.
void blake2b(std::uint8_t* out, std::span<const std::uint8_t> key, std::span<const std::uint8_t> m,
             const Personal& label) {
  if (crypto_generichash_blake2b_salt_personal(out, 32, m.data(), m.size(), key.empty() ? nullptr : key.data(),
                                               key.size(), kSalt.data(), label.data()) != 0)
    throw_error(ErrorKind::failed, "invariant: BLAKE2b refused its parameters");
}

// The running value of the chain: a bearer secret for the prefix, so it is
// wiped when the computation ends.
struct ChainState {
  SecretKey tag;
};

// token.md: tag chain, tag_i = MAC_caveat(tag_(i-1), caveat_i).
void chain_step(ChainState& s, std::span<const std::uint8_t> caveat) {
  SecretKey next;
  internal::tag_next(next.data(), s.tag.data(), caveat);
  s.tag = std::move(next);
}

Tag tag_of(const ChainState& s) {
  Tag t;
  std::copy(s.tag.data(), s.tag.data() + kTagBytes, t.begin());
  return t;
}

std::size_t encoded_size(const Token& t) {
  std::size_t n = kMinTokenBytes;
  for (const auto& c : t.caveats) n += 2 + c.size();
  return n;
}

}  // namespace

namespace internal {

// token.md: tag chain, tag_0 = MAC_token(K_obj, version || vat id || object id).
void tag_zero(std::uint8_t* out, const ObjectKey& key, const VatKey& vat, const ObjectId& object) {
  std::array<std::uint8_t, 1 + kVatKeyBytes + kObjectIdBytes> m{};
  m[0] = kTokenVersion;
  std::copy(vat.begin(), vat.end(), m.begin() + 1);
  std::copy(object.begin(), object.end(), m.begin() + 1 + kVatKeyBytes);
  blake2b(out, key.span(), m, kTokenLabel);
}

void tag_next(std::uint8_t* out, const std::uint8_t* prev, std::span<const std::uint8_t> caveat) {
  blake2b(out, std::span<const std::uint8_t>(prev, kTagBytes), caveat, kCaveatLabel);
}

RevocationId rid_of(const std::uint8_t* tag) {
  RevocationId r;
  blake2b(r.data(), {}, std::span<const std::uint8_t>(tag, kTagBytes), kRevokeLabel);
  return r;
}

}  // namespace internal

// token.md: binary format.
Bytes encode_token(const Token& t) {
  if (t.caveats.size() > kMaxCaveats) throw_error(ErrorKind::failed, "caller bug: token has more than 32 caveats");
  for (const auto& c : t.caveats)
    if (c.empty() || c.size() > kMaxCaveatBytes)
      throw_error(ErrorKind::failed, "caller bug: token caveat of " + std::to_string(c.size()) + " bytes");
  std::size_t size = encoded_size(t);
  if (size > kMaxTokenBytes) throw_error(ErrorKind::failed, "caller bug: token longer than 8192 bytes");

  Bytes out;
  out.reserve(size);
  out.push_back(kTokenVersion);
  out.insert(out.end(), t.vat.begin(), t.vat.end());
  out.insert(out.end(), t.object.begin(), t.object.end());
  out.push_back(static_cast<std::uint8_t>(t.caveats.size()));
  for (const auto& c : t.caveats) {
    out.push_back(static_cast<std::uint8_t>(c.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(c.size()));
    out.insert(out.end(), c.begin(), c.end());
  }
  out.insert(out.end(), t.tag.begin(), t.tag.end());
  return out;
}

// token.md: binary format, the decoder's order of checks.
Result<Token> decode_token(std::span<const std::uint8_t> in) {
  if (in.size() < kMinTokenBytes)
    return refuse("token is " + std::to_string(in.size()) + " bytes, shorter than the 82 of a token");
  if (in.size() > kMaxTokenBytes)
    return refuse("token is " + std::to_string(in.size()) + " bytes, longer than the limit of 8192");
  if (in[0] != kTokenVersion) return refuse("unknown token version " + std::to_string(in[0]));

  Token t;
  std::size_t at = 1;
  std::copy_n(in.begin() + at, kVatKeyBytes, t.vat.begin());
  at += kVatKeyBytes;
  std::copy_n(in.begin() + at, kObjectIdBytes, t.object.begin());
  at += kObjectIdBytes;
  std::size_t n = in[at++];
  if (n > kMaxCaveats) return refuse("token has " + std::to_string(n) + " caveats, more than the limit of 32");
  t.caveats.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (in.size() - at < 2) return refuse("token ends inside the length of caveat " + std::to_string(i + 1));
    std::size_t len = (std::size_t{in[at]} << 8) | in[at + 1];
    at += 2;
    if (len == 0) return refuse("caveat " + std::to_string(i + 1) + " is empty");
    if (len > kMaxCaveatBytes)
      return refuse("caveat " + std::to_string(i + 1) + " is " + std::to_string(len) +
                    " bytes, longer than the limit of 1024");
    if (in.size() - at < len) return refuse("token ends inside caveat " + std::to_string(i + 1));
    t.caveats.emplace_back(in.begin() + at, in.begin() + at + len);
    at += len;
  }
  if (in.size() - at < kTagBytes) return refuse("token ends inside its tag");
  if (in.size() - at > kTagBytes)
    return refuse(std::to_string(in.size() - at - kTagBytes) + " trailing bytes after the token's tag");
  std::copy_n(in.begin() + at, kTagBytes, t.tag.begin());
  return t;
}

ObjectId new_object_id() {
  ensure_sodium();
  ObjectId id;
  randombytes_buf(id.data(), id.size());
  return id;
}

// token.md: keys.
ObjectKey derive_object_key(const MasterKey& master, const ObjectId& object) {
  ObjectKey k;
  blake2b(k.data(), master.span(), object, kObjKeyLabel);
  return k;
}

Token mint(const ObjectKey& key, const VatKey& vat, const ObjectId& object) {
  ChainState s;
  internal::tag_zero(s.tag.data(), key, vat, object);
  return Token{vat, object, {}, tag_of(s)};
}

Result<Token> attenuate(const Token& token, std::span<const std::uint8_t> caveat) {
  if (auto parsed = parse_caveat(caveat); !parsed) return refuse(parsed.error());
  if (token.caveats.size() >= kMaxCaveats) return refuse("token already has the maximum of 32 caveats");
  if (encoded_size(token) + 2 + caveat.size() > kMaxTokenBytes)
    return refuse("the caveat would make the token longer than 8192 bytes");
  // token.md: tag chain, tag_i = MAC_caveat(tag_(i-1), caveat_i), keyed by the
  // previous tag: appending needs only the token.
  ChainState s{SecretKey::from(token.tag)};
  chain_step(s, caveat);
  Token out = token;
  out.caveats.emplace_back(caveat.begin(), caveat.end());
  out.tag = tag_of(s);
  return out;
}

RevocationId revocation_id(const Tag& tag) { return internal::rid_of(tag.data()); }

ChainCheck verify_chain(const Token& token, const ObjectKey& key, bool with_revocation_ids) {
  ChainCheck out;
  if (with_revocation_ids) out.revocation_ids.reserve(token.caveats.size() + 1);
  // token.md: redeeming, step 4: recompute tag_0..tag_n and rid_0..rid_n.
  ChainState s;
  internal::tag_zero(s.tag.data(), key, token.vat, token.object);
  if (with_revocation_ids) out.revocation_ids.push_back(internal::rid_of(s.tag.data()));
  for (const auto& c : token.caveats) {
    chain_step(s, c);
    if (with_revocation_ids) out.revocation_ids.push_back(internal::rid_of(s.tag.data()));
  }
  // token.md: redeeming, step 5: constant-time compare.
  out.valid = crypto_verify_32(s.tag.data(), token.tag.data()) == 0;
  return out;
}

}  // namespace vatic::caps
