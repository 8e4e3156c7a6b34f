// Writes the seed corpus of the fuzz targets: a few valid inputs per mode of
// each target (fuzz_common.h), so that the fuzzers start past the formats.
// The corpus is checked in (tests/fuzz/corpus/<target>/); rerun this after a
// change of the input formats or of the schema:
//   build-fuzz/tests/fuzz/make_seeds tests/fuzz/corpus
#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "captp/internal/captp.capnp.h"
#include "captp/internal/crypto/frame.h"
#include "captp/internal/crypto/handshake.h"
#include "tests/fuzz/fuzz_common.h"

namespace vatic::fuzz {
namespace {

namespace wire = captp::wire;
namespace fs = std::filesystem;

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

class Writer {
 public:
  explicit Writer(fs::path root) : root_(std::move(root)) {}
  void put(const std::string& target, const std::string& name, const Bytes& b) {
    fs::create_directories(root_ / target);
    std::ofstream(root_ / target / name, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
    ++count_;
    bytes_ += b.size();
  }
  ~Writer() { std::printf("wrote %zu seeds, %zu bytes\n", count_, bytes_); }

 private:
  fs::path root_;
  std::size_t count_ = 0, bytes_ = 0;
};

// --- fuzz_frame

void frame_seeds(Writer& w) {
  captp::FrameSealer sealer(captp::CipherState(fixed_key(kFrameKey)), kFrameRekeyEvery);
  Bytes stream{kRawStream};
  sealer.seal(captp::FrameKind::data, bytes_of("hello"), stream);
  sealer.seal(captp::FrameKind::ping, {}, stream);
  sealer.seal(captp::FrameKind::data, Bytes(100, 7), stream);
  sealer.seal(captp::FrameKind::close, bytes_of("bye \xc3\xa9"), stream);  // the 4th frame: after a rekey
  sealer.seal(captp::FrameKind::data, bytes_of("after"), stream);
  w.put("fuzz_frame", "stream-five-frames", stream);
  w.put("fuzz_frame", "stream-length-too-small", {kRawStream, 0, 0, 0, 5, 1, 2, 3, 4, 5});
  w.put("fuzz_frame", "stream-length-too-large", {kRawStream, 0xff, 0xff, 0xff, 0xff, 0});
  Bytes cut(stream.begin(), stream.begin() + 20);
  w.put("fuzz_frame", "stream-cut", cut);

  Bytes records{kRecords};
  auto record = [&](std::uint8_t kind, std::uint8_t reserved, std::string_view payload) {
    Bytes r{kind, reserved};
    r.insert(r.end(), payload.begin(), payload.end());
    put_chunk(records, r);
  };
  record(1, 0, "data");
  record(3, 0, "");
  record(2, 0, "closing \xe2\x9c\x93");
  record(1, 3, "reserved 0..6 are well-formed");
  w.put("fuzz_frame", "records-valid", records);
  for (auto [kind, reserved, payload, name] :
       std::initializer_list<std::tuple<int, int, const char*, const char*>>{{2, 0, "\xff", "records-close-not-utf8"},
                                                                             {4, 0, "x", "records-unknown-kind"},
                                                                             {1, 9, "x", "records-reserved-set"},
                                                                             {3, 0, "x", "records-ping-payload"}}) {
    Bytes r = records;
    Bytes rec{static_cast<std::uint8_t>(kind), static_cast<std::uint8_t>(reserved)};
    rec.insert(rec.end(), payload, payload + std::strlen(payload));
    put_chunk(r, rec);
    w.put("fuzz_frame", name, r);
  }

  Bytes tampered{kTampered};
  put_chunk(tampered, Bytes{3});
  put_chunk(tampered, bytes_of("one"));
  put_chunk(tampered, Bytes(40, 1));
  put_chunk(tampered, bytes_of("three"));
  w.put("fuzz_frame", "tampered-none", tampered);
  Bytes edit = tampered;
  edit.insert(edit.end(), {30, 0, 0x01, 2, 0, 0x80});
  w.put("fuzz_frame", "tampered-two-edits", edit);

  for (auto [text, name] :
       std::initializer_list<std::pair<std::string_view, const char*>>{{"h\xc3\xa9llo \xf0\x9f\x98\x80", "utf8-valid"},
                                                                       {"\xed\xa0\x80", "utf8-surrogate"},
                                                                       {"\xc0\xaf", "utf8-overlong"},
                                                                       {"\xf4\x90\x80\x80", "utf8-above-max"},
                                                                       {"\xe2\x82", "utf8-truncated"}}) {
    Bytes b{kUtf8};
    b.insert(b.end(), text.begin(), text.end());
    w.put("fuzz_frame", name, b);
  }
}

// --- fuzz_handshake: all-zero masks are the genuine messages.

void handshake_seeds(Writer& w) {
  auto zeros = [](std::uint8_t mode, std::size_t n) {
    Bytes b(n + 1, 0);
    b[0] = mode;
    return b;
  };
  w.put("fuzz_handshake", "noise-msg1-genuine", zeros(kNoiseMsg1, 48));
  w.put("fuzz_handshake", "noise-msg2-genuine", zeros(kNoiseMsg2, 48));
  w.put("fuzz_handshake", "noise-msg3-genuine", zeros(kNoiseMsg3, 64));
  w.put("fuzz_handshake", "captp-msg1-genuine", zeros(kCaptpMsg1, captp::kHandshakeMessage1Bytes));
  w.put("fuzz_handshake", "captp-msg2-genuine", zeros(kCaptpMsg2, captp::kHandshakeMessage2Bytes));
  Bytes claim{kCaptpMsg3};
  auto id = fixed_identity(kInitiatorSeed).id().bytes();
  claim.insert(claim.end(), id.begin(), id.end());
  claim.resize(claim.size() + captp::kInstanceIdBytes, 0x5a);  // vat id || any instance id || our hello
  auto hello = captp::Hello{}.encode();
  claim.insert(claim.end(), hello.begin(), hello.end());
  w.put("fuzz_handshake", "captp-msg3-genuine-claim", claim);
  Bytes flipped = zeros(kNoiseMsg1, 48);
  flipped[5] = 0x40;
  w.put("fuzz_handshake", "noise-msg1-one-bit", flipped);
  Bytes http{kCaptpMsg1};
  auto get = bytes_of("GET / HTTP/1.1\r\nHost: vat\r\n\r\n");
  http.insert(http.end(), get.begin(), get.end());
  w.put("fuzz_handshake", "captp-msg1-http", http);
}

// --- fuzz_session: frames of hand-built messages, as a peer would send them.

using Build = std::function<void(wire::Message::Builder)>;

Bytes message(const Build& build) {
  capnp::MallocMessageBuilder b;
  build(b.initRoot<wire::Message>());
  auto flat = capnp::messageToFlatArray(b);
  auto bytes = flat.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}
Bytes frame(std::initializer_list<Build> messages) {
  Bytes out;
  for (auto& m : messages) {
    Bytes b = message(m);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}
Bytes session(std::initializer_list<Bytes> frames) {
  Bytes out{0};
  for (auto& f : frames) put_chunk(out, f);
  return out;
}

Build bootstrap(std::uint32_t q) {
  return [q](wire::Message::Builder m) { m.initBootstrap().setQuestionId(q); };
}
Build finish(std::uint32_t q) {
  return [q](wire::Message::Builder m) { m.initFinish().setQuestionId(q); };
}
// A call to export `to` (or, with `answer`, pipelined on answer `to`, following `path`).
Build call(std::uint32_t q, std::uint32_t to, const char* method,
           std::function<void(capnp::List<wire::Value>::Builder)> args = {}, unsigned nargs = 0, bool answer = false,
           std::vector<const char*> path = {}) {
  return [=](wire::Message::Builder m) {
    auto c = m.initCall();
    c.setQuestionId(q);
    if (answer) {
      auto pa = c.initTarget().initPromisedAnswer();
      pa.setQuestionId(to);
      auto p = pa.initPath(static_cast<unsigned>(path.size()));
      for (unsigned i = 0; i < path.size(); ++i) p.set(i, path[i]);
    } else {
      c.initTarget().setImportedCap(to);
    }
    c.setMethod(method);
    auto a = c.initArgs(nargs);
    if (args) args(a);
  };
}
auto int_arg(std::int64_t x) {
  return [x](capnp::List<wire::Value>::Builder a) { a[0].setInt(x); };
}
auto cap_arg(std::function<void(wire::CapDescriptor::Builder)> f) {
  return [f](capnp::List<wire::Value>::Builder a) { f(a[0].initCap()); };
}

void session_seeds(Writer& w) {
  const std::string t = "fuzz_session";
  w.put(t, "bootstrap", session({frame({bootstrap(0)}), frame({finish(0)})}));
  w.put(t, "echo", session({frame({bootstrap(0), call(1, 0, "echo", int_arg(5), 1)}), frame({finish(0), finish(1)})}));
  w.put(t, "pipelined-chain",
        session({frame({bootstrap(0), call(1, 0, "next", {}, 0, true), call(2, 1, "depth", {}, 0, true)}),
                 frame({finish(0), finish(1), finish(2)})}));
  w.put(t, "pipelined-field",
        session({frame({bootstrap(0), call(1, 0, "pair"), call(2, 1, "depth", {}, 0, true, {"left"}),
                        call(3, 1, "depth", {}, 0, true, {"missing"})}),
                 frame({finish(1), finish(2), finish(3)})}));
  w.put(t, "broken-pipeline",
        session({frame({bootstrap(0), call(1, 0, "boom"), call(2, 1, "echo", int_arg(1), 1, true)}),
                 frame({finish(1), finish(2)})}));
  w.put(t, "victim-calls-back",
        session({frame({bootstrap(0), call(1, 0, "hold", cap_arg([](auto c) { c.setSenderHosted(5); }), 1)}),
                 frame({call(2, 0, "call_held", int_arg(8), 1)}), frame({[](wire::Message::Builder m) {
                   auto r = m.initReturn();
                   r.setAnswerId(0);
                   r.initValue().setInt(8);
                 }}),
                 frame({finish(1), finish(2), [](wire::Message::Builder m) {
                          auto r = m.initRelease();
                          r.setId(0);
                          r.setCount(1);
                        }})}));
  w.put(t, "cancel-pending", session({frame({bootstrap(0), call(1, 0, "later")}), frame({finish(1)})}));
  w.put(t, "resolve-exported-promise",
        session({frame({bootstrap(0), call(1, 0, "hold", cap_arg([](auto c) { c.setSenderPromise(4); }), 1),
                        call(2, 0, "call_held", int_arg(3), 1)}),
                 frame({[](wire::Message::Builder m) {
                   auto r = m.initResolve();
                   r.setPromiseId(4);
                   r.initValue().initCap().setSenderHosted(6);
                 }}),
                 frame({call(3, 0, "call_held", int_arg(4), 1)})}));
  w.put(t, "disembargo-loopback",
        session({frame({bootstrap(0), call(2, 0, "same", cap_arg([](auto c) { c.setSenderHosted(5); }), 1)}),
                 frame({[](wire::Message::Builder m) {
                   auto d = m.initDisembargo();
                   d.initTarget().initPromisedAnswer().setQuestionId(2);
                   d.setSenderLoopback(9);
                 }}),
                 frame({finish(2)})}));
  w.put(t, "references-coming-home",
        session({frame({bootstrap(0), call(1, 0, "later"),
                        call(2, 0, "same", cap_arg([](auto c) { c.setReceiverHosted(0); }), 1),
                        call(3, 0, "hold", cap_arg([](auto c) { c.initReceiverAnswer().setQuestionId(1); }), 1),
                        call(4, 0, "resolve_later", cap_arg([](auto c) { c.setReceiverHosted(0); }), 1)}),
                 frame({call(5, 0, "call_held", int_arg(2), 1)})}));
  w.put(t, "every-value-kind",
        session({frame({bootstrap(0),
                        call(
                            1, 0, "echo",
                            [](capnp::List<wire::Value>::Builder a) {
                              auto l = a[0].initList(9);
                              l[1].setBool(true);
                              l[2].setInt(-1);
                              l[3].setFloat(0.5);
                              l[4].setText("text");
                              l[5].setBytes(capnp::Data::Reader(reinterpret_cast<const kj::byte*>("\x00\x01"), 2));
                              l[6].initList(1)[0].initList(0);
                              auto r = l[7].initRecord();
                              r.setLabel("point");
                              r.initFields(1)[0].setName("x");
                              auto e = l[8].initError();
                              e.setKind(wire::ErrorInfo::Kind::OVERLOADED);
                              e.setReason("busy");
                            },
                            1),
                        call(2, 0, "data", int_arg(100), 1)})}));
  w.put(t, "unknown-kind",
        session({frame({bootstrap(0), [](wire::Message::Builder m) {
                          m.initBootstrap().setQuestionId(5);
                          auto at = capnp::Schema::from<wire::Message>().getProto().getStruct().getDiscriminantOffset();
                          capnp::AnyStruct::Builder(std::move(m)).getDataSection()[2 * at] = 42;
                        }})}));
  w.put(t, "release-bootstrap", session({frame({bootstrap(0), finish(0)}), frame({[](wire::Message::Builder m) {
                                           auto r = m.initRelease();
                                           r.setId(0);
                                           r.setCount(1);
                                         }})}));
  w.put(t, "abort", session({frame({bootstrap(0)}), frame({[](wire::Message::Builder m) {
                               auto a = m.initAbort();
                               a.setReason("bye");
                             }})}));
  w.put(t, "odd-payload", session({Bytes{1, 2, 3, 4, 5}}));
  w.put(t, "segment-table-too-long", session({Bytes{0, 0, 0, 0, 0xe8, 3, 0, 0}}));
}

}  // namespace
}  // namespace vatic::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <corpus dir>\n");
    return 2;
  }
  vatic::fuzz::Writer w(argv[1]);
  vatic::fuzz::frame_seeds(w);
  vatic::fuzz::handshake_seeds(w);
  vatic::fuzz::session_seeds(w);
  return 0;
}
