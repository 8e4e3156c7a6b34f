#include "caps/fs/upload_sink.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "caps/fs/directory.h"
#include "tests/caps/fs_test_util.h"
#include "vat/byte_stream.h"

namespace vatic::caps::test {
namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

bool has_partial(const TempTree& t) {
  for (const auto& e : std::filesystem::directory_iterator(t.root()))
    if (e.path().filename().string().starts_with(kPartialUploadPrefix)) return true;
  return false;
}

// Runs f as a turn of `vat` (a ByteStream is made and written in one) and
// returns what it returned.
template <class F>
auto in_turn(Vat& vat, F f) {
  std::optional<decltype(f())> out;
  vat.post([&] { out.emplace(f()); });
  vat.run_until_idle();
  return std::move(*out);
}

TEST(UploadSink, AFileStreamedIntoItTakesTheTargetNameOnlyAtEnd) {
  FsWorld w;
  std::string data = pattern(kStreamChunk * 5 + 77);
  w.tree.write("src", data);
  w.tree.write("copy", "old content");
  Ref<Directory> d = w.open();
  Ref<File> src = w.get(d.send<&Directory::open>("src"));
  Ref<ByteSink> sink = w.get(d.send<&Directory::upload_sink>("copy"));
  EXPECT_EQ(w.get(src.send<&File::stream_to>(sink, 0, -1)), static_cast<std::int64_t>(data.size()));
  EXPECT_EQ(w.tree.read("copy"), data);
  EXPECT_FALSE(has_partial(w.tree));
}

TEST(UploadSink, WritesLandInStreamOrderAndNothingShowsBeforeEnd) {
  FsWorld w;
  Ref<ByteSink> sink = w.get(w.open().send<&Directory::upload_sink>("fresh"));
  auto out = in_turn(w.vat, [&] { return std::make_shared<ByteStream>(sink); });
  std::string want;
  for (int i = 0; i < 8; ++i) {
    std::string part = std::string(1000 + i * 37, static_cast<char>('a' + i));
    want += part;
    w.get(in_turn(w.vat, [&] { return out->write(bytes_of(part)); }));
  }
  EXPECT_FALSE(w.tree.exists("fresh"));
  EXPECT_TRUE(has_partial(w.tree));
  w.get(in_turn(w.vat, [&] { return out->end(); }));
  EXPECT_EQ(w.tree.read("fresh"), want);
  EXPECT_FALSE(has_partial(w.tree));
  in_turn(w.vat, [&] {
    out.reset();
    return 0;
  });
}

TEST(UploadSink, AnAbortedOrDroppedStreamLeavesTheTargetAsItWas) {
  FsWorld w;
  w.tree.write("notes", "old content");
  Ref<Directory> d = w.open();
  {
    Ref<ByteSink> sink = w.get(d.send<&Directory::upload_sink>("notes"));
    auto out = in_turn(w.vat, [&] { return std::make_shared<ByteStream>(sink); });
    w.get(in_turn(w.vat, [&] { return out->write(bytes_of("half")); }));
    EXPECT_TRUE(has_partial(w.tree));
    w.get(in_turn(w.vat, [&] { return out->abort("source went away"); }));
    EXPECT_FALSE(has_partial(w.tree));
    EXPECT_EQ(w.reason(in_turn(w.vat, [&] { return out->end(); })), "aborted: source went away");
    in_turn(w.vat, [&] {
      out.reset();
      return 0;
    });
  }
  {
    // A writer that went away (vat/byte_stream_test.cpp: a dropped stream
    // lets its reference go once its writes are answered).
    Ref<ByteSink> sink = w.get(d.send<&Directory::upload_sink>("notes"));
    w.get(sink.send<&ByteSink::write>(bytes_of("half")));
    EXPECT_TRUE(has_partial(w.tree));
  }  // the last reference went without end(): an abandoned upload
  w.vat.run_until_idle();
  EXPECT_FALSE(has_partial(w.tree));
  EXPECT_EQ(w.tree.read("notes"), "old content");
}

TEST(UploadSink, AWritePastMaxBytesFailsTheStreamAndLeavesNothing) {
  FsWorld w;
  Ref<Directory> d = w.open(kAllFsOps, 10);
  Ref<ByteSink> sink = w.get(d.send<&Directory::upload_sink>("small"));
  auto out = in_turn(w.vat, [&] { return std::make_shared<ByteStream>(sink); });
  in_turn(w.vat, [&] { return out->write(bytes_of("0123456789")); });
  in_turn(w.vat, [&] { return out->write(bytes_of("x")); });
  EXPECT_EQ(w.reason(in_turn(w.vat, [&] { return out->end(); })),
            "refused: a file of 11 bytes exceeds this capability's max_bytes (10)");
  EXPECT_FALSE(w.tree.exists("small"));
  EXPECT_FALSE(has_partial(w.tree));
  in_turn(w.vat, [&] {
    out.reset();
    return 0;
  });
}

TEST(UploadSink, IsRefusedWhereAnUploadIs) {
  FsWorld w;
  // Neither write nor create: refused before any data is sent.
  EXPECT_EQ(w.reason(w.open(static_cast<FsOps>(FsOp::read)).send<&Directory::upload_sink>("x")).rfind("refused:", 0),
            0u);
  EXPECT_FALSE(has_partial(w.tree));
}

}  // namespace
}  // namespace vatic::caps::test
