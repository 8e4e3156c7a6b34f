#include "persist/stored_value.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "persist/memory_engine.h"
#include "persist_objects.h"

namespace vatic::persist {
namespace {

Value sample() {
  return Value(Record{"entry",
                      {{"n", Value(std::int64_t{-42})},
                       {"x", Value(2.5)},
                       {"s", Value("h\xc3\xa9llo")},
                       {"b", Value(Bytes{0, 1, 255})},
                       {"l", Value(List{Value(), Value(true), Value(false)})},
                       {"e", Value(Error{ErrorKind::overloaded, "busy"})}}});
}

TEST(StoredValue, EveryPassableDataTypeRoundTrips) {
  Value v = sample();
  Result<Value> back = decode_stored(encode_stored(v));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, v);
}

TEST(StoredValue, ExtremeNumbersRoundTrip) {
  for (Value v : {Value(std::numeric_limits<std::int64_t>::min()), Value(std::numeric_limits<std::int64_t>::max()),
                  Value(-0.0), Value(std::numeric_limits<double>::infinity())}) {
    Result<Value> back = decode_stored(encode_stored(v));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, v);
  }
}

TEST(StoredValue, AReferenceCannotBeStored) {
  Vat vat;
  Value ref = Codec<Ref<test::Teller>>::encode(vat.make<test::Teller>());
  EXPECT_THROW(encode_stored(Value(List{ref})), VatError);
}

TEST(StoredValue, DamagedBytesAreRefusedWithAReason) {
  Bytes good = encode_stored(sample());
  EXPECT_NE(decode_stored(Bytes{}).error().find("empty"), std::string::npos);
  EXPECT_NE(decode_stored(Bytes{2, 0}).error().find("unknown format"), std::string::npos);
  EXPECT_NE(decode_stored(Bytes{1, 77}).error().find("unknown tag"), std::string::npos);
  EXPECT_NE(decode_stored(Bytes{1, 0, 0}).error().find("trailing"), std::string::npos);
  EXPECT_NE(decode_stored(Bytes{1, 5, 2, 0xff, 0xfe}).error().find("UTF-8"), std::string::npos);
  EXPECT_NE(decode_stored(Bytes{1, 9, 7, 0}).error().find("kind"), std::string::npos);
  // A list that claims more elements than bytes left is refused before allocating.
  EXPECT_NE(decode_stored(Bytes{1, 7, 0xff, 0xff, 0xff, 0xff, 0x0f}).error().find("truncated"), std::string::npos);
  for (std::size_t n = 1; n < good.size(); ++n) EXPECT_FALSE(decode_stored(std::span(good).first(n))) << "cut at " << n;
}

TEST(StoredValue, NestingBeyondTheLimitIsRefused) {
  Bytes deep{1};
  for (int i = 0; i < 70; ++i) deep.insert(deep.end(), {7, 1});
  deep.push_back(0);
  EXPECT_NE(decode_stored(deep).error().find("deep"), std::string::npos);
}

TEST(StoredValue, WhatTheDecoderRefusesIsNotEncoded) {
  const std::string bad = "ok\xff\xfe";
  const std::string surrogate = "\xed\xa0\x80";  // U+D800: the strict validator refuses it
  std::vector<Value> refused{
      Value(bad),
      Value(surrogate),
      Value(List{Value(std::int64_t{1}), Value(bad)}),
      Value(Record{bad, {}}),
      Value(Record{"r", {{bad, Value()}}}),
      Value(Error{ErrorKind::failed, bad}),
      Value(Error{static_cast<ErrorKind>(7), "kind out of range"}),
  };
  for (const Value& v : refused) {
    try {
      Bytes b = encode_stored(v);
      ADD_FAILURE() << "encoded what decodes as: " << decode_stored(b).error();
    } catch (const VatError& e) {
      EXPECT_EQ(e.error().kind, ErrorKind::failed);
    }
  }
}

// Reads its note when it activates: a note the decoder refuses would keep it
// from ever activating again.
class Notebook : public Persistent {
 public:
  void on_activate() override { note_ = kv().get<std::string>("note").value_or(""); }
  void write(std::string s) { kv().put("note", s); }
  std::string read() { return note_; }
  VATIC_METHODS(Notebook, write, read)

 private:
  std::string note_;
};

TEST(StoredValue, APutTheDecoderWouldRefuseFailsOnlyItsOwnCall) {
  using namespace std::chrono_literals;
  ManualClock clock;
  Vat vat{VatOptions{.name = "stored-value", .clock = &clock}};
  auto engine = std::make_shared<MemoryEngine>();
  auto open = [&] {
    auto h = std::make_unique<Host>(vat, engine, HostOptions{.name = "h1", .idle = 10s});
    h->register_kind<Notebook>({.name = "notebook", .version = 1});
    return h;
  };
  auto host = open();
  vat.wait(host->object<Notebook>("n").send<&Notebook::write>("fine"));
  Promise<void> p = host->object<Notebook>("n").send<&Notebook::write>("bad\xc3");
  vat.run_until_idle();
  ASSERT_TRUE(p.is_broken());
  EXPECT_NE(p.error().reason.find("UTF-8"), std::string::npos) << p.error().reason;
  // A new host activates the object afresh, from what was committed.
  host = open();
  EXPECT_EQ(vat.wait(host->object<Notebook>("n").send<&Notebook::read>()), "fine");
}

RC_GTEST_PROP(StoredValue, DecodingArbitraryBytesNeverThrows, (std::vector<std::uint8_t> bytes)) {
  bytes.insert(bytes.begin(), 1);
  Result<Value> v = decode_stored(bytes);
  if (v) RC_ASSERT(encode_stored(*v) == bytes);  // one spelling per value
}

}  // namespace
}  // namespace vatic::persist
