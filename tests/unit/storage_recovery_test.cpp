// Recovery on Open: torn and corrupt tails, damaged indexes, leftover files.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "storage/partition_log.h"
#include "storage/segment_recovery.h"
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

// A one-segment log of three batches (offsets 0-1, 2-4, 5-8), written once and then reproduced byte for
// byte in fresh directories with the last batch damaged.
class RecoveryTornTailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TempDir source;
    auto log = OpenOrDie(source.log_dir(), SmallConfig());
    AppendOrDie(*log, MakeBatch(2, 1000, 30, 1));
    AppendOrDie(*log, MakeBatch(3, 2000, 30, 2));
    last_batch_start_ = test::ReadFile(SegmentPath(source.log_dir(), 0)).size();
    AppendOrDie(*log, MakeBatch(4, 3000, 30, 3));
    ASSERT_TRUE(log->Close().ok());
    segment_ = test::ReadFile(SegmentPath(source.log_dir(), 0));
  }

  // Opens a log whose only segment holds `bytes`, in a directory of its own.
  std::unique_ptr<PartitionLog> OpenWith(const TempDir& dir, const Bytes& bytes) {
    std::filesystem::create_directories(dir.log_dir());
    test::WriteFile(SegmentPath(dir.log_dir(), 0), bytes);
    return OpenOrDie(dir.log_dir(), SmallConfig());
  }

  // The facts of a log recovered to its first two batches.
  void ExpectRecoveredToSecondBatch(PartitionLog& log, const std::string& what) {
    EXPECT_EQ(log.log_end(), Offset(5)) << what;
    EXPECT_EQ(log.high_watermark(), Offset(5)) << what;
    EXPECT_EQ(BaseOffsets(ReadAllBatches(log)), (std::vector<int64_t>{0, 2})) << what;
    EXPECT_EQ(AppendOrDie(log, MakeBatch(1)).base, Offset(5)) << what;
    ASSERT_TRUE(log.Flush().ok());
    EXPECT_EQ(BaseOffsets(ReadAllBatches(log)), (std::vector<int64_t>{0, 2, 5})) << what;
  }

  size_t last_batch_start_ = 0;
  Bytes segment_;
};

TEST_F(RecoveryTornTailTest, SegmentCutAtEveryByteOfTheLastBatchRecoversToThePreviousBatch) {
  for (size_t cut = last_batch_start_; cut < segment_.size(); ++cut) {
    TempDir dir;
    auto log = OpenWith(dir, Bytes(segment_.begin(), segment_.begin() + static_cast<std::ptrdiff_t>(cut)));
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->stats().bytes_dropped_on_open, cut - last_batch_start_);
    ExpectRecoveredToSecondBatch(*log, "cut at " + std::to_string(cut));
  }
}

TEST_F(RecoveryTornTailTest, UntouchedSegmentRecoversEverything) {
  TempDir dir;
  auto log = OpenWith(dir, segment_);
  EXPECT_EQ(log->log_end(), Offset(9));
  EXPECT_EQ(log->stats().bytes_dropped_on_open, 0u);
}

TEST_F(RecoveryTornTailTest, BitFlippedAtEveryByteOfTheLastBatchRecoversToThePreviousBatch) {
  using namespace protocol::batch_layout;
  for (size_t at = last_batch_start_; at < segment_.size(); ++at) {
    size_t in_batch = at - last_batch_start_;
    Bytes damaged = segment_;
    damaged[at] ^= 0x10;
    TempDir dir;
    auto log = OpenWith(dir, damaged);
    ASSERT_NE(log, nullptr);
    if (in_batch >= kLeaderEpoch && in_batch < kMagic) {
      // partitionLeaderEpoch is outside the CRC and carries no invariant the log can check.
      EXPECT_EQ(log->log_end(), Offset(9)) << "flip at " << in_batch;
      continue;
    }
    EXPECT_EQ(log->stats().bytes_dropped_on_open, segment_.size() - last_batch_start_)
        << "flip at " << in_batch;
    ExpectRecoveredToSecondBatch(*log, "flip at " + std::to_string(in_batch));
  }
}

TEST(Recovery, CorruptionInTheMiddleOfTheLastSegmentDropsTheRestAndSaysHowManyBytes) {
  TempDir dir;
  std::vector<size_t> starts;
  {
    auto log = OpenOrDie(dir.log_dir(), SmallConfig());
    for (int i = 0; i < 10; ++i) {
      starts.push_back(std::filesystem::exists(SegmentPath(dir.log_dir(), 0))
                           ? std::filesystem::file_size(SegmentPath(dir.log_dir(), 0))
                           : 0);
      AppendOrDie(*log, MakeBatch(1, 1000, 60, static_cast<uint8_t>(i)));
    }
    ASSERT_TRUE(log->Close().ok());
  }
  Bytes file = test::ReadFile(SegmentPath(dir.log_dir(), 0));
  file[starts[4] + 70] ^= 0xFF;  // a payload byte of batch 4
  test::WriteFile(SegmentPath(dir.log_dir(), 0), file);

  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured)));
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  spdlog::set_default_logger(previous);

  const uint64_t dropped = file.size() - starts[4];
  EXPECT_EQ(log->log_end(), Offset(4));
  EXPECT_EQ(log->stats().bytes_dropped_on_open, dropped);
  EXPECT_EQ(std::filesystem::file_size(SegmentPath(dir.log_dir(), 0)), starts[4]);
  EXPECT_NE(captured.str().find("dropping " + std::to_string(dropped) + " bytes"), std::string::npos)
      << captured.str();
  EXPECT_NE(captured.str().find("CRC"), std::string::npos) << captured.str();
}

TEST(Recovery, ScanReportsTheFirstProblemWithoutChangingTheFile) {
  TempDir dir;
  {
    auto log = OpenOrDie(dir.log_dir(), SmallConfig());
    AppendOrDie(*log, MakeBatch(1));
    ASSERT_TRUE(log->Close().ok());
  }
  Bytes file = test::ReadFile(SegmentPath(dir.log_dir(), 0));
  Bytes with_garbage = file;
  with_garbage.insert(with_garbage.end(), 30, 0xAB);
  test::WriteFile(SegmentPath(dir.log_dir(), 0), with_garbage);
  auto segment = Segment::Open(dir.log_dir(), Offset(0), Segment::Mode::kOpenExisting, 100, FileOps::Posix());
  ASSERT_TRUE(segment.ok());
  auto scan = SegmentRecovery::Scan(**segment);
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->valid_bytes, file.size());
  EXPECT_EQ(scan->dropped_bytes, 30u);
  EXPECT_EQ(scan->batches, 1u);
  EXPECT_EQ(scan->next_offset, Offset(1));
  EXPECT_FALSE(scan->first_problem.empty());
  EXPECT_EQ(std::filesystem::file_size(SegmentPath(dir.log_dir(), 0)), with_garbage.size());
}

// Several sealed segments with index files, then damage to the indexes.
class IndexRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = OpenOrDie(dir_.log_dir(), Config());
    for (int i = 0; i < 24; ++i) AppendOrDie(*log, MakeBatch(3, 1000 + i, 40, static_cast<uint8_t>(i)));
    ASSERT_TRUE(log->Close().ok());
    for (int64_t base : {0, 18, 36}) {
      ASSERT_TRUE(std::filesystem::exists(Index(base))) << base;
      original_[base] = test::ReadFile(Index(base));
      ASSERT_GT(original_[base].size(), 8u);
    }
  }
  static LogConfig Config() {
    LogConfig config = SmallConfig(/*segment_bytes=*/650);  // six 101-byte batches per segment
    config.index_interval_bytes = 150;
    return config;
  }
  std::filesystem::path Index(int64_t base) const { return SegmentPath(dir_.log_dir(), base, ".index"); }

  // Every offset reads back as the batch that holds it.
  void ExpectEveryOffsetReadable(PartitionLog& log) {
    EXPECT_EQ(log.log_end(), Offset(72));
    for (int64_t from = 0; from < 72; ++from) {
      Bytes out;
      ASSERT_TRUE(log.ReadInto(Offset(from), 1, Offset(72), out).ok());
      auto batches = test::SplitBatches(out);
      ASSERT_EQ(batches.size(), 1u);
      EXPECT_EQ(batches[0].base_offset, from / 3 * 3);
    }
  }

  TempDir dir_;
  std::map<int64_t, Bytes> original_;
};

TEST_F(IndexRecoveryTest, MissingIndexIsRebuilt) {
  std::filesystem::remove(Index(18));
  auto log = OpenOrDie(dir_.log_dir(), Config());
  ExpectEveryOffsetReadable(*log);
  EXPECT_EQ(test::ReadFile(Index(18)), original_[18]);
}

TEST_F(IndexRecoveryTest, GarbageIndexIsRebuilt) {
  test::WriteFile(Index(0), Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  Bytes plausible = original_[18];  // well-formed, but its last entry points into the middle of a batch
  StoreBe32(plausible.data() + plausible.size() - 4, LoadBe32(plausible.data() + plausible.size() - 4) + 7);
  test::WriteFile(Index(18), plausible);
  auto log = OpenOrDie(dir_.log_dir(), Config());
  ExpectEveryOffsetReadable(*log);
  EXPECT_EQ(test::ReadFile(Index(0)), original_[0]);
  EXPECT_EQ(test::ReadFile(Index(18)), original_[18]);
}

TEST_F(IndexRecoveryTest, IndexOfTheActiveSegmentIsRemoved) {
  auto log = OpenOrDie(dir_.log_dir(), Config());
  EXPECT_FALSE(std::filesystem::exists(Index(54)));
  ExpectEveryOffsetReadable(*log);
}

TEST(Recovery, TornSealedSegmentWithoutIndexEndsTheLogAndDropsLaterSegments) {
  // A crash after a roll but before the flush that syncs the rolled segment: its tail may be torn while
  // the next segment's bytes reached the disk. Nothing after the tear was acknowledged.
  TempDir dir;
  {
    auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/350));
    for (int i = 0; i < 9; ++i) AppendOrDie(*log, MakeBatch(1, 1000, 39));  // three per segment: 0, 3, 6
    ASSERT_TRUE(log->Close().ok());
  }
  std::filesystem::remove(SegmentPath(dir.log_dir(), 3, ".index"));
  std::filesystem::resize_file(SegmentPath(dir.log_dir(), 3), 250);  // batch 5 torn
  auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/350));
  EXPECT_EQ(log->log_end(), Offset(5));
  EXPECT_EQ(log->stats().segments, 2u);
  EXPECT_EQ(log->stats().bytes_dropped_on_open, 50u + 300u);
  EXPECT_FALSE(std::filesystem::exists(SegmentPath(dir.log_dir(), 6)));
  EXPECT_FALSE(std::filesystem::exists(SegmentPath(dir.log_dir(), 3, ".index")));
  EXPECT_EQ(AppendOrDie(*log, MakeBatch(1)).base, Offset(5));
}

TEST(Recovery, EmptyLastSegmentIsKept) {
  TempDir dir;
  {
    auto log = OpenOrDie(dir.log_dir(), SmallConfig());
    AppendOrDie(*log, MakeBatch(2));
    ASSERT_TRUE(log->Close().ok());
  }
  test::WriteFile(SegmentPath(dir.log_dir(), 2), Bytes{});  // a roll that crashed before its first write
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  EXPECT_EQ(log->log_end(), Offset(2));
  EXPECT_EQ(log->stats().segments, 2u);
  EXPECT_EQ(AppendOrDie(*log, MakeBatch(1)).base, Offset(2));
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(BaseOffsets(ReadAllBatches(*log)), (std::vector<int64_t>{0, 2}));
}

TEST(Recovery, SegmentThatDoesNotContinueTheLogIsDropped) {
  TempDir dir;
  {
    auto log = OpenOrDie(dir.log_dir(), SmallConfig());
    AppendOrDie(*log, MakeBatch(2));
    ASSERT_TRUE(log->Close().ok());
  }
  test::WriteFile(SegmentPath(dir.log_dir(), 7), Bytes{});  // a gap: offsets 2..6 are nowhere
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  EXPECT_EQ(log->log_end(), Offset(2));
  EXPECT_EQ(log->stats().segments, 1u);
  EXPECT_FALSE(std::filesystem::exists(SegmentPath(dir.log_dir(), 7)));
}

TEST(Recovery, LeftoverIndexWithoutLogIsRemovedAndOtherFilesAreLeftAlone) {
  TempDir dir;
  std::filesystem::create_directories(dir.log_dir());
  test::WriteFile(SegmentPath(dir.log_dir(), 40, ".index"), Bytes(16, 0));
  test::WriteFile(dir.log_dir() / "notes.txt", Bytes{'h', 'i'});
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  EXPECT_EQ(log->log_end(), Offset(0));
  EXPECT_FALSE(std::filesystem::exists(SegmentPath(dir.log_dir(), 40, ".index")));
  EXPECT_TRUE(std::filesystem::exists(dir.log_dir() / "notes.txt"));
  EXPECT_TRUE(std::filesystem::exists(SegmentPath(dir.log_dir(), 0)));
}

TEST(Recovery, LogStartIsTheFirstSegmentsBaseOffset) {
  TempDir dir;
  std::filesystem::create_directories(dir.log_dir());
  Bytes batch = MakeBatch(2);
  protocol::SetBaseOffset(batch.data(), 500);
  test::WriteFile(SegmentPath(dir.log_dir(), 500), batch);
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  EXPECT_EQ(log->log_start(), Offset(500));
  EXPECT_EQ(log->log_end(), Offset(502));
  Bytes out;
  EXPECT_EQ(log->ReadInto(Offset(499), 100, Offset(1000), out).code(), StatusCode::kNotFound);
  EXPECT_TRUE(log->ReadInto(Offset(501), 1000, Offset(1000), out).ok());
  EXPECT_EQ(out, batch);
}

}  // namespace
}  // namespace oncemq::storage
