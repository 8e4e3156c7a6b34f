// The recipient A (roles.h): gets C's Counter from B, calls it, then obeys
// commands on stdin, one a line, so that whoever drives it (a test, the
// demo) can kill B in between and see what A's reference does.
//
// stdout, before any command:
//   answer N from VATID        per call (--calls), N the host's count
//   stats handoffs=H fallbacks=F direct=yes|no introducer=up|gone
//   fallback REASON            only after a fallback (H12)
//   ready
// commands:
//   call                  one call: "answer N from VATID", or "broken REASON"
//   wait-introducer-gone  until A has seen its session with B end (at most
//                         20 s): "introducer gone: REASON" or "introducer still there"
//   stats                 the stats line (and fallback line) again
//   quit                  (or end of input) closes the node and exits
// Exit status 0 if every call answered, 1 if one broke, 2 for bad arguments.
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "captp/node.h"
#include "examples/introduction/protocol.h"
#include "examples/introduction/roles.h"
#include "vat/monitor.h"
#include "vat/vat.h"

namespace introduction {

namespace {

using namespace vatic;
using namespace std::chrono_literals;

// Runs f as a turn of `vat` (from main, outside any turn) and returns what
// it returns: a promise starts inside a turn of its vat, and main waits on
// it with Vat::wait.
template <class F>
auto in_turn(Vat& vat, F f) {
  std::optional<decltype(f())> out;
  if (!vat.post([&out, &f] { out.emplace(f()); })) throw std::runtime_error("the vat stopped");
  while (!out) vat.run_until_idle();
  return std::move(*out);
}

// Lines of stdin, read by the vat's event loop: A keeps serving its sessions
// (and noticing B's death) while it waits for the next command.
class StdinLines {
 public:
  using Line = std::optional<std::string>;

  explicit StdinLines(Vat& vat) : vat_(vat), in_(vat.io()) {
    boost::system::error_code ec;
    in_.assign(::dup(STDIN_FILENO), ec);
    if (ec) fmt::print(stderr, "introduction recipient: cannot read stdin: {}\n", ec.message());
  }
  ~StdinLines() {
    boost::system::error_code ignored;
    in_.close(ignored);
  }
  // The next line without its newline; nullopt at the end of input.
  Promise<Line> next() {
    return in_turn(vat_, [this] {
      auto [line, resolver] = make_promise<Line>();
      read(std::move(resolver));
      return line;
    });
  }

 private:
  void read(Resolver<Line> resolver) {
    if (!in_.is_open()) return resolver.resolve(std::nullopt);
    auto r = std::make_shared<Resolver<Line>>(std::move(resolver));
    boost::asio::async_read_until(in_, buf_, '\n', [this, r](const boost::system::error_code& ec, std::size_t n) {
      // Aborted: the reader is going away; touch nothing of it.
      if (ec == boost::asio::error::operation_aborted) return r->resolve(std::nullopt);
      if (ec && buf_.size() == 0) return r->resolve(std::nullopt);
      if (ec) n = buf_.size();  // a last line without its newline
      std::string text(boost::asio::buffers_begin(buf_.data()), boost::asio::buffers_begin(buf_.data()) + n);
      buf_.consume(n);
      if (!text.empty() && text.back() == '\n') text.pop_back();
      r->resolve(Line(std::move(text)));
    });
  }

  Vat& vat_;
  boost::asio::posix::stream_descriptor in_;
  boost::asio::streambuf buf_;
};

class Recipient {
 public:
  Recipient(Vat& vat, captp::Node& node, const captp::VatId& introducer) : vat_(vat), node_(node), b_(introducer) {}

  // One call to the Counter; false if it broke.
  bool call(const Ref<Counter>& counter) {
    try {
      Tick t = vat_.wait(in_turn(vat_, [&counter] { return counter.send<&Counter::next>(); }));
      if (host_.empty()) host_ = t.vat;
      fmt::print("answer {} from {}\n", t.count, t.vat);
      return true;
    } catch (const VatError& e) {
      fmt::print("broken {}\n", to_string(e.error()));
      return false;
    }
  }

  // A counts a handoff (H11) or a fallback (H12) on its session with B once
  // the accept is answered; the first answer usually comes after that, but the
  // count is what the stats line reports, so wait for it (bounded, and only
  // when the session negotiated handoff: otherwise B proxies, nothing to wait for).
  void settle() {
    for (int i = 0; i < 500; ++i) {
      auto s = introducer_session();
      if (!s || !negotiated(*s) || s->stats.handoffs + s->stats.handoff_fallbacks > 0) return;
      vat_.wait(in_turn(vat_, [this] { return vat_.sleep(10ms); }));
    }
  }

  void print_stats() {
    auto s = introducer_session();
    if (s) last_ = s->stats;  // once B is gone, what it last said
    bool direct = false;
    for (const auto& info : node_.sessions()) direct |= info.open && info.peer.to_text() == host_;
    fmt::print("stats handoffs={} fallbacks={} direct={} introducer={}\n", last_.handoffs, last_.handoff_fallbacks,
               direct ? "yes" : "no", s ? "up" : "gone");
    if (!last_.last_handoff_fallback.empty()) fmt::print("fallback {}\n", last_.last_handoff_fallback);
  }

  // Waits (at most 20 s) for A's reference to B to break: B's process is gone
  // and A's session with it ended.
  void wait_introducer_gone(const Ref<Introducer>& introducer) {
    try {
      Error why = vat_.wait(in_turn(vat_, [&introducer] { return with_timeout(monitor(introducer), 20s); }));
      fmt::print("introducer gone: {}\n", to_string(why));
    } catch (const VatError&) {
      fmt::print("introducer still there\n");
    }
  }

 private:
  std::optional<captp::SessionInfo> introducer_session() {
    for (auto& s : node_.sessions())
      if (s.peer == b_) return s;
    return std::nullopt;
  }
  static bool negotiated(const captp::SessionInfo& s) {
    for (const auto& f : s.features)
      if (f == "handoff") return true;
    return false;
  }

  Vat& vat_;
  captp::Node& node_;
  captp::VatId b_;
  std::string host_;  // C's vat id, from its first answer
  captp::SessionStats last_;
};

}  // namespace

int recipient_main(const RecipientArgs& args) {
  auto b = captp::VatId::parse(args.introducer_id);
  if (!b) {
    fmt::print(stderr, "introduction recipient: bad --introducer-id: {}\n", b.error());
    return 2;
  }
  auto at = captp::Address::parse(args.introducer_at);
  if (!at) {
    fmt::print(stderr, "introduction recipient: bad --introducer-at: {}\n", at.error());
    return 2;
  }
  Vat vat(VatOptions{.name = "recipient"});
  captp::NodeOptions options;
  options.session.handoff = args.handoff;  // explicit: the library's default may change
  captp::Node node(vat, captp::Identity::generate(), options);
  Recipient a(vat, node, *b);
  bool all_answered = true;
  {
    Ref<Introducer> introducer = node.connect<Introducer>(*b, *at);
    // With handoff, the answer's descriptor names C, its hints and a nonce
    // (H4); A dials C at the hints (H6 3) and accepts the Counter there (H7).
    Ref<Counter> counter;
    try {
      counter = vat.wait(in_turn(vat, [&introducer] { return introducer.send<&Introducer::counter>(); }));
    } catch (const VatError& e) {
      fmt::print(stderr, "introduction recipient: the introducer did not answer: {}\n", to_string(e.error()));
      return 1;
    }
    for (std::int64_t i = 0; i < args.calls; ++i) all_answered &= a.call(counter);
    a.settle();
    a.print_stats();
    fmt::print("ready\n");
    std::fflush(stdout);

    StdinLines commands(vat);
    for (;;) {
      std::optional<std::string> line = vat.wait(commands.next());
      if (!line || *line == "quit") break;
      if (*line == "call")
        all_answered &= a.call(counter);
      else if (*line == "wait-introducer-gone")
        a.wait_introducer_gone(introducer);
      else if (*line == "stats")
        a.print_stats();
      else if (!line->empty())
        fmt::print(stderr, "introduction recipient: unknown command \"{}\" (call, wait-introducer-gone, stats, quit)\n",
                   *line);
      std::fflush(stdout);
    }
  }
  node.close("recipient done");
  vat.run_until_idle();
  return all_answered ? 0 : 1;
}

}  // namespace introduction
