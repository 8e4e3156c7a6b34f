// spec/captp.md section 7: what an honest sender keeps within, so that a
// receiver never aborts the session for it. A pipelined path of more than 64
// field names is never sent (the call breaks at once), and a message with more
// bulk byte strings than segments allowed copies the rest in. Two vats on the
// test thread:
//
//   vat a (Node) ==memory pipe==> vat b (Node, Echo bootstrap)
#include <gtest/gtest.h>

#include <string>

#include "captp_objects.h"

namespace vatic::test {
namespace {

detail::HandlerPtr follow(const Promise<Value>& p, int names) {
  detail::HandlerPtr h = p.state();
  for (int i = 0; i < names; ++i) h = h->pipeline_field("left");
  return h;
}

TEST(PathLimit, APipelinedPathOf65NamesBreaksBeforeItIsSent) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  ASSERT_EQ(t.get(b.send<&Echo::echo>(1)), 1);
  Promise<Value> pair = b.send("pair");
  auto too_long = detail::ref_from_handler<Echo>(follow(pair, 65)).send<&Echo::echo>(2);
  auto longest = detail::ref_from_handler<Echo>(follow(pair, 64)).send<&Echo::echo>(3);
  Error e = t.error_of(too_long);
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "pipelined path longer than 64 fields");
  // 64 names are sent and followed by b: the second "left" is not a record field.
  Error followed = t.error_of(longest);
  EXPECT_NE(followed.reason, "pipelined path longer than 64 fields");
  EXPECT_EQ(t.get(b.send<&Echo::echo>(4)), 4) << "the session is still up";
  EXPECT_EQ(t.a->stats().sessions, 1u);
}

TEST(SegmentLimit, ManyBulkByteStringsInOneCallStayWithin64Segments) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  // 100 word-aligned strings of 4 KiB: each may travel as a segment of its own.
  List many;
  for (int i = 0; i < 100; ++i) many.push_back(Value(Bytes(4096, static_cast<std::uint8_t>(i))));
  Error e = t.error_of(b.send("echo", Value(std::move(many))));
  EXPECT_EQ(e.kind, ErrorKind::failed) << "b read the call (and refused the list for an integer): " << e.reason;
  EXPECT_EQ(t.get(b.send<&Echo::echo>(4)), 4) << "the session is still up";
}

}  // namespace
}  // namespace vatic::test
