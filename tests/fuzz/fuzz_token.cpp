// libFuzzer target: the token, caveat and sturdy-ref parsers (caps/token.h,
// caps/caveat.h, sturdyrefs/uri.h), the inputs a holder or a peer controls.
// Byte 0 picks the mode (modulo 4):
//   0 token    the rest is a binary token. If it decodes, encoding it gives
//              the same bytes (one encoding per token); attenuating it with a
//              valid caveat keeps verify_chain's answer under the fixed key
//              (a holder can narrow, never repair or break, a chain).
//   1 caveats  chunks (fuzz_common.h), each one caveat: a caveat that parses
//              re-encodes to exactly its bytes, and the chain parses iff
//              every caveat does.
//   2 uri      the rest is sturdy-ref text: if it parses, formatting gives
//              the same text and parsing that gives the same ref.
//   3 chain    chunks appended to a freshly minted token with attenuate()
//              (invalid ones are refused and skipped); the result verifies
//              and round-trips; the last chunk (u16 offset, u8 xor) edits the
//              encoding, and an edited token must never verify.
// The key is fixed (kTokenMaster), so seeds with valid tags stay valid. The
// seeds (corpus/fuzz_token/) are plain files written by a short Python script
// with hashlib.blake2b from spec/token.md alone, not by make_seeds, so their
// tags also check the spec independently of caps/.
// Any violated expectation aborts (a finding), as does any sanitizer report.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "caps/caveat.h"
#include "caps/token.h"
#include "sturdyrefs/uri.h"
#include "tests/fuzz/fuzz_common.h"

namespace vatic::fuzz {
namespace {

constexpr std::uint8_t kTokenMaster = 0x41;
// The RFC 8032 test key (spec/handshake.md's example vat id), so that seeds
// written without our code (by a script) can name a valid vat.
constexpr caps::VatKey kTokenVat = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
                                    0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
                                    0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_token: expectation failed: %s\n", what);
    std::abort();
  }
}

caps::MasterKey master() {
  std::array<std::uint8_t, caps::kKeyBytes> b;
  b.fill(kTokenMaster);
  return caps::MasterKey::from(b);
}

void fuzz_token(std::span<const std::uint8_t> in) {
  auto token = caps::decode_token(in);
  if (!token) return;
  auto again = caps::encode_token(*token);
  require(again.size() == in.size() && std::equal(again.begin(), again.end(), in.begin()), "token re-encodes");
  auto key = caps::derive_object_key(master(), token->object);
  auto before = caps::verify_chain(*token, key);
  require(before.revocation_ids.size() == token->caveats.size() + 1, "one revocation id per prefix");
  (void)caps::parse_caveats(token->caveats);  // must not crash, whatever the bytes
  auto narrowed = caps::attenuate(*token, caps::caveat_ops(caps::kReadOnlyFsOps));
  if (!narrowed) return;  // at a limit
  auto after = caps::verify_chain(*narrowed, key);
  require(after.valid == before.valid, "attenuation keeps the verdict");
  require(std::equal(before.revocation_ids.begin(), before.revocation_ids.end(), after.revocation_ids.begin()),
          "attenuation keeps the prefix revocation ids");
}

void fuzz_caveats(std::span<const std::uint8_t> in) {
  Chunks chunks(in);
  std::vector<caps::Bytes> all;
  bool every_ok = true;
  while (auto c = chunks.next()) {
    auto parsed = caps::parse_caveat(*c);
    if (parsed) {
      auto again = caps::encode_caveat(*parsed);
      require(again.size() == c->size() && std::equal(again.begin(), again.end(), c->begin()), "caveat canonical");
    }
    every_ok = every_ok && parsed.ok();
    all.emplace_back(c->begin(), c->end());
  }
  auto chain = caps::parse_caveats(all);
  require(chain.ok() == every_ok, "a chain parses iff each caveat does");
  if (chain) {
    (void)caps::describe(*chain);
    (void)caps::describe_json(*chain);
    (void)caps::check_time(*chain, 0);
  }
}

void fuzz_uri(std::span<const std::uint8_t> in) {
  std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  auto ref = sturdyrefs::parse_sturdy_ref(text);
  if (!ref) return;
  auto formatted = sturdyrefs::format_sturdy_ref(*ref);
  require(formatted == text, "format(parse(text)) == text");
  auto again = sturdyrefs::parse_sturdy_ref(formatted);
  require(again.ok() && *again == *ref, "parse(format(ref)) == ref");
}

void fuzz_chain(std::span<const std::uint8_t> in) {
  caps::ObjectId object{};
  object.fill(0x42);
  auto key = caps::derive_object_key(master(), object);
  caps::Token t = caps::mint(key, kTokenVat, object);
  Chunks chunks(in);
  std::span<const std::uint8_t> last;
  while (auto c = chunks.next()) {
    last = *c;
    if (auto next = caps::attenuate(t, *c)) t = std::move(next).value();
  }
  require(caps::verify_chain(t, key).valid, "any attenuation chain verifies");
  auto bytes = caps::encode_token(t);
  auto back = caps::decode_token(bytes);
  require(back.ok() && *back == t, "token round-trips");
  if (last.size() != 3 || last[2] == 0) return;
  std::size_t offset = (last[0] | (std::size_t{last[1]} << 8)) % bytes.size();
  bytes[offset] ^= last[2];
  auto edited = caps::decode_token(bytes);
  require(!edited || !caps::verify_chain(*edited, caps::derive_object_key(master(), edited->object)).valid,
          "an edited token never verifies");
}

}  // namespace
}  // namespace vatic::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: vatic::fuzz::fuzz_token(rest); break;
    case 1: vatic::fuzz::fuzz_caveats(rest); break;
    case 2: vatic::fuzz::fuzz_uri(rest); break;
    case 3: vatic::fuzz::fuzz_chain(rest); break;
  }
  return 0;
}
