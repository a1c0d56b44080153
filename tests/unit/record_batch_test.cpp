#include "protocol/record_batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace oncemq::protocol {
namespace {

// One record (key "k", value "v", header "h" = "x") in a batch, written out field by field.
// The CRC was computed independently with a bitwise CRC-32C (polynomial 0x82F63B78) over bytes [21, 74).
const Bytes kKnownBatch = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,  // baseOffset 5
    0x00, 0x00, 0x00, 0x3e,                          // batchLength 62
    0xff, 0xff, 0xff, 0xff,                          // partitionLeaderEpoch -1
    0x02,                                            // magic 2
    0x4c, 0xc0, 0x8b, 0x8d,                          // crc
    0x00, 0x00,                                      // attributes: no compression, CreateTime
    0x00, 0x00, 0x00, 0x00,                          // lastOffsetDelta 0
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // baseTimestamp 1700000000000
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // maxTimestamp 1700000000000
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,  // producerId 1000
    0x00, 0x02,                                      // producerEpoch 2
    0x00, 0x00, 0x00, 0x07,                          // baseSequence 7
    0x00, 0x00, 0x00, 0x01,                          // recordsCount 1
    0x18,                                            // record length 12 (zig-zag 24)
    0x00,                                            // record attributes
    0x00,                                            // timestampDelta 0
    0x00,                                            // offsetDelta 0
    0x02, 'k',                                       // key length 1, "k"
    0x02, 'v',                                       // value length 1, "v"
    0x02,                                            // 1 header
    0x02, 'h',                                       // header key length 1, "h"
    0x02, 'x',                                       // header value length 1, "x"
};
constexpr int64_t kTs = 1700000000000;

ByteView B(std::string_view s) {
  return AsBytes(s);
}
std::string S(ByteView b) {
  return std::string(AsStringView(b));
}

BatchOptions KnownOptions() {
  BatchOptions o;
  o.base_offset = 5;
  o.producer_id = 1000;
  o.producer_epoch = 2;
  o.base_sequence = 7;
  return o;
}

Bytes MustBuild(const RecordBatchBuilder& builder) {
  Result<Bytes> batch = builder.Build();
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  return batch.ok() ? batch.value() : Bytes{};
}

BatchHeader MustParse(const Bytes& batch) {
  Result<BatchHeader> h = BatchHeader::Parse(batch);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.value();
}

// Reads every record of a batch (any codec) into owned strings; "<null>" marks a null.
struct Owned {
  int64_t timestamp_delta;
  int32_t offset_delta;
  std::string key, value;
  std::vector<std::pair<std::string, std::string>> headers;
  bool operator==(const Owned&) const = default;
};
std::string OrNull(std::optional<ByteView> b) {
  return b ? S(*b) : "<null>";
}

std::vector<Owned> ReadAll(const Bytes& batch) {
  BatchHeader h = MustParse(batch);
  EXPECT_TRUE(h.CrcMatches());
  Bytes scratch;
  Result<ByteView> section = RecordsSection(h, scratch);
  EXPECT_TRUE(section.ok()) << section.status().ToString();
  if (!section.ok()) return {};
  std::vector<Owned> out;
  RecordIterator it(section.value(), h.records_count());
  while (auto r = it.Next()) {
    Owned o{r->timestamp_delta, r->offset_delta, OrNull(r->key), OrNull(r->value), {}};
    for (const RecordHeader& hd : r->headers) o.headers.emplace_back(std::string(hd.key), OrNull(hd.value));
    out.push_back(o);
  }
  EXPECT_TRUE(it.ok()) << it.status().ToString();
  return out;
}

TEST(RecordBatch, BuilderWritesTheKnownBytes) {
  RecordBatchBuilder builder(KnownOptions());
  RecordHeader header{"h", B("x")};
  builder.Append(kTs, B("k"), B("v"), {&header, 1});
  EXPECT_EQ(MustBuild(builder), kKnownBatch);
}

TEST(RecordBatch, IteratorReadsTheKnownBytes) {
  BatchHeader h = MustParse(kKnownBatch);
  EXPECT_TRUE(h.CrcMatches());
  EXPECT_EQ(h.base_offset(), 5);
  EXPECT_EQ(h.producer_id(), 1000);
  EXPECT_EQ(h.records_count(), 1);
  RecordIterator it(h);
  std::optional<Record> r = it.Next();
  ASSERT_TRUE(r.has_value()) << it.status().ToString();
  EXPECT_EQ(r->attributes, 0);
  EXPECT_EQ(r->timestamp_delta, 0);
  EXPECT_EQ(r->offset_delta, 0);
  EXPECT_EQ(S(r->key.value()), "k");
  EXPECT_EQ(S(r->value.value()), "v");
  EXPECT_EQ(r->encoded.size(), 13u);
  EXPECT_EQ(r->encoded.data(), kKnownBatch.data() + 61);  // a view into the batch, not a copy
  ASSERT_EQ(r->headers.size(), 1);
  auto hd = r->headers.begin();
  EXPECT_EQ(hd->key, "h");
  EXPECT_EQ(S(hd->value.value()), "x");
  EXPECT_EQ(++hd, r->headers.end());
  EXPECT_FALSE(it.Next().has_value());
  EXPECT_TRUE(it.ok()) << it.status().ToString();
  EXPECT_EQ(it.records_read(), 1);
}

TEST(RecordBatch, NullKeysValuesAndHeaderValuesSurviveARoundTrip) {
  RecordBatchBuilder builder;
  RecordHeader headers[] = {{"null", std::nullopt}, {"", B("")}, {"id", B("42")}};
  builder.Append(kTs, std::nullopt, std::nullopt, headers);
  builder.Append(kTs, B(""), B(""));
  std::vector<Owned> got = ReadAll(MustBuild(builder));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], (Owned{0, 0, "<null>", "<null>", {{"null", "<null>"}, {"", ""}, {"id", "42"}}}));
  EXPECT_EQ(got[1], (Owned{0, 1, "", "", {}}));
}

TEST(RecordBatch, NullIsDistinctFromEmpty) {
  RecordBatchBuilder builder;
  builder.Append(kTs, std::nullopt, B(""));
  Bytes batch = MustBuild(builder);
  RecordIterator it(MustParse(batch));
  auto r = it.Next();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->key.has_value());
  ASSERT_TRUE(r->value.has_value());
  EXPECT_TRUE(r->value->empty());
}

std::vector<Owned> ManyRecords(RecordBatchBuilder& builder, int n = 300) {
  std::vector<Owned> expected;
  for (int i = 0; i < n; ++i) {
    std::string key = "key-" + std::to_string(i);
    std::string value(static_cast<size_t>(i * 7), static_cast<char>('a' + i % 26));
    std::string hv = std::to_string(i * i);
    RecordHeader headers[] = {{"oncemq-msg-id", B(hv)}, {"n", B(key)}};
    int64_t ts = kTs + (i % 5 == 0 ? -i : i * 1000);  // some timestamps before the first one
    builder.Append(ts, B(key), B(value), std::span(headers, static_cast<size_t>(i % 3)));
    Owned o{ts - kTs, i, key, value, {}};
    for (int h = 0; h < i % 3; ++h) o.headers.emplace_back(std::string(headers[h].key), S(*headers[h].value));
    expected.push_back(o);
  }
  return expected;
}

class RecordBatchCodecTest : public ::testing::TestWithParam<Compression> {};

TEST_P(RecordBatchCodecTest, ManyRecordsRoundTrip) {
  BatchOptions options;
  options.compression = GetParam();
  RecordBatchBuilder builder(options);
  std::vector<Owned> expected = ManyRecords(builder);
  Bytes batch = MustBuild(builder);
  BatchHeader h = MustParse(batch);
  EXPECT_EQ(h.compression(), GetParam());
  EXPECT_EQ(h.records_count(), 300);
  EXPECT_EQ(h.last_offset_delta(), 299);
  EXPECT_EQ(h.base_timestamp(), kTs);
  EXPECT_EQ(h.max_timestamp(), kTs + 299 * 1000);
  EXPECT_EQ(h.total_size(), batch.size());
  EXPECT_EQ(ReadAll(batch), expected);
}

INSTANTIATE_TEST_SUITE_P(RecordBatch, RecordBatchCodecTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip, Compression::kSnappy,
                                           Compression::kLz4, Compression::kZstd),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

TEST(RecordBatch, IteratorRefusesACompressedBatch) {
  BatchOptions options;
  options.compression = Compression::kZstd;
  RecordBatchBuilder builder(options);
  builder.Append(kTs, B("k"), B("v"));
  Bytes batch = MustBuild(builder);
  RecordIterator it(MustParse(batch));
  EXPECT_FALSE(it.Next().has_value());
  EXPECT_EQ(it.status().code(), StatusCode::kInvalidArgument);
}

TEST(RecordBatch, RecordsSectionOfAnUncompressedBatchIsAViewIntoIt) {
  BatchHeader h = MustParse(kKnownBatch);
  Bytes scratch;
  Result<ByteView> section = RecordsSection(h, scratch);
  ASSERT_TRUE(section.ok());
  EXPECT_EQ(section->data(), kKnownBatch.data() + 61);
  EXPECT_EQ(section->size(), 13u);
  EXPECT_TRUE(scratch.empty());
}

TEST(RecordBatch, RecordsSectionReportsABombAndAnUnknownCodec) {
  BatchOptions options;
  options.compression = Compression::kGzip;
  RecordBatchBuilder builder(options);
  builder.Append(kTs, std::nullopt, Bytes(1 << 20, 0));
  Bytes batch = MustBuild(builder);
  Bytes scratch;
  EXPECT_EQ(RecordsSection(MustParse(batch), scratch, 4096).status().code(), StatusCode::kResourceExhausted);

  batch[22] = static_cast<uint8_t>((batch[22] & ~0x7) | 6);  // codec 6 does not exist
  EXPECT_EQ(RecordsSection(MustParse(batch), scratch).status().code(), StatusCode::kCorruption);
}

TEST(RecordBatch, BuilderWritesOptionsAndAttributeFlags) {
  BatchOptions options;
  options.base_offset = 1234567890123;
  options.partition_leader_epoch = 9;
  options.compression = Compression::kLz4;
  options.attribute_flags = 0x8 | 0x10 | 0x7;  // LogAppendTime, transactional; codec bits ignored
  options.base_timestamp = kTs - 50;
  options.max_timestamp = kTs + 999;
  RecordBatchBuilder builder(options);
  builder.Append(kTs, B("k"), B("v"));
  builder.Append(kTs + 10, B("k"), B("v"));
  Bytes batch = MustBuild(builder);
  BatchHeader h = MustParse(batch);
  EXPECT_TRUE(h.CrcMatches());
  EXPECT_EQ(h.base_offset(), 1234567890123);
  EXPECT_EQ(static_cast<int32_t>(LoadBe32(batch.data() + 12)), 9);
  EXPECT_EQ(h.compression(), Compression::kLz4);
  EXPECT_TRUE(h.log_append_time());
  EXPECT_TRUE(h.transactional());
  EXPECT_FALSE(h.control());
  EXPECT_EQ(h.base_timestamp(), kTs - 50);
  EXPECT_EQ(h.max_timestamp(), kTs + 999);
  EXPECT_EQ(h.producer_id(), -1);
  EXPECT_EQ(h.producer_epoch(), -1);
  EXPECT_EQ(h.base_sequence(), -1);
  std::vector<Owned> got = ReadAll(batch);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].timestamp_delta, 50);
  EXPECT_EQ(got[1].timestamp_delta, 60);
}

TEST(RecordBatch, BuilderWithoutRecordsIsInvalidArgument) {
  RecordBatchBuilder builder;
  EXPECT_EQ(builder.Build().status().code(), StatusCode::kInvalidArgument);
}

TEST(RecordBatch, RewritingABatchWithoutSomeRecordsKeepsTheirContent) {
  RecordBatchBuilder original;
  for (int i = 0; i < 4; ++i) {
    std::string id = "id-" + std::to_string(i);
    RecordHeader header{"oncemq-msg-id", B(id)};
    original.Append(kTs + i * 10, B("k" + std::to_string(i)), B("v" + std::to_string(i)), {&header, 1});
  }
  Bytes batch = MustBuild(original);
  BatchHeader h = MustParse(batch);
  BatchOptions options;
  options.base_offset = 100;
  RecordBatchBuilder rewritten(options);
  RecordIterator it(h);
  while (auto r = it.Next()) {
    auto id = r->headers.Find("oncemq-msg-id");
    ASSERT_TRUE(id.has_value());
    if (S(*id->value) != "id-1") rewritten.Append(*r, h.base_timestamp());
  }
  ASSERT_TRUE(it.ok());
  std::vector<Owned> got = ReadAll(MustBuild(rewritten));
  std::vector<Owned> want = {{0, 0, "k0", "v0", {{"oncemq-msg-id", "id-0"}}},
                             {20, 1, "k2", "v2", {{"oncemq-msg-id", "id-2"}}},
                             {30, 2, "k3", "v3", {{"oncemq-msg-id", "id-3"}}}};
  EXPECT_EQ(got, want);
}

TEST(RecordBatch, HeadersFindReturnsTheFirstMatchOrNothing) {
  RecordBatchBuilder builder;
  RecordHeader headers[] = {{"a", B("1")}, {"b", std::nullopt}, {"a", B("2")}};
  builder.Append(kTs, B("k"), B("v"), headers);
  Bytes batch = MustBuild(builder);
  RecordIterator it(MustParse(batch));
  auto r = it.Next();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(S(*r->headers.Find("a")->value), "1");
  ASSERT_TRUE(r->headers.Find("b").has_value());
  EXPECT_FALSE(r->headers.Find("b")->value.has_value());
  EXPECT_FALSE(r->headers.Find("c").has_value());
}

// ---- corrupt records sections, hand-written ----

Status IterateAll(ByteView records, int32_t count) {
  RecordIterator it(records, count);
  while (it.Next()) {
  }
  return it.status();
}

// The record of kKnownBatch, alone.
Bytes KnownRecord() {
  return Bytes(kKnownBatch.begin() + 61, kKnownBatch.end());
}

void ExpectCorruption(const Bytes& records, int32_t count, std::string_view what) {
  Status s = IterateAll(records, count);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << what << ": " << s.ToString();
}

TEST(RecordBatch, IteratorAcceptsTheKnownRecordAlone) {
  EXPECT_TRUE(IterateAll(KnownRecord(), 1).ok());
}

TEST(RecordBatch, TruncatedVarintIsCorruption) {
  ExpectCorruption({0x80}, 1, "length varint with continuation bit and no next byte");
  ExpectCorruption({0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, 1, "overlong length varint");
  ExpectCorruption({0x0a, 0x00, 0x80, 0x80, 0x80, 0x80}, 1, "timestamp varlong runs out inside the record");
}

TEST(RecordBatch, LengthPastTheEndIsCorruption) {
  Bytes r = KnownRecord();
  r[0] = 0x1a;  // 13 bytes claimed, 12 present
  ExpectCorruption(r, 1, "record length");
  r = KnownRecord();
  r[0] = 0x01;  // length -1
  ExpectCorruption(r, 1, "negative record length");
  r = KnownRecord();
  r[4] = 0x04;  // key length 2: runs into the value length
  ExpectCorruption(r, 1, "key length shifts the rest");
  r = KnownRecord();
  r[9] = 0x20;  // header key length 16, past the record
  ExpectCorruption(r, 1, "header key length");
}

TEST(RecordBatch, NegativeLengthsOtherThanNullAreCorruption) {
  Bytes r = KnownRecord();
  r[4] = 0x03;  // key length -2
  ExpectCorruption(r, 1, "key length -2");
  r = KnownRecord();
  r[9] = 0x01;  // header key length -1: header keys are never null
  ExpectCorruption(r, 1, "null header key");
  r = KnownRecord();
  r[8] = 0x01;  // header count -1
  ExpectCorruption(r, 1, "negative header count");
}

TEST(RecordBatch, CountMismatchIsCorruption) {
  Bytes two = KnownRecord();
  Bytes one = KnownRecord();
  two.insert(two.end(), one.begin(), one.end());
  EXPECT_TRUE(IterateAll(two, 2).ok());
  ExpectCorruption(two, 1, "more records than the count");
  ExpectCorruption(two, 3, "fewer records than the count");
  ExpectCorruption(one, -1, "negative count");
  EXPECT_TRUE(IterateAll({}, 0).ok());
}

TEST(RecordBatch, TrailingBytesAreCorruption) {
  Bytes r = KnownRecord();
  r.push_back(0x00);
  ExpectCorruption(r, 1, "a byte after the last record");
}

TEST(RecordBatch, BytesLeftInsideARecordAreCorruption) {
  Bytes r = KnownRecord();
  r[0] = 0x1a;  // 13: one byte more than the fields use
  r.push_back(0x00);
  ExpectCorruption(r, 1, "record longer than its fields");
}

TEST(RecordBatch, ErrorsAreStickyAndStopIteration) {
  Bytes r = KnownRecord();
  Bytes bad = r;
  bad[0] = 0x7f;  // huge negative length
  r.insert(r.end(), bad.begin(), bad.end());
  RecordIterator it(r, 2);
  EXPECT_TRUE(it.Next().has_value());
  EXPECT_FALSE(it.Next().has_value());
  EXPECT_EQ(it.status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(it.Next().has_value());
  EXPECT_EQ(it.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(it.records_read(), 1);
}

TEST(RecordBatch, EveryTruncationOfARecordsSectionIsCorruption) {
  RecordBatchBuilder builder;
  ManyRecords(builder, 40);
  Bytes batch = MustBuild(builder);
  ByteView records = ByteView(batch).subspan(61);
  ASSERT_TRUE(IterateAll(records, 40).ok());
  for (size_t cut = 0; cut < records.size(); ++cut) {
    EXPECT_EQ(IterateAll(records.first(cut), 40).code(), StatusCode::kCorruption) << "cut at " << cut;
  }
}

TEST(RecordBatch, EverySingleByteChangeIsCaughtByTheCrcOrTheParser) {
  for (size_t i = 21; i < kKnownBatch.size(); ++i) {
    Bytes batch = kKnownBatch;
    batch[i] ^= 0x40;
    EXPECT_FALSE(MustParse(batch).CrcMatches()) << "byte " << i;
  }
}

}  // namespace
}  // namespace oncemq::protocol
