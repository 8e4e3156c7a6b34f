// Attacks on the CapTP session (spec/captp.capnp): a vat that completed a
// genuine handshake and then breaks the protocol with hand-built messages.
// Each violation must end that one session with an abort naming it; each
// oddity the protocol allows must leave the session working; and after every
// case the victim still serves its honest client. Harness: hostile_peer.h;
// references and promises crossing back: session_reference_attack_test.cpp.
//
//   mallory --hand-built wire::Message in data frames--> victim Node (Echo) <-- honest client
#include "captp/internal/session.h"

#include <gtest/gtest.h>

#include <capnp/any.h>
#include <capnp/schema.h>

#include <cstdint>
#include <string>
#include <vector>

#include "captp/internal/tables.h"
#include "tests/attacks/hostile_peer.h"

namespace vatic::test {
namespace {

using captp::kMaxPeerId;

// --- Ids the victim never issued.

TEST_F(SessionAttack, CallToAnUnknownExportAborts) {
  send([&](wire::Message::Builder m) { init_call(m, 1, 99, "echo").initArgs(1)[0].setInt(1); });
  expect_aborted(violation("message to unknown export id 99"));
}

TEST_F(SessionAttack, FinishForAnUnknownQuestionAborts) {
  finish(7);
  expect_aborted(violation("finish for unknown question 7"));
}

TEST_F(SessionAttack, ReturnForAQuestionNeverAskedAborts) {
  send([&](wire::Message::Builder m) {
    auto r = m.initReturn();
    r.setAnswerId(7);
    r.initValue().setInt(1);
  });
  expect_aborted(violation("return for unknown question 7"));
}

TEST_F(SessionAttack, ResolveOfAnUnknownImportAborts) {
  send([&](wire::Message::Builder m) {
    auto r = m.initResolve();
    r.setPromiseId(7);
    r.initValue().setNull();
  });
  expect_aborted(violation("resolve of unknown import 7"));
}

TEST_F(SessionAttack, ReleaseOfAnUnknownExportAborts) {
  send([&](wire::Message::Builder m) {
    auto r = m.initRelease();
    r.setId(7);
    r.setCount(1);
  });
  expect_aborted(violation("release of unknown export id 7"));
}

TEST_F(SessionAttack, DisembargoLiftingAnUnknownEmbargoAborts) {
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(0);
    d.setReceiverLoopback(7);
  });
  expect_aborted(violation("disembargo for unknown embargo 7"));
}

TEST_F(SessionAttack, DisembargoToAnUnknownExportAborts) {
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(7);
    d.setSenderLoopback(1);
  });
  expect_aborted(violation("message to unknown export id 7"));
}

TEST_F(SessionAttack, CallToAFinishedAnswerAborts) {
  ASSERT_EQ(echo(1, 5), 5);  // answered, then finished
  send([&](wire::Message::Builder m) {
    auto c = m.initCall();
    c.setQuestionId(2);
    c.initTarget().initPromisedAnswer().setQuestionId(1);
    c.setMethod("echo");
  });
  expect_aborted(violation("message to unknown answer 1"));
}

// --- Question ids.

TEST_F(SessionAttack, QuestionIdReusedWhileUnansweredAborts) {
  queue([&](wire::Message::Builder m) { init_call(m, 3, boot, "later"); });  // stays unanswered
  flush();
  settle();
  send([&](wire::Message::Builder m) { init_call(m, 3, boot, "echo").initArgs(1)[0].setInt(1); });
  expect_aborted(violation("question id 3 reused while still in use"));
}

TEST_F(SessionAttack, QuestionIdReusedOnceFinishedIsServed) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(echo(5, i), i);
  expect_still_up();
}

TEST_F(SessionAttack, QuestionIdAtKMaxPeerIdAborts) {
  send([&](wire::Message::Builder m) { init_call(m, kMaxPeerId, boot, "echo").initArgs(1)[0].setInt(1); });
  expect_aborted(violation("question id 262144 out of range"));
}

TEST_F(SessionAttack, BootstrapQuestionIdAtKMaxPeerIdAborts) {
  send([&](wire::Message::Builder m) { m.initBootstrap().setQuestionId(0xffffffff); });
  expect_aborted(violation("question id 4294967295 out of range"));
}

TEST_F(SessionAttack, LargestQuestionAndExportIdsAreServed) {
  EXPECT_EQ(echo(kMaxPeerId - 1, 3), 3);
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) { hand_over(m, 1, boot, kMaxPeerId - 1, false); });
  auto r = await_return(1, from);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->error) << to_string(*r->error);
  expect_still_up();
}

TEST_F(SessionAttack, ExportIdAtKMaxPeerIdAborts) {
  send([&](wire::Message::Builder m) { hand_over(m, 1, boot, kMaxPeerId, false); });
  expect_aborted(violation("export id 262144 out of range"));
}

// --- Release counts (spec: "A count above what was sent aborts the session").

TEST_F(SessionAttack, ReleaseAboveTheCountSentAborts) {
  send([&](wire::Message::Builder m) {
    auto r = m.initRelease();
    r.setId(boot);
    r.setCount(2);  // the bootstrap reference was sent once
  });
  expect_aborted(violation("release of export 0 by 2, but only 1 sent"));
}

TEST_F(SessionAttack, ReleaseOfZeroAborts) {
  send([&](wire::Message::Builder m) {
    auto r = m.initRelease();
    r.setId(boot);
    r.setCount(0);
  });
  expect_aborted(violation("release of export 0 by 0, but only 1 sent"));
}

TEST_F(SessionAttack, ReleasedExportIsGoneForGood) {
  send([&](wire::Message::Builder m) {
    auto r = m.initRelease();
    r.setId(boot);
    r.setCount(1);  // exact: the export is freed, the session goes on
  });
  settle();
  EXPECT_FALSE(closed.has_value());
  send([&](wire::Message::Builder m) {
    auto r = m.initRelease();
    r.setId(boot);
    r.setCount(1);
  });
  expect_aborted(violation("release of unknown export id 0"));
}

// --- Values too deep, too large, or cheaper on the wire than in memory.

TEST_F(SessionAttack, ValueNested1000LevelsDeepAborts) {
  send([&](wire::Message::Builder m) {
    auto v = init_call(m, 1, boot, "echo").initArgs(1)[0];
    for (int i = 0; i < 1000; ++i) v = v.initList(1)[0];
  });
  expect_aborted(violation("value nested deeper than 64 levels"));
}

TEST_F(SessionAttack, ValueNestedToTheLimitIsServed) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) {
    auto v = init_call(m, 1, boot, "echo").initArgs(1)[0];
    for (int i = 0; i < captp::kMaxValueDepth; ++i) v = v.initList(1)[0];
  });
  auto r = await_return(1, from);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->error) << "echo takes an integer, not a list";
  EXPECT_EQ(r->error->kind, ErrorKind::failed);
  finish(1);
  expect_still_up();
}

// A null costs 24 bytes on the wire (a Value struct): ~700 000 fill a frame.
// Millions would need zero-sized elements (ZeroSizedElementsCannotAmplifyAFrame).
TEST_F(SessionAttack, ListOfNullsFillingTheLargestFrameIsServed) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) { init_call(m, 1, boot, "echo").initArgs(1)[0].initList(699'000); });
  auto r = await_return(1, from);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->error);
  EXPECT_EQ(r->error->kind, ErrorKind::failed);
  finish(1);
  expect_still_up();
}

TEST_F(SessionAttack, AFrameOfTheLargestSizeIsServed) {
  // One segment, so that the message is 8 bytes of segment table plus its words.
  const std::size_t words = ch->max_message_bytes() / sizeof(capnp::word) - 1;
  auto build = [&](std::size_t data_bytes) {
    auto b = std::make_unique<capnp::MallocMessageBuilder>(words + 16, capnp::AllocationStrategy::FIXED_SIZE);
    auto m = b->initRoot<wire::Message>();
    init_call(m, 1, boot, "echo").initArgs(1)[0].initBytes(static_cast<unsigned>(data_bytes));
    return b;
  };
  std::size_t empty_words = capnp::computeSerializedSizeInWords(*build(0)) - 1;
  auto b = build((words - empty_words) * sizeof(capnp::word));
  auto flat = capnp::messageToFlatArray(*b);
  ASSERT_EQ(flat.asBytes().size(), ch->max_message_bytes());
  std::size_t from = inbox.size();
  queue_bytes({flat.asBytes().begin(), flat.asBytes().size()});
  flush();
  auto r = await_return(1, from);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->error);
  finish(1);
  expect_still_up();
}

// A list of zero-sized structs costs the sender nothing per element. Cap'n
// Proto charges each element one word against the traversal limit, but the
// session sets that limit per message from the size of the whole frame
// (session.cpp, on_data: `payload.size() / 8 * 2 + 64` for every message of the
// frame), so each tiny message of a large frame may decode 2x the frame in
// nulls: quadratic in the frame size (a 16 MiB frame: ~10^5 messages x 4*10^6
// nulls each, all queued before the first turn runs).
// Fixed by a limit per message, from its own size (Session::on_data), which
// bounds a whole frame to twice its words.
TEST_F(SessionAttack, ZeroSizedElementsCannotAmplifyAFrame) {
  // 64 KiB of honest padding (one bytes argument) makes the frame large...
  queue([&](wire::Message::Builder m) {
    auto c = init_call(m, 1, boot, "echo");
    c.setSendReturn(false);
    c.initArgs(1)[0].initBytes(64 << 10);
  });
  // ...and then 16 one-way calls of ~16 words, each carrying 16000 "nulls".
  auto list_slot = capnp::Schema::from<wire::Value>().getFieldByName("list").getProto().getSlot().getOffset();
  for (int i = 0; i < 16; ++i) {
    queue([&](wire::Message::Builder m) {
      auto c = init_call(m, 2, boot, "echo");
      c.setSendReturn(false);
      auto v = c.initArgs(1)[0];
      v.initList(0);  // the discriminant says list...
      capnp::AnyStruct::Builder(std::move(v)).getPointerSection()[list_slot].initAsListOfAnyStruct(0, 0, 16000);
    });
  }
  flush();
  // Refused by the walk before the read (captp.md 7, Messages), on the same budget.
  expect_aborted(violation("message reads more than twice its own size"));
}

// --- Kinds the victim does not know.

TEST_F(SessionAttack, UnknownMessageKindIsEchoedAsUnimplemented) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) {
    m.initBootstrap().setQuestionId(5);
    set_raw_which<wire::Message>(m, 42);
  });
  auto u = await([](const Seen& s) { return s.which == wire::Message::UNIMPLEMENTED; }, from);
  ASSERT_TRUE(u) << "no unimplemented reply";
  EXPECT_EQ(u->echoed_which, 42u);
  expect_still_up();
}

TEST_F(SessionAttack, UnknownTargetKindAborts) {
  send([&](wire::Message::Builder m) {
    auto c = init_call(m, 1, boot, "echo");
    set_raw_which<wire::MessageTarget>(c.getTarget(), 7);
  });
  expect_aborted(violation("message target of an unknown kind"));
}

TEST_F(SessionAttack, UnknownValueKindAborts) {
  send([&](wire::Message::Builder m) {
    auto v = init_call(m, 1, boot, "echo").initArgs(1)[0];
    set_raw_which<wire::Value>(v, 42);
  });
  expect_aborted(violation("unknown value type 42"));
}

// spec/captp.md 4: a reference of a kind from a newer version in a call is
// answered by echoing the call as unimplemented; nothing in it is delivered
// or counted (mallory's object before it is neither imported nor released).
// (The session used to abort.)
TEST_F(SessionAttack, UnknownReferenceKindInACallIsEchoedAsUnimplemented) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) {
    auto args = init_call(m, 1, boot, "hold").initArgs(2);
    args[0].initCap().setSenderHosted(5);
    set_raw_which<wire::CapDescriptor>(args[1].initCap(), 9);
  });
  auto u = await([](const Seen& s) { return s.which == wire::Message::UNIMPLEMENTED; }, from);
  ASSERT_TRUE(u) << "no unimplemented reply";
  EXPECT_EQ(u->echoed_which, static_cast<unsigned>(wire::Message::CALL));
  expect_still_up();
  EXPECT_FALSE(find([](const Seen& s) { return s.which == wire::Message::RELEASE; }, from));
  EXPECT_EQ(echo(1, 7), 7);  // the question id was never taken
}

TEST_F(SessionAttack, UnknownDisembargoKindAborts) {
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(boot);
    set_raw_which<wire::Disembargo>(d, 5);
  });
  expect_aborted(violation("disembargo of an unknown kind"));
}

TEST_F(SessionAttack, UnimplementedForANonCallAborts) {
  send([&](wire::Message::Builder m) { m.initUnimplemented().initFinish().setQuestionId(1); });
  expect_aborted(violation("the peer does not implement a required operation"));
}

TEST_F(SessionAttack, UnimplementedForACallNeverSentIsIgnored) {
  send([&](wire::Message::Builder m) { init_call(m.initUnimplemented(), 12, 0, "echo"); });
  settle();
  expect_still_up();
}

// --- Pipelining on a broken answer.

TEST_F(SessionAttack, PipelinedCallOnABrokenAnswerBreaksWithItsError) {
  std::size_t from = inbox.size();
  auto pipelined = [&](std::uint32_t qid) {
    queue([&](wire::Message::Builder m) {
      auto c = m.initCall();
      c.setQuestionId(qid);
      c.initTarget().initPromisedAnswer().setQuestionId(1);
      c.setMethod("echo");
      c.initArgs(1)[0].setInt(5);
    });
  };
  queue([&](wire::Message::Builder m) { init_call(m, 1, boot, "boom"); });
  pipelined(2);  // in the same frame: sent before the answer broke
  flush();
  auto r1 = await_return(1, from);
  auto r2 = await_return(2, from);
  ASSERT_TRUE(r1 && r1->error);
  ASSERT_TRUE(r2 && r2->error);
  EXPECT_EQ(*r1->error, (Error{ErrorKind::failed, "boom"}));
  EXPECT_EQ(*r2->error, *r1->error);
  pipelined(3);  // after the answer broke, before it is finished
  flush();
  auto r3 = await_return(3, from);
  ASSERT_TRUE(r3 && r3->error);
  EXPECT_EQ(*r3->error, *r1->error);
  for (std::uint32_t q : {1u, 2u, 3u}) finish(q);
  expect_still_up();
}

// --- Abort from the peer.

// spec/captp.capnp, abort: "The connection closes after it." The victim must
// close it too: a session dropped from the node's table but whose channel
// stayed open would live on, unlisted, for as long as the peer keeps pinging.
TEST_F(SessionAttack, AbortFromThePeerEndsTheSessionAndTheConnection) {
  send([&](wire::Message::Builder m) {
    auto a = m.initAbort();
    a.setKind(wire::ErrorInfo::Kind::FAILED);
    a.setReason("mallory gives up");
  });
  EXPECT_TRUE(run_until([&] { return victim->sessions().size() == 1; }));
  EXPECT_EQ(victim->sessions()[0].peer, honest->id());
  expect_honest_works();
  EXPECT_TRUE(run_until([&] { return closed.has_value(); }, std::chrono::seconds(3)))
      << "the victim kept the connection of a session the peer aborted";
  if (closed) {
    EXPECT_EQ(closed->kind, ErrorKind::disconnected) << closed->reason;
  }
  EXPECT_FALSE(find([](const Seen& s) { return s.which == wire::Message::ABORT; }))
      << "an abort is never answered with an abort";
}

// --- Disembargoes.

TEST_F(SessionAttack, DisembargoToALocalObjectAborts) {
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(boot);
    d.setSenderLoopback(3);
  });
  expect_aborted(violation("disembargo target does not resolve to a reference of the sender"));
}

TEST_F(SessionAttack, DisembargoToAPendingAnswerAborts) {
  queue([&](wire::Message::Builder m) { init_call(m, 2, boot, "later"); });
  queue([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().initPromisedAnswer().setQuestionId(2);
    d.setSenderLoopback(3);
  });
  flush();
  expect_aborted(violation("disembargo target does not resolve to a reference of the sender"));
}

// The receiver follows a disembargo's path through other sessions too
// (spec/captp.md 5): that must not let a path that ends elsewhere pass.
// Here the answer is the victim's import of the honest vat's object.
TEST_F(SessionAttack, DisembargoAlongAnAnswerHeldFromAnotherSessionAborts) {
  Promise<void> given = honest_ref.send<&Echo::hold>(honest_vat.make<Echo>(3));
  ASSERT_TRUE(run_until([&] { return !given.pending(); }));
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) { init_call(m, 2, boot, "held"); });
  auto r = await_return(2, from);
  ASSERT_TRUE(r && r->sender_hosted) << "the honest vat's object did not come back as the victim's export";
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().initPromisedAnswer().setQuestionId(2);
    d.setSenderLoopback(3);
  });
  expect_aborted(violation("disembargo target does not resolve to a reference of the sender"));
}

// The path leaves mallory's session through the victim's question to the
// honest vat, which settled to data: nothing of mallory's is at its end.
TEST_F(SessionAttack, DisembargoAlongAPathThroughAnotherSessionThatSettledToDataAborts) {
  Promise<void> given = honest_ref.send<&Echo::hold>(honest_vat.make<Echo>(3));
  ASSERT_TRUE(run_until([&] { return !given.pending(); }));
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) { init_call(m, 2, boot, "call_held").initArgs(1)[0].setInt(7); });
  auto r = await_return(2, from);
  ASSERT_TRUE(r && r->int_value == 7) << "the call through the honest vat did not answer";
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().initPromisedAnswer().setQuestionId(2);
    d.setSenderLoopback(3);
  });
  expect_aborted(violation("disembargo target does not resolve to a reference of the sender"));
}

TEST_F(SessionAttack, DisembargoThatLoopsBackIsReflected) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) {
    init_call(m, 2, boot, "same").initArgs(1)[0].initCap().setSenderHosted(5);  // answers with mallory's own object
  });
  auto r = await_return(2, from);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->receiver_hosted, 5u);
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().initPromisedAnswer().setQuestionId(2);
    d.setSenderLoopback(9);
  });
  auto back = await([](const Seen& s) { return s.which == wire::Message::DISEMBARGO; }, from);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, 9u);
  finish(2);
  expect_still_up();
}

// --- Garbage inside an authenticated data frame.

TEST_F(SessionAttack, PayloadNotAWholeNumberOfWordsAborts) {
  std::uint8_t junk[5] = {1, 2, 3, 4, 5};
  queue_bytes(junk);
  flush();
  expect_aborted(violation("frame payload is not a whole number of Cap'n Proto words"));
}

TEST_F(SessionAttack, SegmentTableClaimingMoreThanSentAborts) {
  std::uint8_t table[8] = {0, 0, 0, 0, 0xe8, 0x03, 0, 0};  // one segment of 1000 words, none sent
  queue_bytes(table);
  flush();
  expect_aborted_with(kMalformed, "Message ends prematurely in first segment.");
}

TEST_F(SessionAttack, SegmentTableWithTooManySegmentsAborts) {
  std::vector<std::uint8_t> table(64, 0);
  table[0] = table[1] = table[2] = 0xff;  // 2^24 segments
  queue_bytes(table);
  flush();
  // captp.md 7, Messages: refused by count, before the table is read.
  expect_aborted(violation("message of 16777216 segments (at most 64)"));
}

TEST_F(SessionAttack, SegmentCountWrappingToZeroAborts) {
  std::vector<std::uint8_t> table(16, 0);
  table[0] = table[1] = table[2] = table[3] = 0xff;  // count - 1 = 2^32 - 1
  queue_bytes(table);
  flush();
  expect_aborted(violation("message of 4294967296 segments (at most 64)"));
}

TEST_F(SessionAttack, RootPointerOutOfBoundsAborts) {
  // One segment of one word: a struct pointer whose offset leaves the segment.
  std::uint8_t msg[16] = {0, 0, 0, 0, 1, 0, 0, 0, 0xfc, 0xff, 0xff, 0x0f, 1, 0, 1, 0};
  queue_bytes(msg);
  flush();
  expect_aborted_with(kMalformed, "out-of-bounds struct pointer");
}

}  // namespace
}  // namespace vatic::test
