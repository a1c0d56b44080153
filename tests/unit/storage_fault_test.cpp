// Failed writes and failed fsyncs, injected through testing::FaultInjectingFileOps.
#include <gtest/gtest.h>

#include "storage/partition_log.h"
#include "storage/testing_file_ops.h"
#include "storage_test_util.h"

namespace oncemq::storage {
namespace {

using test::AppendOrDie;
using test::BaseOffsets;
using test::MakeBatch;
using test::ReadAllBatches;
using test::SegmentPath;
using test::SmallConfig;
using test::TempDir;

class LogFaultTest : public ::testing::Test {
 protected:
  std::unique_ptr<PartitionLog> Open(LogConfig config = SmallConfig()) {
    auto log = PartitionLog::Open(dir_.log_dir(), config, faults_);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  uint64_t FileSize(int64_t base) const {
    return std::filesystem::file_size(SegmentPath(dir_.log_dir(), base));
  }

  TempDir dir_;
  std::shared_ptr<testing::FaultInjectingFileOps> faults_ =
      std::make_shared<testing::FaultInjectingFileOps>();
};

TEST_F(LogFaultTest, FailedWriteLeavesTheLogAsBeforeAndUsable) {
  auto log = Open();
  AppendOrDie(*log, MakeBatch(2));
  const uint64_t size_before = FileSize(0);
  faults_->FailNextWrites(1, /*partial_bytes=*/30);
  Bytes batch = MakeBatch(3);
  EXPECT_EQ(log->Append(batch).status().code(), StatusCode::kIoError);
  EXPECT_EQ(FileSize(0), size_before);  // the 30 bytes that made it were cut off
  EXPECT_EQ(log->log_end(), Offset(2));
  EXPECT_TRUE(log->healthy());
  EXPECT_EQ(AppendOrDie(*log, MakeBatch(3)).base, Offset(2));
  ASSERT_TRUE(log->Close().ok());
  auto reopened = test::OpenOrDie(dir_.log_dir(), SmallConfig());
  EXPECT_EQ(BaseOffsets(ReadAllBatches(*reopened)), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(reopened->stats().bytes_dropped_on_open, 0u);
}

TEST_F(LogFaultTest, FailedWriteWhoseCutBackAlsoFailsMakesTheLogUnhealthyUntilHealed) {
  auto log = Open();
  AppendOrDie(*log, MakeBatch(2));
  ASSERT_TRUE(log->Flush().ok());
  faults_->FailNextWrites(1, /*partial_bytes=*/30);
  faults_->FailNextTruncates(1);
  Bytes batch = MakeBatch(3);
  EXPECT_EQ(log->Append(batch).status().code(), StatusCode::kIoError);
  EXPECT_FALSE(log->healthy());
  EXPECT_EQ(log->Append(batch).status().code(), StatusCode::kIoError);
  auto healed = log->Flush();
  ASSERT_TRUE(healed.ok()) << healed.status().ToString();
  EXPECT_TRUE(log->healthy());
  EXPECT_EQ(FileSize(0), MakeBatch(2).size());
  EXPECT_EQ(AppendOrDie(*log, MakeBatch(3)).base, Offset(2));
}

TEST_F(LogFaultTest, FailedFsyncRefusesAppendsThenHealDropsUnflushedBatches) {
  auto log = Open();
  AppendOrDie(*log, MakeBatch(2));
  ASSERT_TRUE(log->Flush().ok());  // durable: 0-1
  AppendOrDie(*log, MakeBatch(3));
  AppendOrDie(*log, MakeBatch(4));  // not durable: 2-8
  faults_->FailNextSyncs(1);
  EXPECT_EQ(log->Flush().status().code(), StatusCode::kIoError);
  EXPECT_FALSE(log->healthy());
  EXPECT_EQ(log->durable_end(), Offset(2));
  EXPECT_EQ(log->high_watermark(), Offset(2));
  Bytes batch = MakeBatch(1);
  EXPECT_EQ(log->Append(batch).status().code(), StatusCode::kIoError);

  auto healed = log->Flush();
  ASSERT_TRUE(healed.ok()) << healed.status().ToString();
  EXPECT_EQ(*healed, Offset(2));
  EXPECT_TRUE(log->healthy());
  EXPECT_EQ(log->log_end(), Offset(2));
  EXPECT_EQ(FileSize(0), MakeBatch(2).size());
  EXPECT_EQ(AppendOrDie(*log, MakeBatch(1)).base, Offset(2));
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(BaseOffsets(ReadAllBatches(*log)), (std::vector<int64_t>{0, 2}));
  ASSERT_TRUE(log->Close().ok());
  auto reopened = test::OpenOrDie(dir_.log_dir(), SmallConfig());
  EXPECT_EQ(reopened->log_end(), Offset(3));
}

TEST_F(LogFaultTest, HealRemovesSegmentsRolledAfterTheDurablePosition) {
  auto log = Open(SmallConfig(/*segment_bytes=*/250));
  AppendOrDie(*log, MakeBatch(1, 1000, 39));
  ASSERT_TRUE(log->Flush().ok());                                         // durable: offset 0 in segment 0
  for (int i = 0; i < 5; ++i) AppendOrDie(*log, MakeBatch(1, 1000, 39));  // segments 2 and 4 rolled
  ASSERT_EQ(log->stats().segments, 3u);
  faults_->FailNextSyncs(1);
  EXPECT_FALSE(log->Flush().ok());
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->log_end(), Offset(1));
  EXPECT_EQ(log->stats().segments, 1u);
  EXPECT_FALSE(std::filesystem::exists(SegmentPath(dir_.log_dir(), 2)));
  EXPECT_FALSE(std::filesystem::exists(SegmentPath(dir_.log_dir(), 4)));
  EXPECT_EQ(FileSize(0), 100u);
  for (int i = 0; i < 3; ++i) AppendOrDie(*log, MakeBatch(1, 1000, 39));
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(BaseOffsets(ReadAllBatches(*log)), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(log->stats().segments, 2u);
}

TEST_F(LogFaultTest, FailedHealKeepsRefusingUntilAHealSucceeds) {
  auto log = Open();
  AppendOrDie(*log, MakeBatch(1));
  faults_->FailNextSyncs(2);
  EXPECT_FALSE(log->Flush().ok());  // the flush
  EXPECT_FALSE(log->Flush().ok());  // the first heal
  EXPECT_FALSE(log->healthy());
  Bytes batch = MakeBatch(1);
  EXPECT_EQ(log->Append(batch).status().code(), StatusCode::kIoError);
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_TRUE(log->healthy());
  EXPECT_EQ(log->log_end(), Offset(0));
}

TEST_F(LogFaultTest, FlushCoveredByAnEarlierFlushDoesNotSyncAgain) {
  auto log = Open();
  AppendOrDie(*log, MakeBatch(1));
  ASSERT_TRUE(log->Flush().ok());
  const int syncs = faults_->syncs();
  auto again = log->Flush();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, Offset(1));
  EXPECT_EQ(faults_->syncs(), syncs);
}

}  // namespace
}  // namespace oncemq::storage
