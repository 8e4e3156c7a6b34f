// libFuzzer target: a CapTP session fed by a hostile peer. Each chunk of the
// input (fuzz_common.h) is the plaintext payload of one data frame, sealed
// with the key the victim's channel opens with, written to a memory pipe, and
// read by a real SecureChannel and Session (keyed directly, no handshake) in
// front of a bootstrap object; the victim's vat runs until idle after each
// frame, so answers, returns and GC interleave with the input as they would.
//
//   fuzzer --FrameSealer--> memory pipe --> SecureChannel --> Session --> FuzzEcho (bootstrap)
//
// Checks beyond the sanitizers: the session ends exactly once, with every
// table empty, and once the bootstrap object dropped what it keeps, every
// object of the vat is freed (nothing the peer did leaks through the session).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include <boost/asio/buffer.hpp>

#include "captp/internal/net/channel.h"
#include "captp/internal/session.h"
#include "captp/memory_pipe.h"
#include "tests/fuzz/fuzz_common.h"
#include "vat/vatic.h"

namespace vatic::fuzz {
namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_session: expectation failed: %s\n", what);
    std::abort();
  }
}

class Leaf : public Object {
 public:
  explicit Leaf(int depth) : depth_(depth) {}
  int depth() const { return depth_; }
  std::int64_t echo(std::int64_t x) { return x; }
  VATIC_METHODS(Leaf, depth, echo)

 private:
  int depth_;
};

// The methods make_seeds.cpp calls: data, references both ways, promises
// exported pending, pipelining into records, errors.
class FuzzEcho : public Object {
 public:
  std::int64_t echo(std::int64_t x) { return x; }
  void boom() { throw std::runtime_error("boom"); }
  Ref<Leaf> next() { return vat().make<Leaf>(1); }
  Value pair() {
    Record r;
    r.label = "pair";
    r.fields.emplace_back("left", to_value(vat().make<Leaf>(10)));
    r.fields.emplace_back("n", Value(7));
    return Value(std::move(r));
  }
  Bytes data(std::uint32_t n) { return Bytes(std::min<std::uint32_t>(n, 4096), 0x5a); }
  void hold(Ref<FuzzEcho> r) { held_ = std::move(r); }
  Promise<std::int64_t> call_held(std::int64_t x) { return held_.send<&FuzzEcho::echo>(x); }
  Ref<FuzzEcho> held() const { return held_; }
  Ref<FuzzEcho> same(Ref<FuzzEcho> r) { return r; }
  Promise<Ref<FuzzEcho>> later() {
    auto [p, r] = make_promise<Ref<FuzzEcho>>();
    later_ = std::move(r);
    return p;
  }
  void resolve_later(Ref<FuzzEcho> to) { later_.resolve(std::move(to)); }
  // The harness's, after the session: an application dropping what it keeps.
  void reset() {
    held_ = {};
    later_ = {};
  }
  VATIC_METHODS(FuzzEcho, echo, boom, next, pair, data, hold, call_held, held, same, later, resolve_later, reset)

 private:
  Ref<FuzzEcho> held_;
  Resolver<Ref<FuzzEcho>> later_;
};

const captp::VatId& mallory() {
  static const captp::VatId id = fixed_identity(kMalloryIdentity).id();
  return id;
}

void run(std::span<const std::uint8_t> input) {
  Vat vat(VatOptions{.name = "victim", .spin_before_block = Duration::zero()});
  auto [raw, end] = captp::memory_pipe(vat.io(), vat.io());
  captp::SecureChannel::Keys keys{captp::FrameSealer(captp::CipherState(fixed_key(kSessionKeyOut))),
                                  captp::FrameOpener(captp::CipherState(fixed_key(kSessionKeyIn))), mallory(), false};
  auto channel =
      std::make_shared<captp::SecureChannel>(vat.io(), std::move(end), std::move(keys), captp::ChannelOptions{});
  Ref<FuzzEcho> boot = vat.make<FuzzEcho>();
  auto session =
      detail::make_ptr<captp::Session>(vat, channel, detail::RefAccess::handler(boot), captp::SessionOptions{});
  int closed = 0;
  session->start([&closed](const Error&) { ++closed; });

  captp::FrameSealer sealer(captp::CipherState(fixed_key(kSessionKeyIn)));
  std::vector<std::shared_ptr<Bytes>> frames;  // alive until written
  Chunks chunks(input);
  while (auto c = chunks.next()) {
    if (c->empty()) continue;  // the channel drops empty data frames before the session
    auto frame = std::make_shared<Bytes>();
    sealer.seal(captp::FrameKind::data, *c, *frame);
    raw->async_write({boost::asio::buffer(*frame)}, [frame](boost::system::error_code, std::size_t) {});
    vat.run_until_idle();
    if (!session->is_open()) break;
  }
  raw->close();  // the victim reads EOF: the session ends if it had not
  for (int i = 0; i < 100 && closed == 0; ++i) vat.run_until_idle();
  require(closed == 1, "the session ends exactly once");
  require(!session->is_open(), "an ended session says so");
  auto s = session->stats();
  require(s.exports == 0 && s.imports == 0 && s.questions == 0 && s.answers == 0 && s.embargoes == 0,
          "an ended session holds nothing");

  boot.send<&FuzzEcho::reset>();
  vat.run_until_idle();
  boot = {};
  session.reset();
  channel.reset();
  raw.reset();
  for (int i = 0; i < 10; ++i) vat.run_until_idle();
  require(vat.live_objects() == 0, "every object is freed once nothing holds it");
}

}  // namespace
}  // namespace vatic::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  vatic::fuzz::run({data + 1, size - 1});  // byte 0: the mode, of which there is one
  return 0;
}
