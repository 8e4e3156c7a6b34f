// A hand-driven vat for the handoff tests: a genuine handshake (offering the
// `handoff` feature or not) over a memory pipe, then Cap'n Proto messages
// written by the test, and every message the other side sends back, decoded
// enough for the assertions. It plays the roles a vatic Node does not play
// yet, or plays by the rules: a recipient that accepts (spec/captp.md 11,
// H7), an introducer that provides (H3), a peer that cheats.
//
// Runs on the io_context the test polls; nothing here blocks.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "captp/identity.h"
#include "captp/internal/net/channel.h"
#include "captp/internal/wire.h"
#include "captp/stream.h"

namespace vatic::test {

namespace wire = captp::wire;

// What a vat sent a raw peer, decoded enough for the assertions.
struct Got {
  unsigned which = 0;
  std::uint32_t id = 0;  // return: answerId; disembargo: receiverLoopback
  std::optional<Error> error;
  std::optional<std::int64_t> int_value;
  std::optional<std::uint32_t> sender_hosted;
  bool null_value = false;
  bool canceled = false;
  std::optional<std::uint32_t> call_target;  // a call to one of our exports
  std::string method;
  std::optional<std::uint32_t> receiver_hosted;
  // A return of a thirdPartyHosted reference.
  struct ThirdParty {
    std::vector<std::uint8_t> host, instance, nonce;
    std::vector<std::string> hints;
    std::uint32_t vine = 0;
  };
  std::optional<ThirdParty> third_party;
};

inline std::vector<std::uint8_t> to_vector(capnp::Data::Reader d) { return {d.begin(), d.end()}; }

inline Got decode(wire::Message::Reader m) {
  Got g;
  g.which = static_cast<unsigned>(m.which());
  if (m.isAbort()) g.error = captp::read_error(m.getAbort());
  if (m.isDisembargo() && m.getDisembargo().isReceiverLoopback()) g.id = m.getDisembargo().getReceiverLoopback();
  if (m.isReturn()) {
    auto r = m.getReturn();
    g.id = r.getAnswerId();
    if (r.isError()) g.error = captp::read_error(r.getError());
    if (r.isCanceled()) g.canceled = true;
    if (r.isValue()) {
      auto v = r.getValue();
      if (v.isInt()) g.int_value = v.getInt();
      if (v.isNull()) g.null_value = true;
      if (v.isCap() && v.getCap().isSenderHosted()) g.sender_hosted = v.getCap().getSenderHosted();
      if (v.isCap() && v.getCap().isReceiverHosted()) g.receiver_hosted = v.getCap().getReceiverHosted();
      if (v.isCap() && v.getCap().isThirdPartyHosted()) {
        auto t = v.getCap().getThirdPartyHosted();
        Got::ThirdParty tp{
            to_vector(t.getHost()), to_vector(t.getHostInstance()), to_vector(t.getNonce()), {}, t.getVine()};
        for (auto h : t.getHints()) tp.hints.emplace_back(h.cStr(), h.size());
        g.third_party = std::move(tp);
      }
    }
  }
  if (m.isCall()) {
    g.id = m.getCall().getQuestionId();
    if (m.getCall().getTarget().isImportedCap()) g.call_target = m.getCall().getTarget().getImportedCap();
    g.method = m.getCall().getMethod().cStr();
  }
  return g;
}

inline kj::ArrayPtr<const kj::byte> bytes_of(std::span<const std::uint8_t> v) {
  return kj::arrayPtr(v.data(), v.size());
}

// One hand-driven vat with a session to the host.
struct RawPeer {
  captp::Identity identity = captp::Identity::generate();
  std::shared_ptr<captp::SecureChannel> ch;
  std::vector<Got> inbox;
  std::optional<Error> closed;
  std::uint32_t boot = 0;  // the host's export id of its bootstrap object, on this session

  const VatId& id() const { return identity.id(); }
  void send(const std::function<void(wire::Message::Builder)>& build) {
    capnp::MallocMessageBuilder b;
    build(b.initRoot<wire::Message>());
    auto flat = capnp::messageToFlatArray(b);
    auto bytes = flat.asBytes();
    auto& buf = ch->begin_append();
    buf.insert(buf.end(), bytes.begin(), bytes.end());
    ch->end_message();
    ch->request_flush();
  }
  void receive(std::span<const std::uint8_t> payload) {
    auto words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(payload.data()), payload.size() / 8);
    while (words.size() > 0) {
      capnp::FlatArrayMessageReader r(words);
      inbox.push_back(decode(r.getRoot<wire::Message>()));
      words = kj::arrayPtr(r.getEnd(), words.end());
    }
  }
  std::optional<Got> return_of(std::uint32_t qid) const {
    for (const Got& g : inbox)
      if (g.which == wire::Message::RETURN && g.id == qid) return g;
    return std::nullopt;
  }
  // Connects over `stream` to `host` (offering handoff or not), starts
  // reading, and does not ask for anything yet.
  // `as`: another identity to present (the same vat's second session).
  bool connect(boost::asio::io_context& io, std::unique_ptr<captp::Stream> stream, const VatId& host, bool handoff,
               const std::function<bool(const std::function<bool()>&)>& run_until,
               const captp::Identity* as = nullptr) {
    captp::ChannelOptions co;
    co.offer_handoff = handoff;
    bool done = false;
    captp::SecureChannel::initiate(io, std::move(stream), as ? *as : identity, host, co,
                                   [&](std::shared_ptr<captp::SecureChannel> c, Error*) {
                                     done = true;
                                     ch = std::move(c);
                                   });
    if (!run_until([&] { return done; }) || !ch) return false;
    RawPeer* raw = this;
    ch->start([raw](std::span<const std::uint8_t> b) { raw->receive(b); }, [raw](const Error& e) { raw->closed = e; });
    return true;
  }
  // Asks for the bootstrap object as question `qid`; its export id.
  std::optional<std::uint32_t> bootstrap(std::uint32_t qid,
                                         const std::function<bool(const std::function<bool()>&)>& run_until) {
    send([&](wire::Message::Builder m) { m.initBootstrap().setQuestionId(qid); });
    if (!run_until([&] { return return_of(qid).has_value(); })) return std::nullopt;
    send([&](wire::Message::Builder m) { m.initFinish().setQuestionId(qid); });
    return return_of(qid)->sender_hosted;
  }
  void call(std::uint32_t qid, std::uint32_t target, const char* method, std::optional<std::int64_t> arg = {}) {
    send([&](wire::Message::Builder m) {
      auto c = m.initCall();
      c.setQuestionId(qid);
      c.initTarget().setImportedCap(target);
      c.setMethod(method);
      auto args = c.initArgs(arg ? 1 : 0);
      if (arg) args[0].setInt(*arg);
    });
  }
  std::optional<Got> abort() const {
    for (const Got& g : inbox)
      if (g.which == wire::Message::ABORT) return g;
    return std::nullopt;
  }
};

}  // namespace vatic::test
