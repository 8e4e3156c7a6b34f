// fs_bench: the CPU-only workloads: token verification (caps/token.h) and the
// single-core AEAD bound the read target is stated against.
#include <sodium.h>

#include <ctime>

#include "bench/fs_bench.h"
#include "caps/caveat.h"
#include "caps/chain_cache.h"
#include "caps/token.h"

namespace fs_bench {

using namespace vatic::caps;
using vatic::Result;

// One "verify" is what Host::redeem runs for token.md steps 4 and 5 on an
// object with no revoked branch (the common case): ChainCache::verify, which
// finds the token's chain among those verified before (a redeemer sees the
// same refs again and again) and still compares the tag in constant time.
// "Uncached" is caps::verify_chain, the first redeem of a token (and any
// forgery): tag_0 from K_obj, one MAC per caveat, the constant-time compare:
// four keyed BLAKE2b, eight compressions. (With a revoked branch of the same
// object the redeemer also asks for the revocation ids: the cache has them,
// verify_chain computes four more unkeyed hashes.) K_obj is derived once,
// outside the loop (today's Host derives it per redeem, one more keyed
// BLAKE2b). "Redeem checks" add what the redeemer does around the cached
// verify with no store lookup: decode_token, parse_caveats, check_time.
void token_workload() {
  if (sodium_init() < 0) die("sodium_init failed");
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  MasterKey master = SecretKey::random();
  ObjectId object = new_object_id();
  ObjectKey key = derive_object_key(master, object);
  VatKey vat{};
  randombytes_buf(vat.data(), vat.size());
  Token t = mint(key, vat, object);
  for (const Bytes& c : {caveat_path("pub/docs").value(), caveat_ops(kReadOnlyFsOps), caveat_expires(now + 3600)})
    t = attenuate(t, c).value();

  // Checked once, untimed: the token verifies, its last revocation id is the
  // tag's, and a forgery (the expiry pushed out by one second) fails.
  ChainCheck good = verify_chain(t, key);
  if (!good.valid || good.revocation_ids.size() != 4 || good.revocation_ids.back() != revocation_id(t.tag))
    die("token: a freshly attenuated token does not verify");
  Token forged = t;
  forged.caveats[2].back() ^= 1;
  if (verify_chain(forged, key).valid) die("token: a token with a changed caveat verifies");
  progress("token: %zu caveats, %zu bytes encoded", t.caveats.size(), encode_token(t).size());

  const std::int64_t warm = scaled<std::int64_t>(20'000, 1'000), count = scaled<std::int64_t>(1'000'000, 10'000);
  ChainCache cache;
  auto rate = [&](const char* metric, auto verify) {
    if (!wanted(metric)) return;
    std::int64_t ok = 0;
    for (std::int64_t i = 0; i < warm; ++i) ok += verify().valid;
    ok = 0;
    auto t0 = BenchClock::now();
    for (std::int64_t i = 0; i < count; ++i) {
      ChainCheck c = verify();
      ok += c.valid;
      keep(c);
    }
    double sec = seconds_since(t0);
    if (ok != count) die("token: " + std::to_string(count - ok) + " verifies failed");
    emit(metric, static_cast<double>(count) / sec, "verifies/s");
  };
  rate("token.verify_3caveats_per_s", [&] { return cache.verify(t, key, false); });
  rate("token.verify_3caveats_uncached_per_s", [&] { return verify_chain(t, key, false); });
  if (cache.verify(forged, key).valid) die("token: the cache accepts a token with a changed caveat");

  if (wanted("token.redeem_checks_3caveats_per_s")) {
    const Bytes wire = encode_token(t);
    Bytes bad_wire = wire;
    bad_wire[bad_wire.size() - 1] ^= 1;  // the tag
    auto redeem_checks = [&](const Bytes& bytes) {
      Result<Token> d = decode_token(bytes);
      if (!d || d->vat != vat) return false;
      if (!cache.verify(d.value(), key, false).valid) return false;
      Result<Caveats> c = parse_caveats(d->caveats);
      return c && !check_time(c.value(), now) && c->ops == kReadOnlyFsOps;
    };
    if (redeem_checks(bad_wire)) die("token: redeem checks accept a token with a changed tag");
    const std::int64_t n = count / 2;
    std::int64_t ok = 0;
    for (std::int64_t i = 0; i < warm; ++i) ok += redeem_checks(wire);
    ok = 0;
    auto t0 = BenchClock::now();
    for (std::int64_t i = 0; i < n; ++i) ok += redeem_checks(wire);
    double sec = seconds_since(t0);
    if (ok != n) die("token: " + std::to_string(n - ok) + " redeem checks failed");
    emit("token.redeem_checks_3caveats_per_s", static_cast<double>(n) / sec, "redeems/s");
  }
}

// crypto_aead_chacha20poly1305_ietf_encrypt (the combined form) of 256 KiB
// messages, the channel's AEAD at File::stream_to's chunk size. The last
// ciphertext is opened and compared, so the figure is for working crypto.
double crypto_bound() {
  if (sodium_init() < 0) die("sodium_init failed");
  constexpr std::size_t kSize = std::size_t{256} << 10;
  std::uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
  std::uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES]{};
  crypto_aead_chacha20poly1305_ietf_keygen(key);
  Bytes in = pattern_block();
  in.resize(kSize);
  Bytes out(kSize + crypto_aead_chacha20poly1305_ietf_ABYTES), back(kSize);
  unsigned long long out_len = 0;
  auto once = [&] {
    sodium_increment(nonce, sizeof nonce);
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &out_len, in.data(), kSize, nullptr, 0, nullptr, nonce, key);
  };
  const std::int64_t warm = scaled<std::int64_t>(200, 4), count = scaled<std::int64_t>(4'096, 40);
  for (std::int64_t i = 0; i < warm; ++i) once();
  auto t0 = BenchClock::now();
  for (std::int64_t i = 0; i < count; ++i) once();
  double sec = seconds_since(t0);
  unsigned long long back_len = 0;
  if (out_len != out.size() ||
      crypto_aead_chacha20poly1305_ietf_decrypt(back.data(), &back_len, nullptr, out.data(), out.size(), nullptr, 0,
                                                nonce, key) != 0 ||
      back != in)
    die("ChaCha20-Poly1305: the last message does not decrypt to its plaintext");
  double mbps = static_cast<double>(count) * kSize / sec / 1e6;
  emit("fs.chacha20poly1305_1core_MBps", mbps, "MB/s");
  return mbps;
}

}  // namespace fs_bench
