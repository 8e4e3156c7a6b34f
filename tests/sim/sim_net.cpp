#include "tests/sim/sim_net.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace vatic::sim {

namespace {

boost::system::error_code reset_error() { return boost::asio::error::connection_reset; }

}  // namespace

// One simulated stream-socket pair. Direction d carries what side d writes to
// side 1-d: first in flight (written, not yet delivered), then in the reader's
// inbox (delivered, not yet read).
class Link : public std::enable_shared_from_this<Link> {
 public:
  struct Chunk {
    std::vector<std::uint8_t> bytes;
    std::size_t at = 0;
    TimePoint ready;
  };
  struct Direction {
    std::deque<Chunk> flight;
    std::vector<std::uint8_t> inbox;
    std::size_t inbox_at = 0;
    bool writer_closed = false;
  };
  class End;

  Link(std::uint64_t id, std::size_t a, std::size_t b) : id(id), vats{a, b} {}

  std::string describe(int side) const { return fmt::format("sim link {} {}->{}", id, vats[side], vats[1 - side]); }
  bool head_ready(int d, TimePoint now) const { return !dir[d].flight.empty() && dir[d].flight.front().ready <= now; }
  std::optional<TimePoint> next_ready() const {
    std::optional<TimePoint> t;
    for (int d = 0; d < 2; ++d)
      if (!dir[d].flight.empty() && (!t || dir[d].flight.front().ready < *t)) t = dir[d].flight.front().ready;
    return t;
  }

  // Moves up to `n` bytes of direction d's head write to the reader.
  std::size_t deliver(int d, std::size_t n, Trace& trace);
  // Both ends see a reset; bytes in flight are lost.
  void cut();
  // Completes side s's pending read if it can be.
  void pump(int s);
  bool dead() const { return reset || (!ends[0] && !ends[1]); }
  // What destroying an io_context does to a socket's pending operations: their
  // handlers (which hold the channel that owns the end: a cycle) go.
  void shut_down();

  std::uint64_t id;
  std::size_t vats[2];
  Direction dir[2];
  End* ends[2] = {nullptr, nullptr};
  bool reset = false;
};

class Link::End final : public captp::Stream {
 public:
  End(std::shared_ptr<Link> link, int side, boost::asio::io_context& io)
      : link_(std::move(link)), side_(side), io_(io) {
    link_->ends[side_] = this;
  }
  ~End() override {
    close();
    link_->ends[side_] = nullptr;
  }

  void async_read_some(boost::asio::mutable_buffer buffer, captp::IoHandler handler) override {
    if (closed_) return complete(std::move(handler), boost::asio::error::operation_aborted, 0);
    read_buf_ = buffer;
    read_handler_ = std::move(handler);
    link_->pump(side_);
  }
  void async_write(std::vector<boost::asio::const_buffer> buffers, captp::IoHandler handler) override {
    if (closed_) return complete(std::move(handler), boost::asio::error::operation_aborted, 0);
    if (link_->reset) return complete(std::move(handler), reset_error(), 0);
    Link::Chunk c;
    for (auto& b : buffers) {
      const auto* p = static_cast<const std::uint8_t*>(b.data());
      c.bytes.insert(c.bytes.end(), p, p + b.size());
    }
    std::size_t n = c.bytes.size();
    if (!link_->ends[1 - side_]) return complete(std::move(handler), boost::asio::error::broken_pipe, 0);
    c.ready = ready_at_();
    if (n) link_->dir[side_].flight.push_back(std::move(c));
    complete(std::move(handler), {}, n);
  }
  void close() override {
    if (closed_) return;
    closed_ = true;
    link_->dir[side_].writer_closed = true;
    if (read_handler_) complete(std::exchange(read_handler_, nullptr), boost::asio::error::operation_aborted, 0);
    // The reader on the other side sees EOF once what was written arrived.
    link_->pump(1 - side_);
  }
  std::string describe() const override { return link_->describe(side_); }

  // The time a write made now becomes deliverable (the net draws delays).
  std::function<TimePoint()> ready_at_;

  void drop_handlers() {
    // Dropping the handler can free the channel and with it this end: touch
    // nothing after.
    captp::IoHandler gone = std::exchange(read_handler_, nullptr);
  }

  // Called by the link: completes the pending read if data, EOF or a reset is there.
  void pump() {
    if (!read_handler_) return;
    Direction& in = link_->dir[1 - side_];
    if (link_->reset) return complete(std::exchange(read_handler_, nullptr), reset_error(), 0);
    std::size_t avail = in.inbox.size() - in.inbox_at;
    if (avail > 0) {
      std::size_t n = std::min(avail, read_buf_.size());
      std::memcpy(read_buf_.data(), in.inbox.data() + in.inbox_at, n);
      in.inbox_at += n;
      if (in.inbox_at == in.inbox.size()) {
        in.inbox.clear();
        in.inbox_at = 0;
      }
      return complete(std::exchange(read_handler_, nullptr), {}, n);
    }
    if (in.writer_closed && in.flight.empty())
      return complete(std::exchange(read_handler_, nullptr), boost::asio::error::eof, 0);
  }

 private:
  // Completions run later on the owning vat's loop, never inline (Stream's contract).
  void complete(captp::IoHandler h, boost::system::error_code ec, std::size_t n) {
    boost::asio::post(io_, [h = std::move(h), ec, n] { h(ec, n); });
  }

  std::shared_ptr<Link> link_;
  int side_;
  boost::asio::io_context& io_;
  bool closed_ = false;
  boost::asio::mutable_buffer read_buf_;
  captp::IoHandler read_handler_;
};

std::size_t Link::deliver(int d, std::size_t n, Trace& trace) {
  Chunk& c = dir[d].flight.front();
  n = std::min(n, c.bytes.size() - c.at);
  trace.add(fmt::format("deliver link {} {}->{} {}B", id, vats[d], vats[1 - d], n));
  trace.mix(c.bytes.data() + c.at, n);
  dir[d].inbox.insert(dir[d].inbox.end(), c.bytes.begin() + static_cast<std::ptrdiff_t>(c.at),
                      c.bytes.begin() + static_cast<std::ptrdiff_t>(c.at + n));
  c.at += n;
  if (c.at == c.bytes.size()) dir[d].flight.pop_front();
  pump(1 - d);
  return n;
}

void Link::pump(int s) {
  if (ends[s]) ends[s]->pump();
}

void Link::shut_down() {
  for (End* e : ends)
    if (e) e->drop_handlers();
}

void Link::cut() {
  if (reset) return;
  reset = true;
  for (auto& d : dir) {
    d.flight.clear();
    d.inbox.clear();
    d.inbox_at = 0;
  }
  pump(0);
  pump(1);
}

Net::Net(NetConfig config, Chooser& choose, Trace& trace, OnStart on_start)
    : config_(std::move(config)), choose_(choose), trace_(trace), on_start_(std::move(on_start)) {
  for (std::size_t i = 0; i < config_.vats; ++i) {
    auto v = std::make_unique<SimVat>();
    v->index = i;
    v->name = fmt::format("v{}", i);
    v->identity = captp::Identity::generate();
    vats_.push_back(std::move(v));
  }
  for (auto& v : vats_) start_vat(*v);
}

Net::~Net() {
  dials_.clear();
  // Every node first (their sessions close over links that still exist), then
  // the vats, releasing all before freeing any.
  for (auto& v : vats_) v->node.reset();
  for (auto& l : links_) l->shut_down();
  for (auto& v : vats_)
    if (v->vat) v->vat->release();
  for (auto& v : vats_) v->vat.reset();
}

void Net::start_vat(SimVat& v) {
  ++v.incarnation;
  v.vat = std::make_unique<Vat>(VatOptions{
      .name = fmt::format("{}.{}", v.name, v.incarnation), .clock = &clock_, .spin_before_block = Duration::zero()});
  captp::NodeOptions options = config_.node;
  if (config_.dial) {
    options.announce = {address_of(v.index)};
    options.connector = [this, from = v.index](const captp::Address& at, captp::NodeOptions::StreamDone done) {
      start_dial(from, at, std::move(done));
    };
  }
  if (config_.configure) config_.configure(v.index, options);
  v.node = std::make_unique<captp::Node>(*v.vat, captp::Identity::from_seed(v.identity->seed()), options);
  trace_.add(fmt::format("start {} incarnation {}", v.name, v.incarnation));
  if (on_start_) on_start_(v);
}

std::pair<std::unique_ptr<captp::Stream>, std::unique_ptr<captp::Stream>> Net::make_link(std::size_t from,
                                                                                         std::size_t to) {
  auto link = std::make_shared<Link>(next_link_++, from, to);
  links_.push_back(link);
  auto e0 = std::make_unique<Link::End>(link, 0, at(from).vat->io());
  auto e1 = std::make_unique<Link::End>(link, 1, at(to).vat->io());
  for (auto* e : {e0.get(), e1.get()})
    e->ready_at_ = [this] {
      auto delay = Duration(static_cast<Duration::rep>(choose_.below(config_.max_delay.count() + 1)));
      return clock_.now() + delay;
    };
  return std::pair{std::move(e0), std::move(e1)};
}

captp::Address Net::address_of(std::size_t v) { return captp::Address::unix_socket(fmt::format("/sim/v{}", v)); }

void Net::start_dial(std::size_t from, const captp::Address& where, captp::NodeOptions::StreamDone done) {
  Dial d{from, at(from).incarnation, std::nullopt, {}, std::move(done)};
  for (std::size_t i = 0; i < vats_.size(); ++i)
    if (address_of(i) == where) d.to = i;
  d.ready = clock_.now() + Duration(static_cast<Duration::rep>(choose_.below(config_.max_delay.count() + 1)));
  ++dials_made_;
  trace_.add(fmt::format("dial {} -> {}", from, where.to_string()));
  dials_.push_back(std::move(d));
}

void Net::finish_dial(std::size_t k, boost::system::error_code error) {
  Dial d = std::move(dials_[k]);
  dials_.erase(dials_.begin() + static_cast<std::ptrdiff_t>(k));
  SimVat& from = at(d.from);
  // A dialer that crashed since forgot its dial.
  if (!from.up() || from.incarnation != d.incarnation) return;
  if (!error && (!d.to || !at(*d.to).up())) error = boost::asio::error::connection_refused;
  std::unique_ptr<captp::Stream> mine;
  if (!error) {
    auto [e_from, e_to] = make_link(d.from, *d.to);
    trace_.add(fmt::format("dial {} -> {} connected: link {}", d.from, *d.to, next_link_ - 1));
    at(*d.to).node->accept(std::move(e_to));
    mine = std::move(e_from);
  } else {
    trace_.add(
        fmt::format("dial {} -> {} failed: {}", d.from, d.to ? fmt::format("v{}", *d.to) : "nowhere", error.message()));
  }
  // On the dialer's loop, later (NodeOptions::connector's contract).
  boost::asio::post(from.vat->io(),
                    [done = std::move(d.done), error, s = std::move(mine)]() mutable { done(error, std::move(s)); });
}

bool Net::complete_ready_dial(bool draw) {
  std::vector<std::size_t> ready;
  for (std::size_t k = 0; k < dials_.size(); ++k)
    if (dials_[k].ready <= clock_.now()) ready.push_back(k);
  if (ready.empty() || (draw && !choose_.chance(50))) return false;
  std::size_t k = choose_.pick(ready);
  charge(1, "dials");
  // Rarely a hint leads nowhere for no reason the net shows.
  finish_dial(k, choose_.chance(5) ? boost::asio::error::host_unreachable : boost::system::error_code{});
  return true;
}

std::optional<TimePoint> Net::next_event() const {
  std::optional<TimePoint> next;
  for (auto& l : links_)
    if (auto t = l->next_ready(); t && (!next || *t < *next)) next = t;
  for (auto& d : dials_)
    if (!next || d.ready < *next) next = d.ready;
  return next;
}

std::pair<Ref<Object>, Ref<Object>> Net::join(std::size_t a, std::size_t b, bool crossed) {
  SimVat& va = at(a);
  SimVat& vb = at(b);
  trace_.add(fmt::format("join {} {}{}", a, b, crossed ? " crossed" : ""));
  Ref<Object> ab, ba;
  {
    auto [ea, eb] = make_link(a, b);
    vb.node->accept(std::move(eb));
    ab = va.node->connect(vb.identity->id(), std::move(ea));
  }
  if (crossed) {
    auto [eb, ea] = make_link(b, a);
    va.node->accept(std::move(ea));
    ba = vb.node->connect(va.identity->id(), std::move(eb));
  } else {
    // The acceptor reaches the dialer's bootstrap over the session the dial
    // opens: wait for it, then ask (the spare stream is dropped unused).
    const VatId& aid = va.identity->id();
    settle(
        [&] {
          for (auto& s : vb.node->sessions())
            if (s.peer == aid && s.open) return true;
          return !vb.up() || !va.up();
        },
        std::chrono::microseconds(100), std::chrono::seconds(20));
    auto [spare_b, spare_a] = make_link(b, a);
    spare_a.reset();
    ba = vb.node->connect(aid, std::move(spare_b));
  }
  return {ab, ba};
}

bool Net::linked(std::size_t a, std::size_t b) const {
  for (auto& l : links_)
    if (!l->dead() && ((l->vats[0] == a && l->vats[1] == b) || (l->vats[0] == b && l->vats[1] == a))) return true;
  return false;
}

std::vector<std::shared_ptr<Link>> Net::ready_links() const {
  std::vector<std::shared_ptr<Link>> out;
  TimePoint now = clock_.now();
  for (auto& l : links_)
    if (l->head_ready(0, now) || l->head_ready(1, now)) out.push_back(l);
  return out;
}

bool Net::deliver_one(std::vector<std::shared_ptr<Link>>& ready) {
  if (ready.empty()) return false;
  Link& l = *choose_.pick(ready);
  TimePoint now = clock_.now();
  int d = l.head_ready(0, now) && l.head_ready(1, now) ? static_cast<int>(choose_.below(2))
          : l.head_ready(0, now)                       ? 0
                                                       : 1;
  std::size_t left = l.dir[d].flight.front().bytes.size() - l.dir[d].flight.front().at;
  // Mostly whole writes; sometimes a cut anywhere, down to one byte.
  std::size_t n = choose_.chance(70) ? left : 1 + choose_.below(left);
  charge(1, "link deliveries");
  l.deliver(d, n, trace_);
  return true;
}

bool Net::step() {
  // Forget links that are dead and empty.
  std::erase_if(links_, [](const std::shared_ptr<Link>& l) {
    return l->dead() && l->dir[0].flight.empty() && l->dir[1].flight.empty();
  });
  if (complete_ready_dial(/*draw=*/true)) return true;
  auto ready = ready_links();
  if (!ready.empty() && choose_.chance(50)) return deliver_one(ready);
  std::vector<SimVat*> up;
  for (auto& v : vats_)
    if (v->up()) up.push_back(v.get());
  // The outsider is one more choice, drawn only when there is one.
  std::size_t runnable = up.size() + (outsider_ ? 1 : 0);
  if (runnable > 0 && choose_.chance(90)) {
    std::size_t k = choose_.below(runnable);
    if (k == up.size()) {
      std::size_t turns = run_loop(*outsider_, "outsider");
      if (turns) trace_.add(fmt::format("run outsider {} turns", turns));
      return true;
    }
    SimVat& v = *up[k];
    std::size_t turns = run_vat(v);
    if (turns) trace_.add(fmt::format("run {} {} turns", v.name, turns));
    return true;
  }
  if (!ready.empty()) return deliver_one(ready);
  if (complete_ready_dial(/*draw=*/false)) return true;
  // Time moves: to the next write in flight or dial, or by a little.
  std::optional<TimePoint> next = next_event();
  Duration d = next ? *next - clock_.now() : Duration(static_cast<Duration::rep>(choose_.below(2'000'000)));
  if (d <= Duration::zero()) d = Duration(1000);
  clock_.advance(d);
  trace_.add(fmt::format("advance {}ns", d.count()));
  return true;
}

void Net::quiesce() {
  for (int round = 0; round < 100000; ++round) {
    bool moved = false;
    for (auto& v : vats_)
      if (v->up() && run_vat(*v) > 0) moved = true;
    if (outsider_ && run_loop(*outsider_, "outsider") > 0) moved = true;
    TimePoint now = clock_.now();
    for (auto& l : links_)
      for (int d = 0; d < 2; ++d)
        while (l->head_ready(d, now)) {
          charge(1, "link deliveries");
          l->deliver(d, l->dir[d].flight.front().bytes.size() - l->dir[d].flight.front().at, trace_);
          moved = true;
        }
    while (complete_ready_dial(/*draw=*/false)) moved = true;
    if (!moved) {
      // One more quiet round: a vat can have been handed bytes without a turn.
      bool again = false;
      for (auto& v : vats_)
        if (v->up() && run_vat(*v) > 0) again = true;
      if (outsider_ && run_loop(*outsider_, "outsider") > 0) again = true;
      if (!again && ready_links().empty()) return;
    }
  }
}

std::size_t Net::run_loop(Vat& loop, const std::string& name) {
  std::uint64_t left = work_ < config_.work_budget ? config_.work_budget - work_ : 0;
  std::size_t turns = loop.run_until_idle(static_cast<std::size_t>(left) + 1);
  charge(turns, name + "'s turns");
  return turns;
}

std::unique_ptr<captp::Stream> Net::attach(std::size_t to) {
  auto link = std::make_shared<Link>(next_link_++, size(), to);
  links_.push_back(link);
  auto mine = std::make_unique<Link::End>(link, 0, outsider_->io());
  auto theirs = std::make_unique<Link::End>(link, 1, at(to).vat->io());
  for (auto* e : {mine.get(), theirs.get()})
    e->ready_at_ = [this] {
      auto delay = Duration(static_cast<Duration::rep>(choose_.below(config_.max_delay.count() + 1)));
      return clock_.now() + delay;
    };
  trace_.add(fmt::format("outsider attaches to v{}: link {}", to, link->id));
  at(to).node->accept(std::move(theirs));
  return mine;
}

void Net::detach_outsider() {
  for (auto& l : links_)
    if (l->vats[0] == size()) l->cut();
  for (auto& l : links_)
    if (l->vats[0] == size()) l->shut_down();
  outsider_ = nullptr;
}

Ref<Object> Net::outsider_bootstrap(std::size_t v, const VatId& id) {
  bool open = false;
  for (auto& s : at(v).node->sessions()) open = open || (s.peer == id && s.open);
  if (!open) return {};
  auto [spare, gone] = make_link(v, v);
  gone.reset();
  return at(v).node->connect(id, std::move(spare));
}

bool Net::outsider_link(const std::string& transport) const {
  for (auto& l : links_)
    if (l->vats[0] == size() && (l->describe(0) == transport || l->describe(1) == transport)) return true;
  return false;
}

void Net::charge(std::uint64_t n, std::string_view where) {
  work_ += n;
  if (work_ > config_.work_budget)
    throw Livelock(fmt::format("livelock: the run spent its budget of {} turns and deliveries (the last in {}) at {}ns",
                               config_.work_budget, where, clock_.now().time_since_epoch().count()));
}

bool Net::settle(const std::function<bool()>& done, Duration tick, Duration limit) {
  TimePoint end = clock_.now() + limit;
  for (;;) {
    quiesce();
    if (done()) return true;
    if (clock_.now() >= end) return false;
    std::optional<TimePoint> next = next_event();
    Duration d = next && *next - clock_.now() < tick ? *next - clock_.now() : tick;
    clock_.advance(std::max(d, Duration(1)));
  }
}

void Net::cut(std::size_t a, std::size_t b) {
  for (auto& l : links_)
    if (!l->reset && ((l->vats[0] == a && l->vats[1] == b) || (l->vats[0] == b && l->vats[1] == a))) {
      trace_.add(fmt::format("cut link {} ({} {})", l->id, a, b));
      l->cut();
      ++faults_;
    }
  // A dial between them under way fails too.
  for (std::size_t k = 0; k < dials_.size();)
    if ((dials_[k].from == a && dials_[k].to == b) || (dials_[k].from == b && dials_[k].to == a)) {
      trace_.add(fmt::format("cut dial {} -> {}", dials_[k].from, *dials_[k].to));
      ++faults_;
      finish_dial(k, boost::asio::error::host_unreachable);
    } else {
      ++k;
    }
}

void Net::crash(std::size_t i) {
  SimVat& v = at(i);
  if (!v.up()) return;
  trace_.add(fmt::format("crash {}", v.name));
  ++faults_;
  for (auto& l : links_)
    if (l->vats[0] == i || l->vats[1] == i) l->cut();
  std::erase_if(dials_, [&](const Dial& d) { return d.from == i; });
  v.node.reset();
  for (auto& l : links_)
    if (l->vats[0] == i || l->vats[1] == i) l->shut_down();
  v.vat->release();
  v.vat.reset();
}

void Net::restart(std::size_t i) {
  SimVat& v = at(i);
  if (v.up()) return;
  start_vat(v);
}

bool Net::link_faulted(const std::string& transport) const {
  for (auto& l : links_)
    for (int s = 0; s < 2; ++s)
      // A reset, or the other end hung up first (its own close is logged,
      // and judged, on its side).
      if (l->describe(s) == transport) return l->reset || l->dir[1 - s].writer_closed;
  // Gone from the list: only dead links are forgotten.
  return true;
}

std::string Net::describe_state() const {
  std::string out;
  for (auto& v : vats_) {
    if (!v->up()) {
      out += fmt::format("  {} down\n", v->name);
      continue;
    }
    for (auto& s : v->node->sessions())
      out += fmt::format(
          "  {} session with {}{}: exports {} imports {} questions {} answers {} embargoes {} in {} out {}\n", v->name,
          s.peer.to_text().substr(0, 6), s.open ? "" : " (closing)", s.stats.exports, s.stats.imports,
          s.stats.questions, s.stats.answers, s.stats.embargoes, s.stats.messages_in, s.stats.messages_out);
  }
  for (auto& l : links_) {
    std::size_t flight[2] = {0, 0};
    for (int d = 0; d < 2; ++d)
      for (auto& c : l->dir[d].flight) flight[d] += c.bytes.size() - c.at;
    out += fmt::format("  link {} {}-{}{}: in flight {}B/{}B, unread {}B/{}B, ends {}/{}\n", l->id, l->vats[0],
                       l->vats[1], l->reset ? " (cut)" : "", flight[0], flight[1],
                       l->dir[0].inbox.size() - l->dir[0].inbox_at, l->dir[1].inbox.size() - l->dir[1].inbox_at,
                       l->ends[0] ? "open" : "gone", l->ends[1] ? "open" : "gone");
  }
  return out;
}

}  // namespace vatic::sim
