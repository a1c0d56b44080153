#include "protocol/compression.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <random>
#include <string>
#include <vector>

namespace oncemq::protocol {
namespace {

const Compression kCodecs[] = {Compression::kNone, Compression::kGzip, Compression::kSnappy,
                               Compression::kLz4, Compression::kZstd};
const Compression kRealCodecs[] = {Compression::kGzip, Compression::kSnappy, Compression::kLz4,
                                   Compression::kZstd};

Bytes Text(size_t n) {
  std::string s;
  while (s.size() < n) s += "oncemq record " + std::to_string(s.size() % 977) + "; ";
  s.resize(n);
  return Bytes(s.begin(), s.end());
}

Bytes Random(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(gen());
  return b;
}

Bytes MustCompress(Compression codec, const Bytes& in) {
  Result<Bytes> c = Compress(codec, in);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c.value() : Bytes{};
}

Bytes Concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class CompressionCodecTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressionCodecTest, RoundTripsEmptySmallLargeAndIncompressibleInputs) {
  for (const Bytes& in : {Bytes{}, Text(1), Text(100), Text(1 << 20), Random(200000, 7)}) {
    Bytes packed = MustCompress(GetParam(), in);
    Result<Bytes> out = Decompress(GetParam(), packed);
    ASSERT_TRUE(out.ok()) << CompressionName(GetParam()) << " " << in.size() << ": "
                          << out.status().ToString();
    EXPECT_EQ(out.value(), in) << CompressionName(GetParam()) << " " << in.size();
  }
}

TEST_P(CompressionCodecTest, OutputOverTheLimitIsResourceExhaustedAndAtTheLimitIsOk) {
  Bytes zeros(10 << 20, 0);
  Bytes packed = MustCompress(GetParam(), zeros);
  for (size_t limit : {size_t{1} << 20, zeros.size() - 1}) {
    Result<Bytes> out = Decompress(GetParam(), packed, limit);
    ASSERT_FALSE(out.ok()) << CompressionName(GetParam()) << " limit " << limit;
    EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().ToString();
  }
  Result<Bytes> out = Decompress(GetParam(), packed, zeros.size());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out.value(), zeros);
}

TEST_P(CompressionCodecTest, DecompressIntoReplacesTheBufferContents) {
  Bytes in = Text(5000);
  Bytes out = Text(7);
  ASSERT_TRUE(DecompressInto(GetParam(), MustCompress(GetParam(), in), out).ok());
  EXPECT_EQ(out, in);
}

INSTANTIATE_TEST_SUITE_P(Compression, CompressionCodecTest, ::testing::ValuesIn(kCodecs),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

class CompressionRealCodecTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressionRealCodecTest, TruncatedStreamIsCorruption) {
  Bytes packed = MustCompress(GetParam(), Text(10000));
  for (size_t cut : {size_t{0}, size_t{1}, packed.size() / 2, packed.size() - 1}) {
    Result<Bytes> out = Decompress(GetParam(), ByteView(packed).first(cut));
    ASSERT_FALSE(out.ok()) << CompressionName(GetParam()) << " cut at " << cut;
    EXPECT_EQ(out.status().code(), StatusCode::kCorruption) << out.status().ToString();
  }
}

TEST_P(CompressionRealCodecTest, EveryTruncationFailsCleanly) {
  Bytes packed = MustCompress(GetParam(), Random(3000, 3));
  for (size_t cut = 0; cut < packed.size(); ++cut) {
    EXPECT_FALSE(Decompress(GetParam(), ByteView(packed).first(cut)).ok()) << "cut at " << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(Compression, CompressionRealCodecTest, ::testing::ValuesIn(kRealCodecs),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

TEST(Compression, EachCodecWritesTheFormatKafkaClientsExpect) {
  Bytes in = Text(100);
  Bytes gzip = MustCompress(Compression::kGzip, in);
  EXPECT_EQ(Bytes(gzip.begin(), gzip.begin() + 3), (Bytes{0x1f, 0x8b, 0x08}));  // gzip member, deflate
  Bytes snappy = MustCompress(Compression::kSnappy, in);
  EXPECT_EQ(snappy[0], 100);  // raw snappy starts with the uncompressed length, not the xerial magic
  Bytes lz4 = MustCompress(Compression::kLz4, in);
  EXPECT_EQ(Bytes(lz4.begin(), lz4.begin() + 4), (Bytes{0x04, 0x22, 0x4d, 0x18}));  // LZ4 frame magic
  EXPECT_NE(lz4[4] & 0x20, 0);                                                      // FLG: blocks independent
  Bytes zstd = MustCompress(Compression::kZstd, in);
  EXPECT_EQ(Bytes(zstd.begin(), zstd.begin() + 4), (Bytes{0x28, 0xb5, 0x2f, 0xfd}));
}

TEST(Compression, DecodesHandWrittenRawSnappy) {
  Bytes raw = {0x05, 0x10, 'h', 'e', 'l', 'l', 'o'};  // length 5, one literal of 5 bytes
  Result<Bytes> out = Decompress(Compression::kSnappy, raw);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out.value(), (Bytes{'h', 'e', 'l', 'l', 'o'}));
}

Bytes XerialHeader() {
  return {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
}

void AppendXerialBlock(Bytes& frame, const Bytes& chunk) {
  uint8_t len[4];
  StoreBe32(len, static_cast<uint32_t>(chunk.size()));
  frame.insert(frame.end(), len, len + 4);
  frame.insert(frame.end(), chunk.begin(), chunk.end());
}

TEST(Compression, DecodesXerialFramedSnappyBlocks) {
  Bytes first = {0x05, 0x10, 'h', 'e', 'l', 'l', 'o'};
  Bytes second_text = Text(70000);
  Bytes frame = XerialHeader();
  AppendXerialBlock(frame, first);
  AppendXerialBlock(frame, MustCompress(Compression::kSnappy, second_text));
  Result<Bytes> out = Decompress(Compression::kSnappy, frame);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out.value(), Concat(Bytes{'h', 'e', 'l', 'l', 'o'}, second_text));
}

TEST(Compression, XerialWithNoBlocksIsEmpty) {
  Result<Bytes> out = Decompress(Compression::kSnappy, XerialHeader());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out.value().empty());
}

TEST(Compression, MalformedXerialFramesAreCorruption) {
  Bytes chunk = {0x05, 0x10, 'h', 'e', 'l', 'l', 'o'};
  Bytes short_length = XerialHeader();
  short_length.insert(short_length.end(), {0, 0, 0});
  Bytes past_end = XerialHeader();
  AppendXerialBlock(past_end, chunk);
  past_end.pop_back();
  Bytes bad_chunk = XerialHeader();
  AppendXerialBlock(bad_chunk, {0x09, 0x10, 'h', 'e', 'l', 'l', 'o'});  // claims 9 bytes, holds 5
  for (const Bytes& frame : {short_length, past_end, bad_chunk}) {
    Result<Bytes> out = Decompress(Compression::kSnappy, frame);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kCorruption) << out.status().ToString();
  }
}

TEST(Compression, XerialBlocksCountTowardsTheLimitTogether) {
  Bytes frame = XerialHeader();
  Bytes chunk = MustCompress(Compression::kSnappy, Bytes(600, 'a'));
  AppendXerialBlock(frame, chunk);
  AppendXerialBlock(frame, chunk);
  EXPECT_TRUE(Decompress(Compression::kSnappy, frame, 1200).ok());
  Result<Bytes> out = Decompress(Compression::kSnappy, frame, 1000);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);
}

TEST(Compression, ConcatenatedGzipMembersLz4FramesAndZstdFramesDecodeInOrder) {
  Bytes a = Text(3000), b = Random(500, 9);
  for (Compression codec : {Compression::kGzip, Compression::kLz4, Compression::kZstd}) {
    Result<Bytes> out = Decompress(codec, Concat(MustCompress(codec, a), MustCompress(codec, b)));
    ASSERT_TRUE(out.ok()) << CompressionName(codec) << ": " << out.status().ToString();
    EXPECT_EQ(out.value(), Concat(a, b)) << CompressionName(codec);
  }
}

TEST(Compression, TrailingGarbageIsCorruption) {
  for (Compression codec : {Compression::kGzip, Compression::kLz4, Compression::kZstd}) {
    Bytes packed = Concat(MustCompress(codec, Text(100)), Bytes{1, 2, 3, 4, 5, 6, 7, 8});
    Result<Bytes> out = Decompress(codec, packed);
    ASSERT_FALSE(out.ok()) << CompressionName(codec);
    EXPECT_EQ(out.status().code(), StatusCode::kCorruption) << out.status().ToString();
  }
}

TEST(Compression, GzipBitFlipFailsTheChecksum) {
  Bytes packed = MustCompress(Compression::kGzip, Text(1000));
  packed[packed.size() - 6] ^= 0x01;  // inside the CRC-32 trailer
  Result<Bytes> out = Decompress(Compression::kGzip, packed);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kCorruption);
}

Bytes ZstdWithoutContentSize(const Bytes& in) {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(ctx, ZSTD_c_contentSizeFlag, 0);
  Bytes out(ZSTD_compressBound(in.size()) + 64);
  ZSTD_outBuffer dst{out.data(), out.size(), 0};
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  size_t left = ZSTD_compressStream2(ctx, &dst, &src, ZSTD_e_end);
  ZSTD_freeCCtx(ctx);
  EXPECT_EQ(left, 0u);
  out.resize(dst.pos);
  return out;
}

TEST(Compression, ZstdFrameWithoutContentSizeStreamsWithinTheLimit) {
  Bytes in = Text(300000);
  Bytes packed = ZstdWithoutContentSize(in);
  ASSERT_EQ(ZSTD_getFrameContentSize(packed.data(), packed.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  Result<Bytes> out = Decompress(Compression::kZstd, packed);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out.value(), in);
  Result<Bytes> bounded = Decompress(Compression::kZstd, packed, in.size() - 1);
  ASSERT_FALSE(bounded.ok());
  EXPECT_EQ(bounded.status().code(), StatusCode::kResourceExhausted);
}

TEST(Compression, UnknownCodecIsInvalidArgument) {
  auto bogus = static_cast<Compression>(6);
  EXPECT_EQ(Decompress(bogus, Text(10)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Compress(bogus, Text(10)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CompressionName(bogus), "unknown");
}

}  // namespace
}  // namespace oncemq::protocol
