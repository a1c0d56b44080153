// Segment file names, the sparse offset index and its file form, and a single segment's reads.
#include <gtest/gtest.h>

#include "storage/file_ops.h"
#include "storage/offset_index.h"
#include "storage/segment.h"
#include "storage/segment_name.h"
#include "storage_test_util.h"

namespace oncemq::storage {
namespace {

using test::MakeBatch;
using test::TempDir;

TEST(SegmentName, IsTwentyDigitBaseOffsetAndRoundTrips) {
  EXPECT_EQ(MakeSegmentFileName(Offset(0), SegmentFileKind::kLog), "00000000000000000000.log");
  EXPECT_EQ(MakeSegmentFileName(Offset(1234), SegmentFileKind::kIndex), "00000000000000001234.index");
  auto parsed = ParseSegmentFileName("00000000000000001234.index");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->base, Offset(1234));
  EXPECT_EQ(parsed->kind, SegmentFileKind::kIndex);
}

TEST(SegmentName, RejectsOtherFiles) {
  for (const char* name :
       {"0000000000000000123.log", "00000000000000001234.log.tmp", "0000000000000000abcd.log",
        "-0000000000000001234.log", "leader-epoch-checkpoint", ".log"}) {
    EXPECT_FALSE(ParseSegmentFileName(name).has_value()) << name;
  }
}

TEST(OffsetIndex, RecordsOneEntryPerIntervalStartingWithTheFirstBatch) {
  OffsetIndex index(Offset(100), 1000);
  index.OnBatchAppended(Offset(100), 0);
  index.OnBatchAppended(Offset(105), 600);   // within the interval: no entry
  index.OnBatchAppended(Offset(110), 1000);  // 1000 bytes after the last entry
  index.OnBatchAppended(Offset(120), 1500);
  index.OnBatchAppended(Offset(130), 2100);
  std::vector<IndexEntry> want = {{0, 0}, {10, 1000}, {30, 2100}};
  EXPECT_EQ(index.entries(), want);
}

TEST(OffsetIndex, LookupGivesTheGreatestEntryAtOrBelowTheTarget) {
  OffsetIndex index(Offset(100), 1);
  index.Reset({{0, 0}, {10, 1000}, {30, 2100}});
  EXPECT_EQ(index.Lookup(Offset(50)), 0u);  // below the segment
  EXPECT_EQ(index.Lookup(Offset(100)), 0u);
  EXPECT_EQ(index.Lookup(Offset(109)), 0u);
  EXPECT_EQ(index.Lookup(Offset(110)), 1000u);
  EXPECT_EQ(index.Lookup(Offset(129)), 1000u);
  EXPECT_EQ(index.Lookup(Offset(130)), 2100u);
  EXPECT_EQ(index.Lookup(Offset(1 << 30)), 2100u);
  index.TruncateFrom(1000);
  EXPECT_EQ(index.Lookup(Offset(130)), 0u);
}

TEST(OffsetIndex, FileFormIsBigEndianPairsAndDecodesBack) {
  std::vector<IndexEntry> entries = {{0, 0}, {0x01020304, 0x0A0B0C0D}};
  Bytes encoded = OffsetIndex::Encode(entries);
  Bytes want = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D};
  EXPECT_EQ(encoded, want);
  auto decoded = OffsetIndex::Decode(encoded, 0x0A0B0C0E);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, entries);
}

TEST(OffsetIndex, DecodeRejectsInconsistentFiles) {
  auto encode = [](std::vector<IndexEntry> e) { return OffsetIndex::Encode(e); };
  Bytes ragged = encode({{0, 0}});
  ragged.push_back(1);
  EXPECT_FALSE(OffsetIndex::Decode(ragged, 100).ok());
  EXPECT_FALSE(OffsetIndex::Decode(encode({{5, 10}, {5, 20}}), 100).ok());   // offsets not increasing
  EXPECT_FALSE(OffsetIndex::Decode(encode({{5, 10}, {6, 10}}), 100).ok());   // positions not increasing
  EXPECT_FALSE(OffsetIndex::Decode(encode({{5, 10}, {6, 100}}), 100).ok());  // past the log
  EXPECT_TRUE(OffsetIndex::Decode(Bytes{}, 0).ok());
}

class SegmentTest : public ::testing::Test {
 protected:
  std::shared_ptr<Segment> Create(Offset base) {
    auto segment = Segment::Open(dir_.path(), base, Segment::Mode::kCreate, 100, FileOps::Posix());
    EXPECT_TRUE(segment.ok()) << segment.status().ToString();
    return segment.ok() ? *segment : nullptr;
  }
  // Appends a batch of `records` at the segment's next offset.
  void Append(Segment& segment, int32_t records) {
    Bytes batch = MakeBatch(records, 1000 + segment.next_offset().value());
    protocol::SetBaseOffset(batch.data(), segment.next_offset().value());
    auto frame = BatchFrame::Decode(batch);
    ASSERT_TRUE(frame.ok());
    ASSERT_TRUE(segment.Append(batch, *frame).ok());
  }
  TempDir dir_;
};

TEST_F(SegmentTest, FindBatchReturnsTheBatchContainingTheOffset) {
  auto segment = Create(Offset(50));
  for (int i = 0; i < 20; ++i) Append(*segment, 3);  // offsets 50..109, 101 bytes per batch
  EXPECT_EQ(segment->next_offset(), Offset(110));
  EXPECT_GT(segment->index().entry_count(), 1u);
  for (int64_t offset = 50; offset < 110; ++offset) {
    auto position = segment->FindBatch(Offset(offset));
    ASSERT_TRUE(position.ok()) << offset;
    auto frame = segment->ReadFrame(*position);
    ASSERT_TRUE(frame.ok());
    EXPECT_LE(frame->base, Offset(offset));
    EXPECT_GE(frame->last, Offset(offset));
  }
  EXPECT_EQ(segment->FindBatch(Offset(49)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(segment->FindBatch(Offset(110)).status().code(), StatusCode::kNotFound);
}

TEST_F(SegmentTest, NewestTimestampIsTheLargestBatchMaxTimestamp) {
  auto segment = Create(Offset(0));
  Append(*segment, 1);  // ts 1000
  Append(*segment, 1);  // ts 1001
  EXPECT_EQ(segment->NewestTimestamp().value(), 1001);
  // A segment opened from disk does not know it until it walks the headers.
  auto reopened = Segment::Open(dir_.path(), Offset(0), Segment::Mode::kOpenExisting, 100, FileOps::Posix());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->NewestTimestamp().value(), 1001);
}

TEST_F(SegmentTest, CreatingAnExistingSegmentFails) {
  auto first = Create(Offset(7));
  auto second = Segment::Open(dir_.path(), Offset(7), Segment::Mode::kCreate, 100, FileOps::Posix());
  EXPECT_EQ(second.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace oncemq::storage
