// The simulated network: N vats, each with its captp::Node, in one thread, over
// simulated links, under one seeded scheduler (FoundationDB's idea, on the
// vats' own ManualClock). Every source of nondeterminism is the scheduler's:
// which vat runs next, which link delivers next and how many bytes, when the
// clock moves, and which fault strikes. libsodium's randomness (identities,
// handshake keys, nonces) is replaced by a stream seeded per run, so the same
// seed gives the same bytes on every link and the same trace hash.
//
// A link is one byte stream per direction, FIFO like a stream socket, with a
// delay drawn per write; a delivery moves a prefix of the head write (any
// size: the channel must reassemble frames cut anywhere). Faults: cut a link
// (both ends see a reset, bytes in flight are lost), crash a vat (its node and
// objects are gone, its links reset), restart it (same identity, a new
// instance) and link it again.
//
// With `dial`, each vat also "listens" on a sim address (unix:/sim/v<i>),
// announces it (spec/captp.md 11, H1), and dials through the net: a dial
// (NodeOptions::connector) is one more event of the scheduler, completed
// after a drawn delay by a new link to the vat at that address, or refused
// when that vat is down, or failed when a cut between the two strikes first
// (or, rarely, for no reason: a hint that leads nowhere). The handshake and
// the crossed-dial rule then run as for any link.
//
// An outsider (sim_hostile.h) is a vat the net runs but does not own: a
// loop the scheduler turns like a vat's, and links from it to the vats,
// numbered size() in the trace. A net without one draws as it always did.
//
// Test-only: the deterministic randomness makes every key predictable. It is
// installed by this library's static initializer, so it must never be linked
// into anything but simulation binaries.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "captp/node.h"
#include "vat/clock.h"
#include "vat/vat.h"

namespace vatic::sim {

// Where every choice of a run comes from: a seeded generator, or the bytes of
// a fuzz input (the libFuzzer target steers the scheduler with them).
class Chooser {
 public:
  virtual ~Chooser() = default;
  // Uniform in [0, n); n > 0.
  virtual std::uint64_t below(std::uint64_t n) = 0;
  bool chance(std::uint32_t percent) { return below(100) < percent; }
  template <class V>
  auto& pick(V& v) {
    return v[below(v.size())];
  }
};

// xoshiro256** seeded through splitmix64: the same sequence on every platform
// (std:: distributions are not).
class SeededChooser final : public Chooser {
 public:
  explicit SeededChooser(std::uint64_t seed);
  std::uint64_t below(std::uint64_t n) override;

 private:
  std::uint64_t next();
  std::uint64_t s_[4];
};

// Choices read from a byte string; zeros once it runs out.
class BytesChooser final : public Chooser {
 public:
  BytesChooser(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint64_t below(std::uint64_t n) override;

 private:
  const std::uint8_t* data_;
  std::size_t size_, at_ = 0;
};

// Restarts libsodium's (replaced) randomness from `seed`.
void reseed_randomness(std::uint64_t seed);

// The trace: a running hash of everything that happened, and the last events
// in words for a failure report.
class Trace {
 public:
  void add(const std::string& event);
  void mix(const void* data, std::size_t n);
  std::uint64_t hash() const noexcept { return hash_; }
  std::uint64_t events() const noexcept { return events_; }
  // The last `n` events, one per line.
  std::string tail(std::size_t n) const;
  bool verbose = false;  // also print each event as it happens

 private:
  std::uint64_t hash_ = 14695981039346656037ull;
  std::uint64_t events_ = 0;
  std::deque<std::string> recent_;
};

struct NetConfig {
  std::size_t vats = 3;
  // Per write, drawn uniformly in [0, max_delay].
  Duration max_delay = std::chrono::microseconds(300);
  captp::NodeOptions node;
  // Turns and deliveries one run may spend. A run that spends more is
  // livelocked (messages circling between vats, a turn that schedules itself):
  // it fails with Livelock instead of hanging the seed loop.
  std::uint64_t work_budget = 200'000;
  // Vats announce a sim address and dial each other through the net (above).
  bool dial = false;
  // Adjusts `node` for one vat, at each of its starts (options drawn per vat).
  std::function<void(std::size_t vat, captp::NodeOptions&)> configure;
};

// Thrown out of the scheduler when a run has spent its work budget.
struct Livelock : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Link;

// One simulated vat: its Vat, its Node, and whether it is up.
struct SimVat {
  std::size_t index = 0;
  std::string name;
  std::optional<captp::Identity> identity;
  std::unique_ptr<Vat> vat;
  std::unique_ptr<captp::Node> node;
  std::uint32_t incarnation = 0;
  bool up() const noexcept { return static_cast<bool>(node); }
};

class Net {
 public:
  // Called when a vat (re)starts, before any link: set its bootstrap here.
  using OnStart = std::function<void(SimVat&)>;

  Net(NetConfig config, Chooser& choose, Trace& trace, OnStart on_start);
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;
  ~Net();

  std::size_t size() const noexcept { return vats_.size(); }
  SimVat& at(std::size_t i) { return *vats_.at(i); }
  ManualClock& clock() noexcept { return clock_; }

  // Joins vats `a` and `b` with a new link: `a` dials, `b` accepts; with
  // `crossed`, both dial at once over two links (the crossed-dial case).
  // Returns each side's bootstrap reference to the other (a promise).
  std::pair<Ref<Object>, Ref<Object>> join(std::size_t a, std::size_t b, bool crossed);
  bool linked(std::size_t a, std::size_t b) const;
  const NetConfig& config() const noexcept { return config_; }

  // The outsider (above): its loop joins the scheduler's draws from now on.
  void set_outsider(Vat* loop) { outsider_ = loop; }
  // Before the outsider's loop goes: its links are cut and drop the handlers
  // they hold (which may hold its channels and their alarms), as a crash does
  // for a vat; the scheduler forgets its loop.
  void detach_outsider();
  // A new link from the outsider to vat `to`, whose node accepts it; the
  // outsider's end (its completions run on the outsider's loop).
  std::unique_ptr<captp::Stream> attach(std::size_t to);
  // Vat `v`'s bootstrap reference to the outsider `id`, over the session the
  // outsider opened (a Node reuses an open session: the spare stream is
  // dropped unused). Null if there is no such session.
  Ref<Object> outsider_bootstrap(std::size_t v, const VatId& id);
  // Whether a session's transport is a link of the outsider's.
  bool outsider_link(const std::string& transport) const;
  // The address vat `v` is dialled at (with NetConfig::dial).
  static captp::Address address_of(std::size_t v);
  std::uint64_t dials() const noexcept { return dials_made_; }

  // One scheduler step: runs a vat, delivers on a link, or moves the clock.
  // False when nothing at all was left to do and the clock did not move.
  bool step();
  // Runs every vat and delivers every byte, moving the clock by `tick` when
  // idle, until `done()` or `limit` of simulated time passed; true if done().
  bool settle(const std::function<bool()>& done, Duration tick, Duration limit);
  // Runs until nothing moves without advancing the clock.
  void quiesce();

  // Faults.
  void cut(std::size_t a, std::size_t b);  // every link between a and b
  void crash(std::size_t v);
  void restart(std::size_t v);

  // Links that are up (not cut, both ends open): the transport a session close
  // names lets a test tell a fault from an abort.
  bool link_faulted(const std::string& transport) const;
  std::uint64_t faults() const noexcept { return faults_; }
  // Turns run and deliveries made so far (what the work budget counts).
  std::uint64_t work() const noexcept { return work_; }
  // Every session's tables and every link's bytes, for a failure report.
  std::string describe_state() const;

 private:
  // A dial under way (NetConfig::dial): `done` runs on the dialer's loop.
  struct Dial {
    std::size_t from = 0;
    std::uint32_t incarnation = 0;  // the dialer's: a crash forgets the dial
    std::optional<std::size_t> to;  // the vat at the address, if any
    TimePoint ready;
    captp::NodeOptions::StreamDone done;
  };

  void start_vat(SimVat& v);
  // A new link, `from` dialling `to`: the two ends.
  std::pair<std::unique_ptr<captp::Stream>, std::unique_ptr<captp::Stream>> make_link(std::size_t from, std::size_t to);
  void start_dial(std::size_t from, const captp::Address& at, captp::NodeOptions::StreamDone done);
  // Completes the dial at `k` of dials_ (connects, or fails with `error`).
  void finish_dial(std::size_t k, boost::system::error_code error);
  // Completes one dial whose time came, if any: with `draw`, only by a draw
  // (so that a run without dials draws as before).
  bool complete_ready_dial(bool draw);
  std::optional<TimePoint> next_event() const;
  bool deliver_one(std::vector<std::shared_ptr<Link>>& ready);
  std::vector<std::shared_ptr<Link>> ready_links() const;
  // Runs `v` until idle within what is left of the budget; counts its turns.
  std::size_t run_vat(SimVat& v) { return run_loop(*v.vat, v.name); }
  std::size_t run_loop(Vat& loop, const std::string& name);
  void charge(std::uint64_t n, std::string_view where);

  NetConfig config_;
  Chooser& choose_;
  Trace& trace_;
  OnStart on_start_;
  ManualClock clock_;
  std::vector<std::unique_ptr<SimVat>> vats_;
  std::vector<std::shared_ptr<Link>> links_;
  std::vector<Dial> dials_;
  Vat* outsider_ = nullptr;
  std::uint64_t next_link_ = 0, faults_ = 0, work_ = 0, dials_made_ = 0;
};

}  // namespace vatic::sim
