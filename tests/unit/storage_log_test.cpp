// PartitionLog: appends, reads, rolls, reopen, flush policy and the timestamp lookup.
#include <gtest/gtest.h>

#include <thread>

#include "storage/partition_log.h"
#include "storage_test_util.h"

namespace oncemq::storage {
namespace {

using test::AppendOrDie;
using test::BaseOffsets;
using test::MakeBatch;
using test::OpenOrDie;
using test::ReadAllBatches;
using test::SmallConfig;
using test::SplitBatches;
using test::TempDir;

TEST(PartitionLog, NewLogIsEmptyAndStartsAtZero) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  EXPECT_EQ(log->log_start(), Offset(0));
  EXPECT_EQ(log->log_end(), Offset(0));
  EXPECT_EQ(log->high_watermark(), Offset(0));
  EXPECT_TRUE(log->healthy());
  EXPECT_TRUE(std::filesystem::exists(test::SegmentPath(dir.log_dir(), 0)));
  Bytes out;
  EXPECT_TRUE(log->ReadInto(Offset(0), 1000, Offset(100), out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(PartitionLog, AppendAssignsConsecutiveOffsetsAndRewritesBaseOffset) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  Bytes first = MakeBatch(3);
  auto a = log->Append(first);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->base, Offset(0));
  EXPECT_EQ(a->last, Offset(2));
  Bytes second = MakeBatch(5);
  protocol::SetBaseOffset(second.data(), 999);  // whatever the producer sent is replaced
  auto b = log->Append(second);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->base, Offset(3));
  EXPECT_EQ(b->last, Offset(7));
  EXPECT_EQ(LoadBe64(second.data()), 3u);
  EXPECT_EQ(log->log_end(), Offset(8));
}

TEST(PartitionLog, AppendRejectsBytesThatAreNotABatch) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  Bytes short_bytes(20, 0);
  EXPECT_EQ(log->Append(short_bytes).status().code(), StatusCode::kInvalidArgument);
  Bytes batch = MakeBatch(1);
  batch.push_back(0);  // length field disagrees with the buffer
  EXPECT_EQ(log->Append(batch).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->log_end(), Offset(0));
}

TEST(PartitionLog, RoundTripsExactBytesAcrossSegmentRolls) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/350));
  std::vector<Bytes> written;
  for (int i = 0; i < 12; ++i) {
    written.push_back(MakeBatch(1 + i % 3, 1000 + i, 40 + i * 7, static_cast<uint8_t>(i)));
    AppendResult appended = AppendOrDie(*log, written.back());  // appends a copy
    protocol::SetBaseOffset(written.back().data(), appended.base.value());
  }
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_GT(log->stats().segments, 3u);
  Bytes out;
  ASSERT_TRUE(log->ReadInto(Offset(0), SIZE_MAX, log->high_watermark(), out).ok());
  Bytes expected;
  for (const auto& b : written) expected.insert(expected.end(), b.begin(), b.end());
  EXPECT_EQ(out, expected);
  // Every segment is named by its first batch's base offset and starts with that batch.
  for (const auto& entry : std::filesystem::directory_iterator(dir.log_dir())) {
    if (entry.path().extension() != ".log") continue;
    Bytes file = test::ReadFile(entry.path());
    ASSERT_GE(file.size(), 61u);
    EXPECT_EQ(std::stoll(entry.path().stem().string()), static_cast<int64_t>(LoadBe64(file.data())));
  }
}

TEST(PartitionLog, SegmentAlwaysHoldsAtLeastOneBatchEvenWhenLargerThanSegmentBytes) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/100));
  for (int i = 0; i < 3; ++i) AppendOrDie(*log, MakeBatch(1, 1000, 500));
  EXPECT_EQ(log->stats().segments, 3u);
  EXPECT_EQ(ReadAllBatches(*log).size(), 0u);  // not flushed yet under "always"
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(BaseOffsets(ReadAllBatches(*log)), (std::vector<int64_t>{0, 1, 2}));
}

TEST(PartitionLog, ReadFromAnOffsetInsideABatchReturnsTheWholeContainingBatch) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/500));
  for (int i = 0; i < 10; ++i) AppendOrDie(*log, MakeBatch(4));  // batch i holds 4i .. 4i+3
  ASSERT_TRUE(log->Flush().ok());
  for (int64_t from = 0; from < 40; ++from) {
    Bytes out;
    ASSERT_TRUE(log->ReadInto(Offset(from), 1, Offset(40), out).ok());
    auto batches = SplitBatches(out);
    ASSERT_EQ(batches.size(), 1u) << from;
    EXPECT_EQ(batches[0].base_offset, from / 4 * 4) << from;
  }
}

TEST(PartitionLog, ReadStopsBeforeMaxBytesButAlwaysReturnsTheFirstBatchWhole) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/350));
  for (int i = 0; i < 10; ++i) AppendOrDie(*log, MakeBatch(1, 1000, 39));  // 100 bytes each
  ASSERT_TRUE(log->Flush().ok());
  auto read = [&](int64_t from, size_t max_bytes) {
    Bytes out;
    EXPECT_TRUE(log->ReadInto(Offset(from), max_bytes, Offset(100), out).ok());
    return BaseOffsets(SplitBatches(out));
  };
  EXPECT_EQ(read(0, 1), (std::vector<int64_t>{0}));
  EXPECT_EQ(read(0, 0), (std::vector<int64_t>{0}));
  EXPECT_EQ(read(0, 299), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(read(0, 300), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(read(2, 500), (std::vector<int64_t>{2, 3, 4, 5, 6}));  // crosses segment boundaries
  EXPECT_EQ(read(7, 10000), (std::vector<int64_t>{7, 8, 9}));
}

TEST(PartitionLog, ReadStopsBeforeTheBatchThatReachesTheLimit) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  for (int i = 0; i < 5; ++i) AppendOrDie(*log, MakeBatch(2));  // 0-1, 2-3, 4-5, 6-7, 8-9
  ASSERT_TRUE(log->Flush().ok());
  auto read = [&](int64_t from, int64_t limit) {
    Bytes out;
    EXPECT_TRUE(log->ReadInto(Offset(from), SIZE_MAX, Offset(limit), out).ok());
    return BaseOffsets(SplitBatches(out));
  };
  EXPECT_EQ(read(0, 6), (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(read(0, 5), (std::vector<int64_t>{0, 2}));  // batch 4-5 reaches offset 5
  EXPECT_EQ(read(0, 0), (std::vector<int64_t>{}));
  EXPECT_EQ(read(3, 1000), (std::vector<int64_t>{2, 4, 6, 8}));  // limit past the high watermark
}

TEST(PartitionLog, ReadOutsideTheLogIsNotFoundAndAtTheHighWatermarkIsEmpty) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  AppendOrDie(*log, MakeBatch(2));
  ASSERT_TRUE(log->Flush().ok());
  Bytes out;
  EXPECT_EQ(log->ReadInto(Offset(3), 100, Offset(100), out).code(), StatusCode::kNotFound);
  EXPECT_EQ(log->ReadInto(Offset(-1), 100, Offset(100), out).code(), StatusCode::kNotFound);
  EXPECT_TRUE(log->ReadInto(Offset(2), 100, Offset(100), out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(PartitionLog, ReadAppendsToTheCallersBuffer) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  Bytes batch = MakeBatch(1);
  AppendOrDie(*log, batch);
  ASSERT_TRUE(log->Flush().ok());
  Bytes out = {1, 2, 3};
  ASSERT_TRUE(log->ReadInto(Offset(0), 1000, Offset(10), out).ok());
  ASSERT_EQ(out.size(), 3 + batch.size());
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 3), (Bytes{1, 2, 3}));
  EXPECT_EQ(Bytes(out.begin() + 3, out.end()), batch);
}

TEST(PartitionLog, ReopenPreservesEveryBatchAndContinuesTheOffsets) {
  TempDir dir;
  Bytes before;
  {
    auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/400));
    for (int i = 0; i < 15; ++i) AppendOrDie(*log, MakeBatch(2, 1000 + i, 50, static_cast<uint8_t>(i)));
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/400));
  EXPECT_EQ(log->log_end(), Offset(30));
  EXPECT_EQ(log->durable_end(), Offset(30));
  EXPECT_EQ(log->high_watermark(), Offset(30));
  EXPECT_EQ(log->stats().bytes_dropped_on_open, 0u);
  auto batches = ReadAllBatches(*log);
  ASSERT_EQ(batches.size(), 15u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(batches[i].max_timestamp, 1000 + i);
  EXPECT_EQ(AppendOrDie(*log, MakeBatch(1)).base, Offset(30));
}

TEST(PartitionLog, SealedSegmentsHaveAnIndexFileAndTheActiveOneDoesNot) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/400));
  for (int i = 0; i < 8; ++i) AppendOrDie(*log, MakeBatch(1, 1000, 100));  // 161 bytes: two per segment
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->stats().segments, 4u);
  for (int64_t base : {0, 2, 4})
    EXPECT_TRUE(std::filesystem::exists(test::SegmentPath(dir.log_dir(), base, ".index")));
  EXPECT_FALSE(std::filesystem::exists(test::SegmentPath(dir.log_dir(), 6, ".index")));
}

TEST(PartitionLog, UnderAlwaysTheHighWatermarkIsTheDurableEnd) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  AppendOrDie(*log, MakeBatch(3));
  EXPECT_EQ(log->log_end(), Offset(3));
  EXPECT_EQ(log->durable_end(), Offset(0));
  EXPECT_EQ(log->high_watermark(), Offset(0));
  EXPECT_TRUE(ReadAllBatches(*log).empty());
  auto flushed = log->Flush();
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, Offset(3));
  EXPECT_EQ(log->durable_end(), Offset(3));
  EXPECT_EQ(log->high_watermark(), Offset(3));
  EXPECT_EQ(ReadAllBatches(*log).size(), 1u);
}

TEST(PartitionLog, UnderNeverTheHighWatermarkIsTheLogEnd) {
  TempDir dir;
  LogConfig config = SmallConfig();
  config.flush.kind = FlushPolicy::Kind::kNever;
  auto log = OpenOrDie(dir.log_dir(), config);
  AppendOrDie(*log, MakeBatch(3));
  EXPECT_EQ(log->durable_end(), Offset(0));
  EXPECT_EQ(log->high_watermark(), Offset(3));
  EXPECT_EQ(ReadAllBatches(*log).size(), 1u);
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->durable_end(), Offset(3));
}

TEST(PartitionLog, OffsetForTimestampGivesTheFirstBatchWithANewerOrEqualTimestamp) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/300));
  for (int i = 0; i < 8; ++i) AppendOrDie(*log, MakeBatch(2, 1000 + 100 * i));  // batch i: 2i, ts 1000+100i
  AppendOrDie(*log, MakeBatch(2, 5000));
  ASSERT_TRUE(log->Flush().ok());
  AppendOrDie(*log, MakeBatch(2, 9000));
  auto at = [&](int64_t ts) {
    auto r = log->OffsetForTimestamp(ts);
    EXPECT_TRUE(r.ok());
    return r.ok() && r->has_value() ? (*r)->value() : -1;
  };
  EXPECT_EQ(at(0), 0);
  EXPECT_EQ(at(1000), 0);
  EXPECT_EQ(at(1001), 2);
  EXPECT_EQ(at(1350), 8);
  EXPECT_EQ(at(1700), 14);
  EXPECT_EQ(at(4000), 16);
  EXPECT_EQ(at(6000), -1);  // only the unflushed batch is that new
}

TEST(PartitionLog, CloseFlushesAndLaterCallsFail) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig());
  AppendOrDie(*log, MakeBatch(1));
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(log->durable_end(), Offset(1));
  EXPECT_TRUE(log->Close().ok());
  Bytes batch = MakeBatch(1);
  EXPECT_EQ(log->Append(batch).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(log->Flush().status().code(), StatusCode::kUnavailable);
  Bytes out;
  EXPECT_EQ(log->ReadInto(Offset(0), 100, Offset(1), out).code(), StatusCode::kUnavailable);
}

TEST(PartitionLog, ConcurrentAppendsFlushesAndReadsSeeOnlyWholeDurableBatches) {
  TempDir dir;
  auto log = OpenOrDie(dir.log_dir(), SmallConfig(/*segment_bytes=*/4096));
  constexpr int kBatches = 400;
  std::atomic<bool> done{false};
  std::thread appender([&] {
    for (int i = 0; i < kBatches; ++i) AppendOrDie(*log, MakeBatch(2, i, 30 + i % 50));
    done = true;
  });
  std::thread flusher([&] {
    while (!done) EXPECT_TRUE(log->Flush().ok());
  });
  int64_t seen = 0;
  while (seen < 2 * kBatches) {
    Bytes out;
    Offset hw = log->high_watermark();
    ASSERT_TRUE(log->ReadInto(Offset(seen), 2000, hw, out).ok());
    for (const auto& b : SplitBatches(out)) {
      ASSERT_EQ(b.base_offset, seen);
      seen += b.last_offset_delta + 1;
    }
    if (done && log->high_watermark() < Offset(2 * kBatches)) {
      ASSERT_TRUE(log->Flush().ok());
    }
  }
  appender.join();
  flusher.join();
  EXPECT_EQ(seen, 2 * kBatches);
}

}  // namespace
}  // namespace oncemq::storage
