// libFuzzer target: the handshake messages a peer sends (spec/handshake.md).
// A genuine initiator and responder (fixed keys, fixed ephemerals where the
// API allows) run the handshake; the fuzzer's bytes are XORed onto the one
// message the mode names (fuzz_common.h), so that all zeros of the right
// length reproduce the genuine message and anything else is a forgery:
//   kNoiseMsg1/2/3  NoiseXK: the responder reads message 1 or 3, the initiator 2.
//   kCaptpMsg1/2    CaptpHandshake (fixed sizes, vatic prologue), messages 1, 2.
//   kCaptpMsg3      a hostile initiator that holds its key but claims the
//                   fuzzer's bytes as its vat id, instance and hello in message 3.
// The oracle: a message is accepted if and only if it is the genuine one, and
// then both ends derive the same transport keys.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "captp/internal/crypto/handshake.h"
#include "captp/internal/crypto/noise.h"
#include "tests/fuzz/fuzz_common.h"

namespace vatic::fuzz {
namespace {

using captp::CaptpHandshake;
using captp::CipherState;
using captp::NoiseXK;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_handshake: expectation failed: %s\n", what);
    std::abort();
  }
}

struct Keys {
  captp::Identity initiator = fixed_identity(kInitiatorSeed);
  captp::Identity responder = fixed_identity(kResponderSeed);
};
const Keys& keys() {
  static const Keys k;
  return k;
}

// Both directions work and agree: what one end seals, the other opens.
void require_same_keys(CipherState i_send, CipherState i_recv, CipherState r_send, CipherState r_recv) {
  const std::uint8_t msg[3] = {'h', 'i', '!'};
  std::uint8_t ct[3 + captp::kNoiseTagBytes], pt[3];
  i_send.encrypt_with_ad({}, msg, ct);
  require(r_recv.decrypt_with_ad({}, ct, pt), "initiator -> responder key agrees");
  r_send.encrypt_with_ad({}, msg, ct);
  require(i_recv.decrypt_with_ad({}, ct, pt), "responder -> initiator key agrees");
}

void noise(int step, std::span<const std::uint8_t> mask) {
  const auto& k = keys();
  const std::uint8_t prologue[] = {'f', 'u', 'z', 'z'};
  NoiseXK i = NoiseXK::initiator(k.initiator.x25519_secret(), prologue, k.responder.x25519_public());
  NoiseXK r = NoiseXK::responder(k.responder.x25519_secret(), prologue);
  i.set_ephemeral_for_test(fixed_key(kInitiatorEphemeral));
  r.set_ephemeral_for_test(fixed_key(kResponderEphemeral));
  auto deliver = [&](NoiseXK& to, const std::vector<std::uint8_t>& genuine, bool fuzzed) {
    if (!fuzzed) {
      require(to.read_message(genuine).has_value(), "a genuine message is accepted");
      return true;
    }
    auto got = to.read_message(xor_onto(genuine, mask));
    require(got.has_value() == is_identity_mask(genuine, mask), "accepted iff genuine");
    if (!got) {
      require(to.failed() && !to.read_message(genuine), "a failed handshake stays failed");
      return false;
    }
    return true;
  };
  if (!deliver(r, i.write_message({}), step == 1)) return;
  if (!deliver(i, r.write_message({}), step == 2)) return;
  if (!deliver(r, i.write_message({}), step == 3)) return;
  require(i.complete() && r.complete(), "three messages complete the handshake");
  require(i.handshake_hash() == r.handshake_hash(), "both ends hash the same transcript");
  require(r.remote_static() == k.initiator.x25519_public(), "the responder learns the initiator's key");
  auto [i1, i2] = i.split();
  auto [r1, r2] = r.split();
  require_same_keys(std::move(i1), std::move(i2), std::move(r2), std::move(r1));
}

void captp_handshake(int step, std::span<const std::uint8_t> mask) {
  const auto& k = keys();
  auto i = CaptpHandshake::initiator(k.initiator, k.responder.id());
  auto r = CaptpHandshake::responder(k.responder);
  auto deliver = [&](CaptpHandshake& to, const std::vector<std::uint8_t>& genuine, bool fuzzed) {
    auto msg = fuzzed ? xor_onto(genuine, mask) : genuine;
    auto read = to.read_message(msg);
    require(read.ok() == (!fuzzed || is_identity_mask(genuine, mask)), "accepted iff genuine");
    if (!read) {
      require(to.failed() && !to.read_message(genuine), "a failed handshake stays failed");
      return false;
    }
    return true;
  };
  if (!deliver(r, i.write_message(), step == 1)) return;
  if (!deliver(i, r.write_message(), step == 2)) return;
  if (!deliver(r, i.write_message(), false)) return;
  require(i.complete() && r.complete(), "three messages complete the handshake");
  auto ri = i.finish();
  auto rr = r.finish();
  require(rr.peer == k.initiator.id() && ri.peer == k.responder.id(), "each end knows the other");
  require(ri.handshake_hash == rr.handshake_hash, "both ends hash the same transcript");
  require_same_keys(std::move(ri.send), std::move(ri.receive), std::move(rr.send), std::move(rr.receive));
}

// Mallory holds the initiator's key and runs Noise herself, so that message 3
// may carry any claim: the responder must accept only the vat id whose key
// she proved, and only in its one encoding.
void claimed_vat_id(std::span<const std::uint8_t> claim) {
  if (claim.size() > 1024) return;  // a Noise message holds at most 64 KiB; 124 bytes are expected
  const auto& k = keys();
  NoiseXK m = NoiseXK::initiator(k.initiator.x25519_secret(), captp::captp_prologue(k.responder.id()),
                                 k.responder.x25519_public());
  auto r = CaptpHandshake::responder(k.responder);
  require(r.read_message(m.write_message({})).ok(), "message 1 is accepted");
  require(m.read_message(r.write_message()).has_value(), "message 2 is accepted");
  bool err = !r.read_message(m.write_message(claim));
  // The claim is the vat id followed by an instance id (any 16 bytes) and a
  // hello (any 12 bytes: negotiation judges it after the handshake).
  const auto& real = k.initiator.id().bytes();
  const bool genuine = claim.size() == real.size() + captp::kInstanceIdBytes + captp::kHelloBytes &&
                       std::equal(real.begin(), real.end(), claim.begin());
  require(!err == genuine, "message 3 is accepted iff it claims the vat id of the key it proves");
  if (!err) {
    auto done = r.finish();
    require(done.peer == k.initiator.id(), "the responder names the initiator by its own vat id");
    require(std::equal(done.peer_instance.bytes.begin(), done.peer_instance.bytes.end(), claim.begin() + real.size()),
            "the responder learns the instance the initiator sent");
    auto hello = done.peer_hello.encode();
    require(std::equal(hello.begin(), hello.end(), claim.begin() + real.size() + captp::kInstanceIdBytes),
            "the responder learns the hello the initiator sent");
  }
}

}  // namespace
}  // namespace vatic::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vatic::fuzz;
  if (size == 0) return 0;
  std::span<const std::uint8_t> in(data + 1, size - 1);
  switch (data[0] % kHandshakeModes) {
    case kNoiseMsg1: noise(1, in); break;
    case kNoiseMsg2: noise(2, in); break;
    case kNoiseMsg3: noise(3, in); break;
    case kCaptpMsg1: captp_handshake(1, in); break;
    case kCaptpMsg2: captp_handshake(2, in); break;
    case kCaptpMsg3: claimed_vat_id(in); break;
  }
  return 0;
}
