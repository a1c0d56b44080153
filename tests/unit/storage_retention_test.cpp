// Retention deletes whole old segments by size and by age, never the active one.
#include <gtest/gtest.h>
#include <sys/time.h>

#include "storage/partition_log.h"
#include "storage_test_util.h"

namespace oncemq::storage {
namespace {

using test::AppendOrDie;
using test::BaseOffsets;
using test::MakeBatch;
using test::OpenOrDie;
using test::ReadAllBatches;
using test::SegmentPath;
using test::SmallConfig;
using test::TempDir;

// Five segments of two 100-byte batches each (bases 0, 2, 4, 6, 8), batch i with timestamp 1000 * i.
std::unique_ptr<PartitionLog> FiveSegments(
    const TempDir& dir, LogConfig config,
    int64_t (*timestamp)(int) = [](int i) -> int64_t { return 1000 * i; }) {
  config.segment_bytes = 250;
  auto log = OpenOrDie(dir.log_dir(), config);
  for (int i = 0; i < 10; ++i) AppendOrDie(*log, MakeBatch(1, timestamp(i), 39));
  EXPECT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->stats().segments, 5u);
  return log;
}

TEST(Retention, BySizeDeletesTheOldestSegmentsWhollyBeyondTheNewestRetentionBytes) {
  TempDir dir;
  LogConfig config = SmallConfig();
  config.retention_bytes = 450;  // the newest 450 bytes lie in the last three segments
  auto log = FiveSegments(dir, config);
  EXPECT_EQ(log->ApplyRetention(0), 2u);
  EXPECT_EQ(log->log_start(), Offset(4));
  EXPECT_EQ(log->stats().segments, 3u);
  EXPECT_EQ(log->stats().size_bytes, 600u);
  EXPECT_FALSE(std::filesystem::exists(SegmentPath(dir.log_dir(), 0)));
  EXPECT_FALSE(std::filesystem::exists(SegmentPath(dir.log_dir(), 2, ".index")));
  EXPECT_TRUE(std::filesystem::exists(SegmentPath(dir.log_dir(), 4)));
  EXPECT_EQ(BaseOffsets(ReadAllBatches(*log)), (std::vector<int64_t>{4, 5, 6, 7, 8, 9}));
  Bytes out;
  EXPECT_EQ(log->ReadInto(Offset(3), 100, Offset(10), out).code(), StatusCode::kNotFound);
  EXPECT_EQ(log->ApplyRetention(0), 0u);
}

TEST(Retention, BySizeNeverDeletesTheActiveSegment) {
  TempDir dir;
  LogConfig config = SmallConfig();
  config.retention_bytes = 0;
  auto log = FiveSegments(dir, config);
  EXPECT_EQ(log->ApplyRetention(0), 4u);
  EXPECT_EQ(log->log_start(), Offset(8));
  EXPECT_EQ(log->log_end(), Offset(10));
  EXPECT_EQ(AppendOrDie(*log, MakeBatch(1)).base, Offset(10));
}

TEST(Retention, ByTimeDeletesSegmentsWhoseNewestBatchIsOlderThanRetention) {
  TempDir dir;
  LogConfig config = SmallConfig();
  config.retention_ms = 5000;
  auto log = FiveSegments(dir, config);      // segment newest timestamps: 1000, 3000, 5000, 7000, 9000
  EXPECT_EQ(log->ApplyRetention(7500), 1u);  // 7500 - 1000 > 5000, 7500 - 3000 is not
  EXPECT_EQ(log->log_start(), Offset(2));
  EXPECT_EQ(log->ApplyRetention(10500), 2u);  // 3000 and 5000 now too old
  EXPECT_EQ(log->log_start(), Offset(6));
  EXPECT_EQ(log->ApplyRetention(1'000'000), 1u);  // everything old, the active segment stays
  EXPECT_EQ(log->log_start(), Offset(8));
}

TEST(Retention, ByTimeAfterReopenUsesTimestampsFromTheFiles) {
  TempDir dir;
  LogConfig config = SmallConfig();
  config.retention_ms = 5000;
  ASSERT_TRUE(FiveSegments(dir, config)->Close().ok());
  config.segment_bytes = 250;
  auto log = OpenOrDie(dir.log_dir(), config);
  EXPECT_EQ(log->ApplyRetention(10500), 3u);
  EXPECT_EQ(log->log_start(), Offset(6));
}

TEST(Retention, ByTimeFallsBackToFileModificationTimeWithoutTimestamps) {
  TempDir dir;
  LogConfig config = SmallConfig();
  config.retention_ms = 60'000;
  auto log = FiveSegments(dir, config, [](int) -> int64_t { return -1; });
  const int64_t now_ms = 2'000'000'000'000;
  // Segments 0 and 2 were last written two hours before `now`, the others a second before.
  for (int64_t base : {0, 2, 4, 6, 8}) {
    int64_t age_ms = base < 4 ? 2 * 3600 * 1000 : 1000;
    struct timeval times[2];
    times[0].tv_sec = times[1].tv_sec = (now_ms - age_ms) / 1000;
    times[0].tv_usec = times[1].tv_usec = 0;
    ASSERT_EQ(::utimes(SegmentPath(dir.log_dir(), base).c_str(), times), 0);
  }
  EXPECT_EQ(log->ApplyRetention(now_ms), 2u);
  EXPECT_EQ(log->log_start(), Offset(4));
}

TEST(Retention, KeepsEverythingWhenUnbounded) {
  TempDir dir;
  LogConfig config = SmallConfig();
  config.retention_ms = -1;
  config.retention_bytes = -1;
  auto log = FiveSegments(dir, config);
  EXPECT_EQ(log->ApplyRetention(INT64_MAX / 2), 0u);
  EXPECT_EQ(log->log_start(), Offset(0));
}

TEST(Retention, KeepsSegmentsThatAreNotYetDurable) {
  TempDir dir;
  LogConfig config = SmallConfig(/*segment_bytes=*/250);
  config.retention_bytes = 0;
  auto log = OpenOrDie(dir.log_dir(), config);
  for (int i = 0; i < 6; ++i) AppendOrDie(*log, MakeBatch(1, 1000, 39));  // three segments, none flushed
  EXPECT_EQ(log->ApplyRetention(0), 0u);
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->ApplyRetention(0), 2u);
}

}  // namespace
}  // namespace oncemq::storage
