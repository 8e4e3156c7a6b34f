// The hostile vat of the simulation (issue 14; spec/captp.md 11.5): a vat
// with its own identity whose sessions are genuine (a real handshake with
// each honest vat, over sim links: it is the net's outsider, sim_net.h) but
// whose messages are written by hand here, raw Cap'n Proto, as
// tests/captp/handoff_raw_peer.h writes them for the attack tests. Its
// choices come from a chooser of its own, so that what it does never moves
// the honest program's draws.
//
// What it does, at random (act()):
//   - floods a host with provides naming some honest vat, never telling
//     anyone their nonces (11.8: the host keeps at most max_provisions of
//     them, and they expire);
//   - provides at a host C naming recipient A, then accepts that nonce at C
//     itself: a wrong recipient (H10 3);
//   - provides naming A and gives the descriptor to D (A or another vat): D's
//     accept is honoured only if D is A; the hostile vat may then accept it
//     too;
//   - as the recipient of an honest introducer, accepts its nonce at the host
//     once (sometimes first naming another provider: 11.5), then replays the
//     accept on the same session and on a new one;
//   - comes back to a vat that restarted (a new session, the same identity);
//   - never releases anything it imports (the vines it is handed), never
//     relays an embargo (H9), never answers a provide at itself, refuses
//     every call and accept made to it with an error (so an honest call on
//     one of its references answers, broken "sim: hostile ...").
// Under every accept that must be refused it pipelines a call whose id the
// oracle must never see delivered. What it checks on the answers it gets (a
// refused accept is `failed`, "no provision for this accept", H10; a nonce
// is honoured once; a provision no vat may accept is never honoured; no
// honest vat aborts its session) goes to the program's fail().
//
// One thread, the sim's: its loop is run by the net's scheduler.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "captp/identity.h"
#include "captp/internal/wire.h"
#include "tests/sim/sim_net.h"
#include "vat/vat.h"

namespace vatic::captp {
class SecureChannel;
}

namespace vatic::sim::internal {

class Hostile {
 public:
  // What the hostile vat needs of the program it runs in.
  struct Hooks {
    std::function<void(std::string)> fail;
    std::function<std::uint64_t()> new_msg, new_slot;
    // Call `msg` must never be delivered (it rides a refused accept).
    std::function<void(std::uint64_t)> forbid;
    // Call `msg` gives its callee a descriptor whose provision at `host`
    // names another vat: no call on the reference it keeps may reach `host`.
    std::function<void(std::uint64_t msg, std::size_t host)> misdirected;
  };
  // Counts for the run's outcome.
  struct Counts {
    std::uint64_t provides = 0, wrong_accepts = 0, replays = 0, descriptors = 0, tickets = 0, refused = 0;
  };

  Hostile(Net& net, Trace& trace, std::uint64_t seed, Hooks hooks);
  ~Hostile();
  Hostile(const Hostile&) = delete;
  Hostile& operator=(const Hostile&) = delete;

  const VatId& id() const { return identity_.id(); }
  // Opens a session with every vat that is up.
  void attach_all();
  // Maybe one hostile act (its own draw).
  void act();
  // Every session it opened finished its handshake or failed.
  bool settled() const;
  // Its questions still unanswered on sessions still open, in words (empty
  // if none): a host answers every provide and accept in bounded time
  // (spec/captp.md 11.5, H10, H14), and every call.
  std::string unanswered() const;
  // Acts no more (its sessions stay open).
  void stop() { stopped_ = true; }
  // Closes every session: the hostile vat is gone.
  void leave();
  const Counts& counts() const { return counts_; }

 private:
  struct Session;
  // What a question of ours expects of its answer.
  enum class Ask { bootstrap, provide_untold, provide_told, accept_first, must_refuse, forbidden_call, other };
  struct Question {
    Ask ask = Ask::other;
    std::string what;        // for the failure report
    std::size_t ticket = 0;  // accept_first: index into tickets_
  };
  // A descriptor an honest introducer sent us (we are its recipient).
  struct Ticket {
    std::vector<std::uint8_t> provider, host, nonce;
    bool accepted = false, honoured = false, replayed = false;
  };
  // A replay to send on a new session once it is ready.
  struct PendingReplay {
    std::weak_ptr<Session> session;
    std::size_t ticket = 0;
  };

  std::shared_ptr<Session> open_session(std::size_t to);
  void on_data(const std::shared_ptr<Session>& s, std::span<const std::uint8_t> payload);
  void on_message(Session& s, captp::wire::Message::Reader m);
  void on_return(Session& s, captp::wire::Return::Reader r);
  void on_call(Session& s, captp::wire::Call::Reader c);
  // Sends `build`'s message on `s` (if it is open); records question `q`.
  template <class Build>
  void send(Session& s, Build&& build);
  std::uint32_t ask(Session& s, Question q);
  // A session of ours to vat `v`, open, with its bootstrap import known.
  Session* ready(std::size_t v);
  std::vector<std::uint8_t> nonce();
  std::size_t other_vat(std::size_t not_this);

  void flood(Session& c);
  void wrong_recipient(Session& c);
  void misdirect(Session& c);
  // Accepts ticket `which`, or one not yet accepted.
  void accept_ticket(std::optional<std::size_t> which = std::nullopt);
  void wrong_provider(Session& c, std::size_t ticket);
  void replay_ticket();
  void send_replay(Session& c, std::size_t ticket);
  void flush_replays();
  // Pipelines a call on accept `qid` that must never be delivered.
  void forbidden_call(Session& s, std::uint32_t qid);

  Net& net_;
  Trace& trace_;
  SeededChooser choose_;
  Hooks hooks_;
  captp::Identity identity_;
  std::unique_ptr<Vat> loop_;
  std::vector<std::shared_ptr<Session>> sessions_;
  std::vector<Ticket> tickets_;
  std::vector<PendingReplay> pending_replays_;
  Counts counts_;
  bool leaving_ = false, stopped_ = false;
};

}  // namespace vatic::sim::internal
