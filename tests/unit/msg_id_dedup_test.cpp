#include "broker/msg_id_dedup.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/record_batch.h"

namespace oncemq::broker {
namespace {

using protocol::BatchHeader;
using protocol::Compression;
using protocol::RecordBatchBuilder;
using protocol::RecordHeader;

constexpr int64_t kNow = 1'700'000'000'000;

// A batch whose records carry the given msg-ids ("" = no header); values are "v<i>".
Bytes MakeBatch(const std::vector<std::string>& ids, Compression codec = Compression::kNone,
                int64_t producer_id = -1) {
  protocol::BatchOptions options;
  options.compression = codec;
  options.producer_id = producer_id;
  options.producer_epoch = producer_id >= 0 ? 0 : -1;
  options.base_sequence = producer_id >= 0 ? 10 : -1;
  RecordBatchBuilder builder(options);
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string value = "v" + std::to_string(i);
    std::vector<RecordHeader> headers;
    if (!ids[i].empty()) headers.push_back({kMsgIdHeader, AsBytes(ids[i])});
    builder.Append(kNow, std::nullopt, AsBytes(value), headers);
  }
  return builder.Build().value();
}

std::vector<std::string> Values(const Bytes& batch) {
  auto header = BatchHeader::Parse(batch).value();
  Bytes scratch;
  auto records = protocol::RecordsSection(header, scratch).value();
  protocol::RecordIterator it(records, header.records_count());
  std::vector<std::string> out;
  while (auto r = it.Next()) out.emplace_back(AsStringView(*r->value));
  EXPECT_TRUE(it.ok());
  return out;
}

TEST(MsgIdDedup, BatchWithoutDuplicatesIsLeftAlone) {
  MsgIdWindow window(60'000, 1000);
  Bytes batch = MakeBatch({"a", "b", ""});
  MsgIdScan scan;
  Bytes scratch;
  ASSERT_TRUE(ScanMsgIds(BatchHeader::Parse(batch).value(), window, kNow, scratch, scan).ok());
  EXPECT_FALSE(scan.any_duplicate());
  ASSERT_EQ(scan.fresh.size(), 2u);
  EXPECT_EQ(scan.fresh[0].msg_id, "a");
  EXPECT_EQ(scan.fresh[1].offset_delta, 1);
  EXPECT_EQ(scan.records, 3);
}

// An all-duplicate re-send is answered at its originals only when base + index names each one's original;
// otherwise the broker must answer with empty slots (a client would otherwise be told another message's
// offset — found by the chaos suite).
TEST(MsgIdDedup, OriginalsAreInOrderOnlyWhenBasePlusIndexNamesEachOriginal) {
  MsgIdWindow window(60'000, 1000);
  window.Insert("a", Offset(10), kNow - 10);
  window.Insert("b", Offset(11), kNow - 10);
  window.Insert("c", Offset(12), kNow - 10);
  window.Insert("x", Offset(30), kNow - 10);
  Bytes scratch;
  auto scan_of = [&](std::vector<std::string> ids) {
    MsgIdScan scan;
    Bytes batch = MakeBatch(ids);
    EXPECT_TRUE(ScanMsgIds(BatchHeader::Parse(batch).value(), window, kNow, scratch, scan).ok());
    return scan;
  };
  EXPECT_TRUE(scan_of({"a", "b", "c"}).originals_in_order);
  EXPECT_TRUE(scan_of({"b", "c"}).originals_in_order);
  EXPECT_FALSE(scan_of({"a", "c"}).originals_in_order) << "c is not at a's offset + 1";
  EXPECT_FALSE(scan_of({"a", "x"}).originals_in_order);
  EXPECT_FALSE(scan_of({"b", "a"}).originals_in_order);
  EXPECT_FALSE(scan_of({"a", "new"}).originals_in_order) << "not all duplicates";
  EXPECT_FALSE(scan_of({"a", "a"}).originals_in_order) << "a repeat within the batch";
}

TEST(MsgIdDedup, IdSeenInTheWindowIsDroppedAndItsOriginalReported) {
  MsgIdWindow window(60'000, 1000);
  window.Insert("b", Offset(41), kNow - 10);
  window.Insert("d", Offset(42), kNow - 5);
  Bytes batch = MakeBatch({"a", "b", "c", "d"});
  MsgIdScan scan;
  Bytes scratch;
  auto header = BatchHeader::Parse(batch).value();
  ASSERT_TRUE(ScanMsgIds(header, window, kNow, scratch, scan).ok());
  EXPECT_EQ(scan.dropped, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(scan.first_original, Offset(41));
  EXPECT_EQ(scan.max_original, Offset(42));

  Bytes rewritten = RewriteWithout(header, scan, scratch).value();
  auto out = BatchHeader::Parse(rewritten).value();
  EXPECT_TRUE(out.CrcMatches());
  EXPECT_EQ(out.records_count(), 2);
  EXPECT_EQ(out.last_offset_delta(), 3);  // the dropped records leave offset gaps
  EXPECT_EQ(rewritten.size(), out.total_size());
  EXPECT_EQ(Values(rewritten), (std::vector<std::string>{"v0", "v2"}));
}

TEST(MsgIdDedup, RepeatWithinOneBatchKeepsOnlyTheFirst) {
  MsgIdWindow window(60'000, 1000);
  Bytes batch = MakeBatch({"x", "y", "x", "", "y"});
  MsgIdScan scan;
  Bytes scratch;
  auto header = BatchHeader::Parse(batch).value();
  ASSERT_TRUE(ScanMsgIds(header, window, kNow, scratch, scan).ok());
  EXPECT_EQ(scan.dropped, (std::vector<int32_t>{2, 4}));
  EXPECT_FALSE(scan.first_original.has_value());
  EXPECT_EQ(Values(RewriteWithout(header, scan, scratch).value()),
            (std::vector<std::string>{"v0", "v1", "v3"}));
}

// Thousands of records, each id three times, interleaved: every repeat is found, whatever the probe order.
TEST(MsgIdDedup, ManyRepeatsWithinOneBatchKeepOnlyEachFirst) {
  MsgIdWindow window(60'000, 10'000);
  std::vector<std::string> ids;
  for (int i = 0; i < 3000; ++i) ids.push_back("id-" + std::to_string(i % 1000));
  Bytes batch = MakeBatch(ids);
  MsgIdScan scan;
  Bytes scratch;
  ASSERT_TRUE(ScanMsgIds(BatchHeader::Parse(batch).value(), window, kNow, scratch, scan).ok());
  ASSERT_EQ(scan.fresh.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(scan.fresh[i].offset_delta, i);
    ASSERT_EQ(scan.fresh[i].msg_id, ids[i]);
  }
  ASSERT_EQ(scan.dropped.size(), 2000u);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(scan.dropped[i], 1000 + i);
}

TEST(MsgIdDedup, IdInTheWindowAndRepeatedInTheBatchIsDroppedEachTime) {
  MsgIdWindow window(60'000, 1000);
  window.Insert("a", Offset(9), kNow);
  Bytes batch = MakeBatch({"a", "b", "a", "b"});
  MsgIdScan scan;
  Bytes scratch;
  ASSERT_TRUE(ScanMsgIds(BatchHeader::Parse(batch).value(), window, kNow, scratch, scan).ok());
  EXPECT_EQ(scan.dropped, (std::vector<int32_t>{0, 2, 3}));
  ASSERT_EQ(scan.fresh.size(), 1u);
  EXPECT_EQ(scan.fresh[0].msg_id, "b");
  EXPECT_EQ(scan.first_original, Offset(9));
}

// A scan reused for the next batch remembers nothing of the previous one.
TEST(MsgIdDedup, ReusedScanForgetsThePreviousBatch) {
  MsgIdWindow window(60'000, 1000);
  MsgIdScan scan;
  Bytes scratch;
  Bytes first = MakeBatch({"a", "b", "c", "d", "e"});
  ASSERT_TRUE(ScanMsgIds(BatchHeader::Parse(first).value(), window, kNow, scratch, scan).ok());
  Bytes second = MakeBatch({"x", "b"});
  ASSERT_TRUE(ScanMsgIds(BatchHeader::Parse(second).value(), window, kNow, scratch, scan).ok());
  EXPECT_FALSE(scan.any_duplicate());
  ASSERT_EQ(scan.fresh.size(), 2u);
  EXPECT_EQ(scan.fresh[1].msg_id, "b");
}

// The scan hashes each id once; InsertFresh reuses those hashes, so the records may be gone by then.
TEST(MsgIdDedup, InsertFreshRecordsKeptIdsAtTheirOffsetsWithoutTheRecords) {
  MsgIdWindow window(60'000, 1000);
  MsgIdScan scan;
  Bytes scratch;
  {
    Bytes batch = MakeBatch({"a", "", "b", "a"}, Compression::kLz4);
    ASSERT_TRUE(ScanMsgIds(BatchHeader::Parse(batch).value(), window, kNow, scratch, scan).ok());
  }
  ASSERT_EQ(scan.fresh.size(), 2u);
  EXPECT_EQ(scan.fresh[0].hash, window.HashOf("a"));
  EXPECT_EQ(scan.fresh[1].hash, window.HashOf("b"));
  scratch.assign(scratch.size(), 0);  // the decompressed records the ids viewed
  InsertFresh(scan, Offset(100), kNow, window);
  EXPECT_EQ(window.size(), 2u);
  EXPECT_EQ(window.Find("a", kNow), Offset(100));
  EXPECT_EQ(window.Find("b", kNow), Offset(102));
}

TEST(MsgIdDedup, CompressedBatchIsRecompressedWithItsCodec) {
  MsgIdWindow window(60'000, 1000);
  window.Insert("a", Offset(7), kNow);
  Bytes batch = MakeBatch({"a", "b", "c"}, Compression::kLz4);
  MsgIdScan scan;
  Bytes scratch;
  auto header = BatchHeader::Parse(batch).value();
  ASSERT_TRUE(ScanMsgIds(header, window, kNow, scratch, scan).ok());
  Bytes rewritten = RewriteWithout(header, scan, scratch).value();
  auto out = BatchHeader::Parse(rewritten).value();
  EXPECT_EQ(out.compression(), Compression::kLz4);
  EXPECT_TRUE(out.CrcMatches());
  EXPECT_EQ(Values(rewritten), (std::vector<std::string>{"v1", "v2"}));
}

TEST(MsgIdDedup, IdempotentBatchOfOnlyDuplicatesKeepsItsSequenceRangeWithNoRecords) {
  MsgIdWindow window(60'000, 1000);
  window.Insert("a", Offset(1), kNow);
  window.Insert("b", Offset(2), kNow);
  Bytes batch = MakeBatch({"a", "b"}, Compression::kZstd, /*producer_id=*/5);
  MsgIdScan scan;
  Bytes scratch;
  auto header = BatchHeader::Parse(batch).value();
  ASSERT_TRUE(ScanMsgIds(header, window, kNow, scratch, scan).ok());
  Bytes rewritten = RewriteWithout(header, scan, scratch).value();
  auto out = BatchHeader::Parse(rewritten).value();
  EXPECT_TRUE(out.CrcMatches());
  EXPECT_EQ(out.records_count(), 0);
  EXPECT_EQ(out.last_offset_delta(), 1);
  EXPECT_EQ(out.base_sequence(), 10);
  EXPECT_EQ(out.producer_id(), 5);
  EXPECT_EQ(out.compression(), Compression::kNone);  // nothing left to inflate
  EXPECT_EQ(rewritten.size(), protocol::batch_layout::kHeaderSize);
}

TEST(MsgIdDedup, IdOutsideTheWindowIsNotADuplicate) {
  MsgIdWindow window(1000, 1000);
  window.Insert("a", Offset(1), kNow - 1000);
  Bytes batch = MakeBatch({"a"});
  MsgIdScan scan;
  Bytes scratch;
  ASSERT_TRUE(ScanMsgIds(BatchHeader::Parse(batch).value(), window, kNow, scratch, scan).ok());
  EXPECT_FALSE(scan.any_duplicate());
}

}  // namespace
}  // namespace oncemq::broker
