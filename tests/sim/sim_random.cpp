// The simulation's sources of choice: the seeded generator, the fuzz-input
// reader, the replaced libsodium randomness, and the trace.
#include <sodium.h>

#include <cstring>

#include "tests/sim/sim_net.h"
#include "vat/secret.h"
#include "vat/vat_id.h"

namespace vatic::sim {

namespace {

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// libsodium's randomness, replaced: ChaCha20 keystream blocks under a key
// derived from the run's seed and a block counter. Deterministic on purpose;
// see sim_net.h.
struct Stream {
  std::uint8_t key[randombytes_SEEDBYTES]{};
  std::uint64_t counter = 0;

  void seed(std::uint64_t s) {
    std::memset(key, 0, sizeof key);
    std::memcpy(key, &s, sizeof s);
    counter = 0;
  }
  void fill(void* out, std::size_t n) {
    // Each request gets its own block key: BLAKE2b(key || counter).
    std::uint8_t block_key[randombytes_SEEDBYTES];
    std::uint8_t in[sizeof key + sizeof counter];
    std::memcpy(in, key, sizeof key);
    std::memcpy(in + sizeof key, &counter, sizeof counter);
    ++counter;
    crypto_generichash(block_key, sizeof block_key, in, sizeof in, nullptr, 0);
    randombytes_buf_deterministic(out, n, block_key);
  }
};

Stream& stream() {
  static Stream s;
  return s;
}

const char* impl_name() { return "vatic-sim-deterministic"; }
std::uint32_t impl_random() {
  std::uint32_t r;
  stream().fill(&r, sizeof r);
  return r;
}
void impl_stir() {}
void impl_buf(void* out, std::size_t n) { stream().fill(out, n); }
int impl_close() { return 0; }

randombytes_implementation deterministic_impl = {impl_name, impl_random, impl_stir, nullptr, impl_buf, impl_close};

// Installed before main(), and so before the first sodium_init(); the keyed
// VatId hash draws its key at once, from a fixed seed, so that hash tables
// iterate alike in every process that replays a seed.
struct Install {
  Install() {
    randombytes_set_implementation(&deterministic_impl);
    ensure_sodium();
    stream().seed(0);
    (void)std::hash<VatId>{}(captp::Identity::generate().id());
  }
} install;

}  // namespace

void reseed_randomness(std::uint64_t seed) { stream().seed(seed ^ 0x5eed5eed5eed5eedull); }

SeededChooser::SeededChooser(std::uint64_t seed) {
  for (auto& s : s_) s = splitmix(seed);
}

std::uint64_t SeededChooser::next() {
  auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  std::uint64_t result = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t SeededChooser::below(std::uint64_t n) {
  // The modulo bias is below 2^-40 for the n used here.
  return next() % n;
}

std::uint64_t BytesChooser::below(std::uint64_t n) {
  std::uint64_t v = 0;
  for (std::uint64_t span = n - 1; span > 0; span >>= 8) v = (v << 8) | (at_ < size_ ? data_[at_++] : 0);
  return n ? v % n : 0;
}

void Trace::mix(const void* data, std::size_t n) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i < n; ++i) hash_ = (hash_ ^ p[i]) * 1099511628211ull;
}

void Trace::add(const std::string& event) {
  mix(event.data(), event.size());
  mix("\n", 1);
  ++events_;
  if (verbose) std::fprintf(stderr, "  %s\n", event.c_str());
  recent_.push_back(event);
  if (recent_.size() > 400) recent_.pop_front();
}

std::string Trace::tail(std::size_t n) const {
  std::string out;
  std::size_t from = recent_.size() > n ? recent_.size() - n : 0;
  for (std::size_t i = from; i < recent_.size(); ++i) out += "  " + recent_[i] + "\n";
  return out;
}

}  // namespace vatic::sim
