// Kafka wire primitives (kafka-protocol.md §0): every Reader/Writer type against bytes written by hand,
// round trips, and the failure rules (sticky errors, truncation, overlong varints, impossible counts).
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "protocol/reader.h"
#include "protocol/writer.h"
#include "wire_test_util.h"

namespace oncemq::protocol {
namespace {

using wire_test::Hex;
using wire_test::HexOf;
using wire_test::ToHex;

std::string Encoded(const std::function<void(Writer&)>& write) {
  Writer w;
  write(w);
  return ToHex(w.bytes());
}

// ---------------------------------------------------------------------------------------------------------
// Fixed-width integers: big-endian two's complement.

TEST(WirePrimitives, FixedWidthIntegersAreBigEndian) {
  EXPECT_EQ(Encoded([](Writer& w) { w.Int8(-1); }), "ff");
  EXPECT_EQ(Encoded([](Writer& w) { w.Int8(INT8_MIN); }), "80");
  EXPECT_EQ(Encoded([](Writer& w) { w.Int16(0x0102); }), "01 02");
  EXPECT_EQ(Encoded([](Writer& w) { w.Int16(-2); }), "ff fe");
  EXPECT_EQ(Encoded([](Writer& w) { w.Int32(0x01020304); }), "01 02 03 04");
  EXPECT_EQ(Encoded([](Writer& w) { w.Int32(INT32_MIN); }), "80 00 00 00");
  EXPECT_EQ(Encoded([](Writer& w) { w.Int64(0x0102030405060708); }), "01 02 03 04 05 06 07 08");
  EXPECT_EQ(Encoded([](Writer& w) { w.Int64(-1); }), "ff ff ff ff ff ff ff ff");
  EXPECT_EQ(Encoded([](Writer& w) { w.Uint32(0xdeadbeef); }), "de ad be ef");
  EXPECT_EQ(Encoded([](Writer& w) {
              w.Bool(true);
              w.Bool(false);
            }),
            "01 00");
}

TEST(WirePrimitives, FixedWidthIntegersReadBack) {
  Bytes in =
      Hex("ff | 80 | 01 02 | ff fe | 01 02 03 04 | 80 00 00 00 | 01 02 03 04 05 06 07 08 |"
          "80 00 00 00 00 00 00 00 | de ad be ef | 00 | 01 | 02");
  Reader r(in);
  EXPECT_EQ(r.Int8(), -1);
  EXPECT_EQ(r.Int8(), INT8_MIN);
  EXPECT_EQ(r.Int16(), 0x0102);
  EXPECT_EQ(r.Int16(), -2);
  EXPECT_EQ(r.Int32(), 0x01020304);
  EXPECT_EQ(r.Int32(), INT32_MIN);
  EXPECT_EQ(r.Int64(), 0x0102030405060708);
  EXPECT_EQ(r.Int64(), INT64_MIN);
  EXPECT_EQ(r.Uint32(), 0xdeadbeefu);
  EXPECT_FALSE(r.Bool());
  EXPECT_TRUE(r.Bool());
  EXPECT_TRUE(r.Bool());  // any non-zero byte is true
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WirePrimitives, IntegerExtremesRoundTrip) {
  const int8_t i8[] = {INT8_MIN, -1, 0, INT8_MAX};
  const int16_t i16[] = {INT16_MIN, -1, 0, INT16_MAX};
  const int32_t i32[] = {INT32_MIN, -1, 0, INT32_MAX};
  const int64_t i64[] = {INT64_MIN, -1, 0, INT64_MAX};
  Writer w;
  for (int8_t v : i8) w.Int8(v);
  for (int16_t v : i16) w.Int16(v);
  for (int32_t v : i32) w.Int32(v);
  for (int64_t v : i64) w.Int64(v);
  Reader r(w.bytes());
  for (int8_t v : i8) EXPECT_EQ(r.Int8(), v);
  for (int16_t v : i16) EXPECT_EQ(r.Int16(), v);
  for (int32_t v : i32) EXPECT_EQ(r.Int32(), v);
  for (int64_t v : i64) EXPECT_EQ(r.Int64(), v);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

// ---------------------------------------------------------------------------------------------------------
// Unsigned varints (compact lengths, tag buffers): base-128, least significant group first.

struct UvarintCase {
  uint32_t value;
  const char* hex;
};
const UvarintCase kUvarints[] = {
    {0, "00"},
    {1, "01"},
    {127, "7f"},
    {128, "80 01"},
    {300, "ac 02"},
    {16383, "ff 7f"},
    {16384, "80 80 01"},
    {2097151, "ff ff 7f"},
    {2097152, "80 80 80 01"},
    {268435455, "ff ff ff 7f"},
    {268435456, "80 80 80 80 01"},
    {UINT32_MAX, "ff ff ff ff 0f"},
};

TEST(WirePrimitives, UnsignedVarintKnownBytes) {
  for (const auto& c : kUvarints) {
    SCOPED_TRACE(c.value);
    EXPECT_EQ(Encoded([&](Writer& w) { w.UnsignedVarint(c.value); }), HexOf(c.hex));
    Bytes in = Hex(c.hex);
    Reader r(in);
    EXPECT_EQ(r.UnsignedVarint(), c.value);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
  }
}

TEST(WirePrimitives, UnsignedVarintTruncatedFails) {
  for (const auto& c : kUvarints) {
    Bytes in = Hex(c.hex);
    for (size_t cut = 0; cut < in.size(); ++cut) {
      SCOPED_TRACE(std::string(c.hex) + " cut at " + std::to_string(cut));
      Reader r(ByteView(in).first(cut));
      EXPECT_EQ(r.UnsignedVarint(), 0u);
      EXPECT_FALSE(r.ok());
    }
  }
}

TEST(WirePrimitives, OverlongUnsignedVarintRejected) {
  for (const char* hex : {
           "80 80 80 80 80 00",  // a sixth byte: more than 35 bits of groups
           "ff ff ff ff 1f",     // fifth group carries bit 32
           "80 80 80 80 10",     // exactly 2^32
           "ff ff ff ff ff 01",  // continuation in the fifth byte
       }) {
    SCOPED_TRACE(hex);
    Bytes in = Hex(hex);
    Reader r(in);
    EXPECT_EQ(r.UnsignedVarint(), 0u);
    EXPECT_FALSE(r.ok());
  }
}

// ---------------------------------------------------------------------------------------------------------
// Zig-zag VARINT / VARLONG (record-level fields inside RecordBatch v2).

struct VarintCase {
  int32_t value;
  const char* hex;
};
const VarintCase kVarints[] = {
    {0, "00"},
    {-1, "01"},
    {1, "02"},
    {-2, "03"},
    {63, "7e"},
    {-64, "7f"},
    {64, "80 01"},
    {-65, "81 01"},
    {150, "ac 02"},
    {-8192, "ff 7f"},
    {8192, "80 80 01"},
    {INT32_MAX, "fe ff ff ff 0f"},
    {INT32_MIN, "ff ff ff ff 0f"},
};

TEST(WirePrimitives, ZigZagVarintKnownBytes) {
  for (const auto& c : kVarints) {
    SCOPED_TRACE(c.value);
    EXPECT_EQ(Encoded([&](Writer& w) { w.Varint(c.value); }), HexOf(c.hex));
    Bytes in = Hex(c.hex);
    Reader r(in);
    EXPECT_EQ(r.Varint(), c.value);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
  }
}

struct VarlongCase {
  int64_t value;
  const char* hex;
};
const VarlongCase kVarlongs[] = {
    {0, "00"},
    {-1, "01"},
    {1, "02"},
    {-64, "7f"},
    {64, "80 01"},
    {INT32_MAX, "fe ff ff ff 0f"},
    {INT32_MIN, "ff ff ff ff 0f"},
    {int64_t{INT32_MAX} + 1, "80 80 80 80 10"},
    {int64_t{INT32_MIN} - 1, "81 80 80 80 10"},
    {1700000000000, "80 a0 ab fe f9 62"},
    {INT64_MAX, "fe ff ff ff ff ff ff ff ff 01"},
    {INT64_MIN, "ff ff ff ff ff ff ff ff ff 01"},
};

TEST(WirePrimitives, ZigZagVarlongKnownBytes) {
  for (const auto& c : kVarlongs) {
    SCOPED_TRACE(c.value);
    EXPECT_EQ(Encoded([&](Writer& w) { w.Varlong(c.value); }), HexOf(c.hex));
    Bytes in = Hex(c.hex);
    Reader r(in);
    EXPECT_EQ(r.Varlong(), c.value);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
  }
}

TEST(WirePrimitives, ZigZagRoundTripsAcrossTheRange) {
  Writer w;
  std::vector<int64_t> longs;
  std::vector<int32_t> ints;
  for (int shift = 0; shift < 63; ++shift) {
    int64_t p = int64_t{1} << shift;
    for (int64_t v : {p - 1, p, -p, -p - 1}) longs.push_back(v);
  }
  for (int shift = 0; shift < 31; ++shift) {
    int32_t p = int32_t{1} << shift;
    for (int32_t v : {p - 1, p, -p, -p - 1}) ints.push_back(v);
  }
  for (int64_t v : longs) w.Varlong(v);
  for (int32_t v : ints) w.Varint(v);
  Reader r(w.bytes());
  for (int64_t v : longs) EXPECT_EQ(r.Varlong(), v);
  for (int32_t v : ints) EXPECT_EQ(r.Varint(), v);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WirePrimitives, OverlongVarintAndVarlongRejected) {
  for (const char* hex : {"80 80 80 80 80 00", "ff ff ff ff 1f", "80"}) {
    SCOPED_TRACE(hex);
    Bytes in = Hex(hex);
    Reader r(in);
    EXPECT_EQ(r.Varint(), 0);
    EXPECT_FALSE(r.ok());
  }
  for (const char* hex : {
           "80 80 80 80 80 80 80 80 80 80 00",  // eleven bytes
           "ff ff ff ff ff ff ff ff ff 02",     // tenth group carries bit 64
           "ff ff ff ff ff ff ff ff ff 81 00",  // continuation in the tenth byte
           "ff ff ff",                          // truncated
       }) {
    SCOPED_TRACE(hex);
    Bytes in = Hex(hex);
    Reader r(in);
    EXPECT_EQ(r.Varlong(), 0);
    EXPECT_FALSE(r.ok());
  }
}

// ---------------------------------------------------------------------------------------------------------
// Strings and bytes: classic (INT16 / INT32 length, -1 = null) and compact (uvarint N+1, 0 = null).

TEST(WirePrimitives, StringsKnownBytes) {
  EXPECT_EQ(Encoded([](Writer& w) { w.String("kafka"); }), HexOf("00 05 'kafka'"));
  EXPECT_EQ(Encoded([](Writer& w) { w.String(""); }), "00 00");
  EXPECT_EQ(Encoded([](Writer& w) { w.NullableString(std::nullopt); }), "ff ff");
  EXPECT_EQ(Encoded([](Writer& w) { w.NullableString(""); }), "00 00");
  EXPECT_EQ(Encoded([](Writer& w) { w.NullableString("ab"); }), HexOf("00 02 'ab'"));
  EXPECT_EQ(Encoded([](Writer& w) { w.CompactString(std::nullopt); }), "00");
  EXPECT_EQ(Encoded([](Writer& w) { w.CompactString(""); }), "01");
  EXPECT_EQ(Encoded([](Writer& w) { w.CompactString("abc"); }), HexOf("04 'abc'"));
  std::string s127(127, 'x');
  EXPECT_EQ(Encoded([&](Writer& w) { w.CompactString(s127); }), HexOf("80 01 '" + s127 + "'"));
}

TEST(WirePrimitives, StringsReadBack) {
  std::string s127(127, 'x');
  Bytes in =
      Hex("00 05 'kafka' | 00 00 | ff ff | 00 00 | 00 02 'ab' | 00 | 01 | 04 'abc' | 80 01 '" + s127 + "'");
  Reader r(in);
  EXPECT_EQ(r.String(), "kafka");
  EXPECT_EQ(r.String(), "");
  EXPECT_EQ(r.NullableString(), std::nullopt);
  EXPECT_EQ(r.NullableString(), std::optional<std::string_view>(""));
  EXPECT_EQ(r.NullableString(), std::optional<std::string_view>("ab"));
  EXPECT_EQ(r.CompactString(), std::nullopt);
  EXPECT_EQ(r.CompactString(), std::optional<std::string_view>(""));
  EXPECT_EQ(r.CompactString(), std::optional<std::string_view>("abc"));
  EXPECT_EQ(r.CompactString(), std::optional<std::string_view>(s127));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WirePrimitives, StringViewsPointIntoTheInput) {
  Bytes in = Hex("00 03 'abc'");
  Reader r(in);
  std::string_view s = r.String();
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(s.data()), in.data() + 2);
}

TEST(WirePrimitives, NonNullableStringRejectsNull) {
  Bytes in = Hex("ff ff");
  Reader r(in);
  EXPECT_EQ(r.String(), "");
  EXPECT_FALSE(r.ok());
}

TEST(WirePrimitives, NegativeLengthsOtherThanMinusOneFail) {
  {
    Bytes in = Hex("ff fe 'ab'");
    Reader r(in);
    EXPECT_EQ(r.NullableString(), std::nullopt);
    EXPECT_FALSE(r.ok());
  }
  {
    Bytes in = Hex("80 00");
    Reader r(in);
    r.String();
    EXPECT_FALSE(r.ok());
  }
  {
    Bytes in = Hex("ff ff ff fe 00 00");
    Reader r(in);
    EXPECT_EQ(r.NullableBytes(), std::nullopt);
    EXPECT_FALSE(r.ok());
  }
}

TEST(WirePrimitives, BytesKnownBytes) {
  const uint8_t two[] = {0x01, 0x02};
  EXPECT_EQ(Encoded([](Writer& w) { w.NullableBytes(std::nullopt); }), "ff ff ff ff");
  EXPECT_EQ(Encoded([](Writer& w) { w.NullableBytes(ByteView{}); }), "00 00 00 00");
  EXPECT_EQ(Encoded([&](Writer& w) { w.NullableBytes(ByteView(two)); }), "00 00 00 02 01 02");
  EXPECT_EQ(Encoded([](Writer& w) { w.CompactBytes(std::nullopt); }), "00");
  EXPECT_EQ(Encoded([](Writer& w) { w.CompactBytes(ByteView{}); }), "01");
  EXPECT_EQ(Encoded([&](Writer& w) { w.CompactBytes(ByteView(two)); }), "03 01 02");
  EXPECT_EQ(Encoded([&](Writer& w) { w.Raw(ByteView(two)); }), "01 02");
}

TEST(WirePrimitives, BytesReadBack) {
  Bytes in = Hex("ff ff ff ff | 00 00 00 00 | 00 00 00 02 01 02 | ff ff ff ff | 00 | 01 | 03 01 02 | aa bb");
  Reader r(in);
  EXPECT_EQ(r.NullableBytes(), std::nullopt);
  auto empty = r.NullableBytes();
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(ToHex(r.NullableBytes().value()), "01 02");
  EXPECT_TRUE(r.Bytes().empty());  // null reads as empty through Bytes()
  EXPECT_EQ(r.CompactBytes(), std::nullopt);
  EXPECT_TRUE(r.CompactBytes().value().empty());
  EXPECT_EQ(ToHex(r.CompactBytes().value()), "01 02");
  EXPECT_EQ(ToHex(r.Raw(2)), "aa bb");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

// ---------------------------------------------------------------------------------------------------------
// Arrays: classic INT32 count (-1 = null), compact uvarint N+1 (0 = null).

TEST(WirePrimitives, ArrayCountsKnownBytes) {
  EXPECT_EQ(Encoded([](Writer& w) { w.ArrayCount(3); }), "00 00 00 03");
  EXPECT_EQ(Encoded([](Writer& w) { w.ArrayCount(0); }), "00 00 00 00");
  EXPECT_EQ(Encoded([](Writer& w) { w.ArrayCount(-1); }), "ff ff ff ff");
  EXPECT_EQ(Encoded([](Writer& w) { w.CompactArrayCount(-1); }), "00");
  EXPECT_EQ(Encoded([](Writer& w) { w.CompactArrayCount(0); }), "01");
  EXPECT_EQ(Encoded([](Writer& w) { w.CompactArrayCount(2); }), "03");
  EXPECT_EQ(Encoded([](Writer& w) { w.CompactArrayCount(200); }), "c9 01");
}

TEST(WirePrimitives, ArrayCountsReadBack) {
  Bytes in = Hex("00 00 00 02 | 00 00 00 00 | ff ff ff ff | 00 | 01 | 03 | aa bb");
  Reader r(in);
  EXPECT_EQ(r.ArrayCount(), 2);
  EXPECT_EQ(r.ArrayCount(), 0);
  EXPECT_EQ(r.ArrayCount(), -1);
  EXPECT_EQ(r.CompactArrayCount(), -1);
  EXPECT_EQ(r.CompactArrayCount(), 0);
  EXPECT_EQ(r.CompactArrayCount(), 2);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 2u);
}

TEST(WirePrimitives, NonNullArrayCountRefusesOnlyNull) {
  Bytes in = Hex("00 00 00 02 | 00 00 | 00 00 00 00");
  Reader r(in);
  EXPECT_EQ(r.NonNullArrayCount(1), 2);
  EXPECT_TRUE(r.ok());
  Bytes null_count = Hex("ff ff ff ff 00 00");
  Reader n(null_count);
  EXPECT_EQ(n.NonNullArrayCount(1), 0);
  EXPECT_FALSE(n.ok());
}

TEST(WirePrimitives, ArrayCountBelowMinusOneFails) {
  Bytes in = Hex("ff ff ff fe 00 00");
  Reader r(in);
  EXPECT_EQ(r.ArrayCount(), 0);
  EXPECT_FALSE(r.ok());
}

TEST(WirePrimitives, ArrayCountLargerThanTheRemainingBytesFails) {
  // Six bytes follow the count. With 2-byte elements, 3 fit and 4 do not.
  Bytes fits = Hex("00 00 00 03 | 00 00 00 00 00 00");
  Reader ok_reader(fits);
  EXPECT_EQ(ok_reader.ArrayCount(2), 3);
  EXPECT_TRUE(ok_reader.ok());

  Bytes too_many = Hex("00 00 00 04 | 00 00 00 00 00 00");
  Reader r(too_many);
  EXPECT_EQ(r.ArrayCount(2), 0);
  EXPECT_FALSE(r.ok());

  Bytes huge = Hex("7f ff ff ff | 00");
  Reader h(huge);
  EXPECT_EQ(h.ArrayCount(), 0);
  EXPECT_FALSE(h.ok());

  Bytes compact_too_many = Hex("05 | 00 00 00");  // 4 elements of at least 1 byte in 3 bytes
  Reader c(compact_too_many);
  EXPECT_EQ(c.CompactArrayCount(), 0);
  EXPECT_FALSE(c.ok());

  Bytes compact_huge = Hex("ff ff ff ff 0f | 00");
  Reader ch(compact_huge);
  EXPECT_EQ(ch.CompactArrayCount(), 0);
  EXPECT_FALSE(ch.ok());
}

// ---------------------------------------------------------------------------------------------------------
// Tagged fields (KIP-482): uvarint count, then (uvarint tag, uvarint size, bytes) each; unknown tags skipped.

TEST(WirePrimitives, EmptyTagBufferIsOneZeroByte) {
  EXPECT_EQ(Encoded([](Writer& w) { w.EmptyTaggedFields(); }), "00");
  Bytes in = Hex("00 | 12 34");
  Reader r(in);
  r.SkipTaggedFields();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.Int16(), 0x1234);
}

TEST(WirePrimitives, UnknownTaggedFieldsAreSkipped) {
  // Three fields: tag 0 with 3 bytes, tag 129 (two-byte uvarint) with none, tag 7 with 130 bytes.
  std::string big(130, 'z');
  Bytes in = Hex("03 | 00 03 aa bb cc | 81 01 00 | 07 82 01 '" + big + "' | 12 34");
  Reader r(in);
  r.SkipTaggedFields();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.Int16(), 0x1234);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WirePrimitives, TruncatedTaggedFieldsFail) {
  for (const char* hex : {
           "",                // no count
           "01",              // count but no field
           "01 00",           // tag but no size
           "01 00 03 aa bb",  // size 3, two bytes
           "02 00 00",        // second field missing
           "01 00 ff ff ff ff 0f",
       }) {
    SCOPED_TRACE(hex);
    Bytes in = Hex(hex);
    Reader r(in);
    r.SkipTaggedFields();
    EXPECT_FALSE(r.ok());
  }
}

TEST(WirePrimitives, HugeTagCountFailsQuickly) {
  Bytes in = Hex("ff ff ff ff 0f | 00 00");
  Reader r(in);
  r.SkipTaggedFields();
  EXPECT_FALSE(r.ok());
}

// ---------------------------------------------------------------------------------------------------------
// Errors are sticky; truncation of every type fails.

TEST(WirePrimitives, ErrorIsStickyAfterTruncation) {
  Bytes in = Hex("01 02 03");
  Reader r(in);
  EXPECT_EQ(r.Int32(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  // Bytes are still there, but every later read yields a zero value and the reader stays failed.
  EXPECT_EQ(r.Int8(), 0);
  EXPECT_EQ(r.Int16(), 0);
  EXPECT_EQ(r.UnsignedVarint(), 0u);
  EXPECT_EQ(r.String(), "");
  EXPECT_EQ(r.NullableString(), std::nullopt);
  EXPECT_EQ(r.CompactString(), std::nullopt);
  EXPECT_EQ(r.NullableBytes(), std::nullopt);
  EXPECT_EQ(r.ArrayCount(), 0);
  EXPECT_TRUE(r.Raw(1).empty());
  EXPECT_FALSE(r.ok());
}

TEST(WirePrimitives, ExplicitFailIsSticky) {
  Bytes in = Hex("00 01");
  Reader r(in);
  r.Fail();
  EXPECT_EQ(r.Int16(), 0);
  EXPECT_FALSE(r.ok());
}

TEST(WirePrimitives, EveryTypeFailsOnTruncation) {
  struct Case {
    const char* name;
    const char* hex;  // one short of complete
    std::function<void(Reader&)> read;
  };
  const Case cases[] = {
      {"int8", "", [](Reader& r) { r.Int8(); }},
      {"int16", "01", [](Reader& r) { r.Int16(); }},
      {"int32", "01 02 03", [](Reader& r) { r.Int32(); }},
      {"uint32", "01 02 03", [](Reader& r) { r.Uint32(); }},
      {"int64", "01 02 03 04 05 06 07", [](Reader& r) { r.Int64(); }},
      {"string length", "00", [](Reader& r) { r.String(); }},
      {"string data", "00 05 'kafk'", [](Reader& r) { r.String(); }},
      {"nullable string data", "00 05 'kafk'", [](Reader& r) { r.NullableString(); }},
      {"compact string data", "06 'kafk'", [](Reader& r) { r.CompactString(); }},
      {"bytes length", "00 00 00", [](Reader& r) { r.NullableBytes(); }},
      {"bytes data", "00 00 00 0a 01 02 03", [](Reader& r) { r.NullableBytes(); }},
      {"bytes huge", "7f ff ff ff 01 02 03", [](Reader& r) { r.NullableBytes(); }},
      {"compact bytes data", "04 01 02", [](Reader& r) { r.CompactBytes(); }},
      {"compact bytes huge", "ff ff ff ff 0f 01", [](Reader& r) { r.CompactBytes(); }},
      {"array count", "00 00 01", [](Reader& r) { r.ArrayCount(); }},
      {"raw", "01 02", [](Reader& r) { r.Raw(3); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Bytes in = Hex(c.hex);
    Reader r(in);
    c.read(r);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Writer frame helpers.

TEST(WirePrimitives, ReservedLengthIsPatchedWithTheByteCountAfterIt) {
  Writer w;
  w.Int8(0x7f);
  size_t at = w.ReserveInt32();
  w.String("abc");
  w.PatchLengthSince(at);
  EXPECT_EQ(ToHex(w.bytes()), HexOf("7f | 00 00 00 05 | 00 03 'abc'"));
  w.PatchInt32(at, -2);
  EXPECT_EQ(ToHex(w.bytes()), HexOf("7f | ff ff ff fe | 00 03 'abc'"));
}

TEST(WirePrimitives, WriterAppendsToAGivenBuffer) {
  Writer w(Hex("aa"));
  w.Int16(1);
  EXPECT_EQ(w.size(), 3u);
  Bytes out = w.Take();
  EXPECT_EQ(ToHex(out), "aa 00 01");
}

}  // namespace
}  // namespace oncemq::protocol
