// The recipient's side of three-party handoff (spec/captp.md 11, H1, H6)
// against an introducer that lies about where the host is: mallory hands A
// an object of C with a hint that leads to D, another vat. A dials the hint
// expecting C's key (the handshake pins the vat id dialled), reaches no C,
// and falls back to mallory's proxy (H12): a wrong hint delays a handoff,
// it never makes D stand in for C.
//
//   mallory (RawPeer, hand-built wire::Message) --memory pipe--> A (Node, Echo, handoff on)
//   A --dials the hint, unix d.sock--> D (Node, handoff on; not C)
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "tests/captp/captp_objects.h"
#include "tests/captp/handoff_raw_peer.h"
#include "tests/temp_dir.h"

namespace vatic::test {
namespace {

using namespace std::chrono_literals;

TEST(HandoffRecipientAttack, HintLeadingToAnotherVatFallsBackToTheIntroducersProxy) {
  TempDir dir{"vatic-handoff-hint"};
  std::vector<LogEvent> logged;
  VatOptions ao = TwoVats::vat_options("a", nullptr);
  ao.log = LogOptions{[&](const LogEvent& e) { logged.push_back(e); }, LogLevel::info};
  Vat va{std::move(ao)}, vd{TwoVats::vat_options("d", nullptr)};
  boost::asio::io_context mio;  // mallory's loop
  captp::NodeOptions on;
  on.session.handoff = true;
  auto a = std::make_unique<captp::Node>(va, captp::Identity::generate(), on);
  auto d = std::make_unique<captp::Node>(vd, captp::Identity::generate(), on);
  Ref<Echo> a_echo = va.make<Echo>();
  a->set_bootstrap(a_echo);
  d->set_bootstrap(vd.make<Echo>());
  captp::Address d_addr = d->listen(dir.unix_address("d.sock"));
  captp::Identity c = captp::Identity::generate();  // C: never runs anywhere

  auto pump = [&] {
    va.run_until_idle();
    vd.run_until_idle();
    if (mio.stopped()) mio.restart();
    mio.poll();
  };
  auto run_until = [&](const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + 10s;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      pump();
    }
    return true;
  };
  RawPeer mallory;
  auto [ma, a_end] = captp::memory_pipe(mio, va.io());
  a->accept(std::move(a_end));
  ASSERT_TRUE(mallory.connect(mio, std::move(ma), a->id(), true, run_until));
  auto boot = mallory.bootstrap(0, run_until);
  ASSERT_TRUE(boot);

  // "Hold this object of C; pick it up at D's address."
  std::vector<std::uint8_t> nonce(32, 7), instance(16, 1);
  mallory.send([&](wire::Message::Builder m) {
    auto call = m.initCall();
    call.setQuestionId(1);
    call.initTarget().setImportedCap(*boot);
    call.setMethod("hold");
    auto t = call.initArgs(1)[0].initCap().initThirdPartyHosted();
    t.setHost(bytes_of(c.id().bytes()));
    t.setHostInstance(bytes_of(instance));
    t.initHints(1).set(0, d_addr.to_string());
    t.setNonce(bytes_of(nonce));
    t.setVine(5);
  });
  ASSERT_TRUE(run_until([&] { return mallory.return_of(1).has_value(); }));
  // A calls what it holds: after the fallback the call takes the vine.
  auto answer = a_echo.send<&Echo::call_held>(9);
  auto through_vine = [&] {
    return std::any_of(mallory.inbox.begin(), mallory.inbox.end(), [](const Got& g) {
      return g.which == wire::Message::CALL && g.call_target == 5u && g.method == "echo";
    });
  };
  ASSERT_TRUE(run_until(through_vine)) << "the call never reached the introducer's proxy";
  // A did dial the hint, and D's handshake with it failed: A expected C's key.
  EXPECT_TRUE(run_until([&] { return d->stats().handshakes_failed >= 1; })) << "A never dialled the hint";
  for (const auto& s : a->sessions()) EXPECT_NE(s.peer, d->id()) << "A kept a session with the vat at the hint";
  ASSERT_EQ(a->sessions().size(), 1u);
  EXPECT_EQ(a->sessions()[0].stats.handoff_fallbacks, 1u);
  EXPECT_EQ(a->sessions()[0].stats.handoffs, 0u);
  auto fell =
      std::find_if(logged.begin(), logged.end(), [](const LogEvent& e) { return e.event == "handoff.fallback"; });
  ASSERT_NE(fell, logged.end());
  EXPECT_EQ(*fell->field("host"), c.id().to_text());
  EXPECT_NE(fell->field("reason")->find("no hint reached the host"), std::string::npos) << *fell->field("reason");

  if (mallory.ch) mallory.ch->abort(Error{ErrorKind::disconnected, "test over"});
  a_echo = {};
  a.reset();
  d.reset();
  for (int i = 0; i < 50; ++i) pump();
}

}  // namespace
}  // namespace vatic::test
