// What spec/captp.md makes normative for a peer written from the text alone,
// checked against a victim that a hostile peer drives by hand-built messages
// (see hostile_peer.h for the topology): the segment and list-count limits
// checked before a message is read, a promise resolved twice, the Miranda
// __whenResolved on a live object, and the bootstrap's export id.
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/attacks/hostile_peer.h"

namespace vatic::test {
namespace {

// A one-segment message re-framed as `segments` segments: segment 0 keeps the
// content, the others are empty. Cap'n Proto reads such a message as before.
std::vector<std::uint8_t> as_segments(const std::function<void(wire::Message::Builder)>& build,
                                      std::uint32_t segments) {
  capnp::MallocMessageBuilder b;
  build(b.initRoot<wire::Message>());
  auto flat = capnp::messageToFlatArray(b);
  std::uint32_t table[2];
  std::memcpy(table, flat.begin(), sizeof table);
  EXPECT_EQ(table[0], 0u) << "the builder made more than one segment";
  std::uint32_t size0 = table[1];
  std::vector<std::uint32_t> head(1 + segments + (segments % 2 == 0 ? 1 : 0), 0);
  head[0] = segments - 1;
  head[1] = size0;
  std::vector<std::uint8_t> out(head.size() * 4);
  std::memcpy(out.data(), head.data(), out.size());
  auto content = flat.asBytes().slice(8, flat.asBytes().size());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

std::vector<std::uint8_t> bootstrap_message(std::uint32_t qid, std::uint32_t segments) {
  return as_segments([&](wire::Message::Builder m) { m.initBootstrap().setQuestionId(qid); }, segments);
}

TEST_F(SessionAttack, MessageOf65SegmentsAbortsBeforeItIsRead) {
  queue_bytes(bootstrap_message(5, 65));
  flush();
  expect_aborted(violation("message of 65 segments (at most 64)"));
  EXPECT_FALSE(find([](const Seen& s) { return s.which == wire::Message::RETURN && s.id == 5; }))
      << "the bootstrap in segment 0 was answered";
}

TEST_F(SessionAttack, MessageOf2097152SegmentsAbortsBeforeItIsRead) {
  // The segment table alone is 8 MiB; nothing in it is read.
  queue_bytes(bootstrap_message(5, 2'097'152));
  flush();
  expect_aborted(violation("message of 2097152 segments (at most 64)"));
}

TEST_F(SessionAttack, MessageOf64SegmentsIsServed) {
  std::size_t from = inbox.size();
  queue_bytes(bootstrap_message(5, 64));
  flush();
  auto r = await_return(5, from);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sender_hosted, boot);
  finish(5);
  expect_still_up();
}

// A call whose argument list (a composite list of Value structs) claims
// `count` elements in its tag word.
std::vector<std::uint8_t> call_with_list_count(std::uint32_t boot, std::uint64_t count) {
  capnp::MallocMessageBuilder b;
  init_call(b.initRoot<wire::Message>(), 1, boot, "echo").initArgs(5);
  auto flat = capnp::messageToFlatArray(b);
  auto size = capnp::_::structSize<wire::Value>();
  std::uint64_t tag = (std::uint64_t{5} << 2) | (std::uint64_t{size.data} << 32) | (std::uint64_t{size.pointers} << 48);
  std::vector<std::uint8_t> out(flat.asBytes().begin(), flat.asBytes().end());
  int found = 0;
  for (std::size_t i = 8; i + 8 <= out.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, &out[i], 8);
    if (w != tag) continue;
    std::uint64_t patched = (count << 2) | (w & ~std::uint64_t{0xffffffff});
    std::memcpy(&out[i], &patched, 8);
    ++found;
  }
  EXPECT_EQ(found, 1) << "the argument list's tag word";
  return out;
}

TEST_F(SessionAttack, ListOf2To29ElementsAbortsInsteadOfReadingAsEmpty) {
  queue_bytes(call_with_list_count(boot, std::uint64_t{1} << 29));
  flush();
  expect_aborted(violation("list of 536870912 elements (at most 2^29 - 1)"));
  EXPECT_FALSE(find([](const Seen& s) { return s.which == wire::Message::RETURN && s.id == 1; }))
      << "the call was answered";
}

TEST_F(SessionAttack, ListOfTheLargestTagCountAborts) {
  queue_bytes(call_with_list_count(boot, (std::uint64_t{1} << 30) - 1));
  flush();
  expect_aborted(violation("list of 1073741823 elements (at most 2^29 - 1)"));
}

TEST_F(SessionAttack, SecondResolveOfOnePromiseAborts) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) { hand_over(m, 1, boot, 7, true); });
  ASSERT_TRUE(await_return(1, from));
  finish(1);
  auto resolve = [&](std::int64_t x) {
    send([&](wire::Message::Builder m) {
      auto r = m.initResolve();
      r.setPromiseId(7);
      r.initValue().setInt(x);
    });
  };
  resolve(1);
  settle();
  ASSERT_FALSE(closed.has_value()) << "the first resolve is honest";
  resolve(2);
  expect_aborted(violation("second resolve of promise import 7"));
}

TEST_F(SessionAttack, WhenResolvedOnALiveObjectAnswersTheObject) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) { init_call(m, 1, boot, "__whenResolved"); });
  auto r = await_return(1, from);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->error) << r->error->reason;
  EXPECT_EQ(r->sender_hosted, boot) << "a live object is resolved: it answers itself";
  finish(1);
  expect_still_up();
}

TEST_F(SessionAttack, BootstrapIsAnOrdinaryExportGoneOnceReleased) {
  // captp.md 3: the bootstrap has no fixed export id. Released, its id names
  // nothing, and calling it is a call to an unknown export.
  send([&](wire::Message::Builder m) {
    auto r = m.initRelease();
    r.setId(boot);
    r.setCount(1);
  });
  send([&](wire::Message::Builder m) { init_call(m, 1, boot, "echo").initArgs(1)[0].setInt(1); });
  expect_aborted(violation("message to unknown export id " + std::to_string(boot)));
}

}  // namespace
}  // namespace vatic::test
