// The idempotent-producer sequence rules (kafka-protocol.md §6.3–6.4), one test per rule, and the
// snapshot format and files that carry the state across restarts.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker/producer_state.h"
#include "broker/producer_state_snapshot.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "storage/testing_file_ops.h"
#include "storage_test_util.h"

namespace oncemq::broker {
namespace {

using Kind = SequenceVerdict::Kind;
constexpr int32_t kMaxSeq = std::numeric_limits<int32_t>::max();

// A batch of `records` records (last_offset_delta = records - 1).
ProducerBatch Batch(int64_t pid, int16_t epoch, int32_t base_seq, int32_t records = 1) {
  return {ProducerId(pid), ProducerEpoch(epoch), Sequence(base_seq), records - 1};
}

class ProducerStateTest : public ::testing::Test {
 protected:
  // Checks, expects an append, and records at the next free offset.
  Offset Append(const ProducerBatch& batch, int64_t now_ms = 0) {
    EXPECT_EQ(table_.Check(batch).kind, Kind::kAppend);
    const Offset base = next_offset_;
    table_.Record(batch, base, now_ms);
    next_offset_ = Offset(base.value() + batch.last_offset_delta + 1);
    return base;
  }
  Kind KindOf(const ProducerBatch& batch) const { return table_.Check(batch).kind; }

  ProducerStateTable table_;
  Offset next_offset_{0};
};

TEST_F(ProducerStateTest, UnknownProducerAcceptsAnySequence) {
  EXPECT_EQ(KindOf(Batch(1, 0, 17)), Kind::kAppend);
  EXPECT_EQ(KindOf(Batch(1, 3, 0)), Kind::kAppend);
  EXPECT_EQ(KindOf(Batch(1, 0, kMaxSeq)), Kind::kAppend);
}

TEST_F(ProducerStateTest, UnknownProducerFirstSequenceStartsItsOrder) {
  Append(Batch(1, 0, 17, 3));  // 17..19
  EXPECT_EQ(KindOf(Batch(1, 0, 20)), Kind::kAppend);
  EXPECT_EQ(KindOf(Batch(1, 0, 16)), Kind::kOutOfOrderSequence);
}

TEST_F(ProducerStateTest, NextSequenceAppends) {
  Append(Batch(1, 0, 0, 5));  // 0..4
  EXPECT_EQ(KindOf(Batch(1, 0, 5)), Kind::kAppend);
}

TEST_F(ProducerStateTest, DuplicateBatchReturnsOriginalOffsets) {
  next_offset_ = Offset(100);
  Append(Batch(1, 0, 0, 3));  // offsets 100..102
  Append(Batch(2, 0, 0, 1));  // another producer in between
  Append(Batch(1, 0, 3, 4));  // offsets 104..107
  SequenceVerdict v = table_.Check(Batch(1, 0, 3, 4));
  EXPECT_EQ(v.kind, Kind::kDuplicate);
  EXPECT_EQ(v.original_base, Offset(104));
  EXPECT_EQ(v.original_end, Offset(108));
}

TEST_F(ProducerStateTest, DuplicateOfEachOfTheLastFiveBatchesReturnsItsOwnOffsets) {
  std::vector<Offset> bases;
  for (int i = 0; i < 7; ++i) bases.push_back(Append(Batch(1, 0, i * 2, 2)));
  for (int i = 2; i < 7; ++i) {
    SequenceVerdict v = table_.Check(Batch(1, 0, i * 2, 2));
    EXPECT_EQ(v.kind, Kind::kDuplicate) << "batch " << i;
    EXPECT_EQ(v.original_base, bases[i]) << "batch " << i;
    EXPECT_EQ(v.original_end, Offset(bases[i].value() + 2)) << "batch " << i;
  }
}

TEST_F(ProducerStateTest, DuplicateOlderThanTheLastFiveBatchesIsOutOfOrder) {
  for (int i = 0; i < 6; ++i) Append(Batch(1, 0, i));
  EXPECT_EQ(KindOf(Batch(1, 0, 0)), Kind::kOutOfOrderSequence);
  EXPECT_EQ(KindOf(Batch(1, 0, 1)), Kind::kDuplicate);
}

TEST_F(ProducerStateTest, GapIsOutOfOrder) {
  Append(Batch(1, 0, 0, 5));
  EXPECT_EQ(KindOf(Batch(1, 0, 6)), Kind::kOutOfOrderSequence);
  EXPECT_EQ(KindOf(Batch(1, 0, kMaxSeq)), Kind::kOutOfOrderSequence);
}

TEST_F(ProducerStateTest, RangeOverlappingACachedBatchWithoutMatchingItIsOutOfOrder) {
  Append(Batch(1, 0, 0, 5));                                        // 0..4
  Append(Batch(1, 0, 5, 5));                                        // 5..9
  EXPECT_EQ(KindOf(Batch(1, 0, 5, 3)), Kind::kOutOfOrderSequence);  // same first, shorter
  EXPECT_EQ(KindOf(Batch(1, 0, 5, 6)), Kind::kOutOfOrderSequence);  // same first, longer
  EXPECT_EQ(KindOf(Batch(1, 0, 3, 7)), Kind::kOutOfOrderSequence);  // spans both
  EXPECT_EQ(KindOf(Batch(1, 0, 6, 4)), Kind::kOutOfOrderSequence);  // same last, later first
}

TEST_F(ProducerStateTest, StaleEpochIsInvalidEpoch) {
  Append(Batch(1, 3, 0, 2));
  EXPECT_EQ(KindOf(Batch(1, 2, 2)), Kind::kInvalidProducerEpoch);
  EXPECT_EQ(KindOf(Batch(1, 2, 0, 2)), Kind::kInvalidProducerEpoch);  // a "duplicate" needs the same epoch
  EXPECT_EQ(KindOf(Batch(1, 0, 0)), Kind::kInvalidProducerEpoch);
}

TEST_F(ProducerStateTest, EpochWrappedToZeroIsStaleAsInKafka) {
  Append(Batch(1, std::numeric_limits<int16_t>::max(), 0));
  EXPECT_EQ(KindOf(Batch(1, 0, 0)), Kind::kInvalidProducerEpoch);
}

TEST_F(ProducerStateTest, NewEpochAtSequenceZeroAppendsAndResetsTheCache) {
  const Offset old0 = Append(Batch(1, 0, 0));
  Append(Batch(1, 0, 1));
  Append(Batch(1, 0, 2));
  EXPECT_EQ(KindOf(Batch(1, 1, 0)), Kind::kAppend);
  const Offset new0 = Append(Batch(1, 1, 0));
  // Under the new epoch, sequence 1 is the next one, not a duplicate of the old epoch's batch 1.
  EXPECT_EQ(KindOf(Batch(1, 1, 1)), Kind::kAppend);
  SequenceVerdict v = table_.Check(Batch(1, 1, 0));
  EXPECT_EQ(v.kind, Kind::kDuplicate);
  EXPECT_EQ(v.original_base, new0);
  EXPECT_NE(v.original_base, old0);
  EXPECT_EQ(KindOf(Batch(1, 0, 1)), Kind::kInvalidProducerEpoch);
}

TEST_F(ProducerStateTest, NewEpochWithNonZeroSequenceForAKnownProducerIsOutOfOrder) {
  Append(Batch(1, 0, 0, 5));
  EXPECT_EQ(KindOf(Batch(1, 1, 5)), Kind::kOutOfOrderSequence);
}

TEST_F(ProducerStateTest, SequenceWrapsFromInt32MaxToZero) {
  Append(Batch(1, 0, kMaxSeq - 2, 3));  // kMaxSeq-2 .. kMaxSeq
  EXPECT_EQ(KindOf(Batch(1, 0, 0)), Kind::kAppend);
  EXPECT_EQ(KindOf(Batch(1, 0, 1)), Kind::kOutOfOrderSequence);
  Append(Batch(1, 0, 0, 2));
  EXPECT_EQ(KindOf(Batch(1, 0, 2)), Kind::kAppend);
}

TEST_F(ProducerStateTest, LastSequenceWrapsPastInt32MaxWithinOneBatch) {
  const Offset base = Append(Batch(1, 0, kMaxSeq - 1, 4));  // kMaxSeq-1, kMaxSeq, 0, 1
  EXPECT_EQ(KindOf(Batch(1, 0, 2)), Kind::kAppend);
  EXPECT_EQ(KindOf(Batch(1, 0, 0)), Kind::kOutOfOrderSequence);
  SequenceVerdict v = table_.Check(Batch(1, 0, kMaxSeq - 1, 4));
  EXPECT_EQ(v.kind, Kind::kDuplicate);
  EXPECT_EQ(v.original_base, base);
}

TEST(ProducerStateSequenceTest, IncrementSequenceWrapsToZeroNotNegative) {
  EXPECT_EQ(IncrementSequence(Sequence(0), 0), Sequence(0));
  EXPECT_EQ(IncrementSequence(Sequence(5), 10), Sequence(15));
  EXPECT_EQ(IncrementSequence(Sequence(kMaxSeq - 1), 1), Sequence(kMaxSeq));
  EXPECT_EQ(IncrementSequence(Sequence(kMaxSeq), 1), Sequence(0));
  EXPECT_EQ(IncrementSequence(Sequence(kMaxSeq - 1), 3), Sequence(1));
  EXPECT_EQ(IncrementSequence(Sequence(kMaxSeq), kMaxSeq), Sequence(kMaxSeq - 1));
}

TEST_F(ProducerStateTest, ProducersAreIndependent) {
  Append(Batch(1, 0, 0, 5));
  Append(Batch(2, 4, 100));
  EXPECT_EQ(KindOf(Batch(1, 0, 5)), Kind::kAppend);
  EXPECT_EQ(KindOf(Batch(2, 4, 101)), Kind::kAppend);
  EXPECT_EQ(KindOf(Batch(2, 3, 0)), Kind::kInvalidProducerEpoch);
  EXPECT_EQ(KindOf(Batch(1, 3, 0)), Kind::kAppend);
}

TEST_F(ProducerStateTest, TruncateToDropsBatchesEndingAtOrAfterTheNewEnd) {
  Append(Batch(1, 0, 0, 2));                            // offsets 0..1
  Append(Batch(1, 0, 2, 2));                            // offsets 2..3
  Append(Batch(1, 0, 4, 2));                            // offsets 4..5
  table_.TruncateTo(Offset(5));                         // cuts the last batch in half: it goes
  EXPECT_EQ(KindOf(Batch(1, 0, 4, 2)), Kind::kAppend);  // no longer a duplicate: the next sequence
  EXPECT_EQ(KindOf(Batch(1, 0, 2, 2)), Kind::kDuplicate);
  table_.TruncateTo(Offset(4));  // exactly at a boundary: the batch ending at 3 stays
  EXPECT_EQ(KindOf(Batch(1, 0, 2, 2)), Kind::kDuplicate);
  EXPECT_EQ(table_.producer_count(), 1u);
}

TEST_F(ProducerStateTest, TruncateToForgetsProducersLeftWithoutBatches) {
  Append(Batch(1, 0, 0));     // offset 0
  Append(Batch(2, 0, 0, 5));  // offsets 1..5
  Append(Batch(2, 0, 5));     // offset 6
  table_.TruncateTo(Offset(1));
  EXPECT_EQ(table_.producer_count(), 1u);
  EXPECT_EQ(KindOf(Batch(2, 0, 42)), Kind::kAppend);  // unknown again: any sequence
  EXPECT_EQ(KindOf(Batch(1, 0, 42)), Kind::kOutOfOrderSequence);
}

TEST_F(ProducerStateTest, RemoveBelowDropsBatchesEndingBeforeTheLogStart) {
  Append(Batch(1, 0, 0, 2));      // offsets 0..1
  Append(Batch(1, 0, 2, 2));      // offsets 2..3
  Append(Batch(1, 0, 4, 2));      // offsets 4..5
  table_.RemoveBelow(Offset(3));  // the batch 2..3 still has a record at 3: it stays
  EXPECT_EQ(KindOf(Batch(1, 0, 0, 2)), Kind::kOutOfOrderSequence);
  EXPECT_EQ(KindOf(Batch(1, 0, 2, 2)), Kind::kDuplicate);
  EXPECT_EQ(KindOf(Batch(1, 0, 4, 2)), Kind::kDuplicate);
  EXPECT_EQ(KindOf(Batch(1, 0, 6)), Kind::kAppend);
}

TEST_F(ProducerStateTest, RemoveBelowForgetsProducersLeftWithoutBatches) {
  Append(Batch(1, 0, 0, 3));  // offsets 0..2
  Append(Batch(2, 0, 0));     // offset 3
  table_.RemoveBelow(Offset(3));
  EXPECT_EQ(table_.producer_count(), 1u);
  EXPECT_EQ(KindOf(Batch(1, 0, 42)), Kind::kAppend);
  EXPECT_EQ(KindOf(Batch(2, 0, 42)), Kind::kOutOfOrderSequence);
}

TEST(ProducerStateExpiryTest, ExpireIdleUsesTheGivenClockAndTheLastRecordTime) {
  ProducerStateTable table({.expiration_ms = 100, .max_producers = 10});
  table.Record(Batch(1, 0, 0), Offset(0), 1000);
  table.Record(Batch(2, 0, 0), Offset(1), 1000);
  table.Record(Batch(2, 0, 1), Offset(2), 1050);  // refreshes producer 2
  EXPECT_EQ(table.ExpireIdle(1099), 0u);
  EXPECT_EQ(table.ExpireIdle(1100), 1u);  // exactly expiration_ms idle: gone, as Kafka (>=)
  EXPECT_EQ(table.producer_count(), 1u);
  EXPECT_EQ(table.Check(Batch(1, 0, 42)).kind, Kind::kAppend);
  EXPECT_EQ(table.Check(Batch(2, 0, 42)).kind, Kind::kOutOfOrderSequence);
  EXPECT_EQ(table.ExpireIdle(1150), 1u);
  EXPECT_EQ(table.producer_count(), 0u);
}

TEST(ProducerStateBoundTest, NewProducerBeyondTheBoundEvictsTheLeastRecentlyRecorded) {
  ProducerStateTable table({.expiration_ms = 1'000'000, .max_producers = 3});
  table.Record(Batch(1, 0, 0), Offset(0), 10);
  table.Record(Batch(2, 0, 0), Offset(1), 20);
  table.Record(Batch(3, 0, 0), Offset(2), 30);
  table.Record(Batch(1, 0, 1), Offset(3), 40);  // 1 is now the most recent; 2 the least
  EXPECT_EQ(table.evicted_for_bound(), 0u);
  table.Record(Batch(4, 0, 0), Offset(4), 50);
  EXPECT_EQ(table.producer_count(), 3u);
  EXPECT_EQ(table.evicted_for_bound(), 1u);
  EXPECT_EQ(table.Check(Batch(2, 0, 42)).kind, Kind::kAppend);  // forgotten
  EXPECT_EQ(table.Check(Batch(3, 0, 42)).kind, Kind::kOutOfOrderSequence);
  table.Record(Batch(5, 0, 0), Offset(5), 60);
  EXPECT_EQ(table.evicted_for_bound(), 2u);
  EXPECT_EQ(table.Check(Batch(3, 0, 42)).kind, Kind::kAppend);
  EXPECT_EQ(table.Check(Batch(1, 0, 42)).kind, Kind::kOutOfOrderSequence);
}

TEST(ProducerStateBoundTest, RecordingAKnownProducerAtTheBoundEvictsNobody) {
  ProducerStateTable table({.expiration_ms = 1'000'000, .max_producers = 2});
  table.Record(Batch(1, 0, 0), Offset(0), 10);
  table.Record(Batch(2, 0, 0), Offset(1), 20);
  table.Record(Batch(1, 0, 1), Offset(2), 30);
  table.Record(Batch(2, 1, 0), Offset(3), 40);  // new epoch, same producer
  EXPECT_EQ(table.producer_count(), 2u);
  EXPECT_EQ(table.evicted_for_bound(), 0u);
}

// Captures what the default logger writes while the test runs.
class CapturedLog {
 public:
  CapturedLog()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100)), saved_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(saved_); }
  std::vector<std::string> lines() const { return sink_->last_formatted(); }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> saved_;
};

TEST(ProducerStateBoundTest, EvictionsLogAtMostOnceEveryTenSecondsWithTheCountAndTheBound) {
  CapturedLog log;
  ProducerStateTable table({.expiration_ms = 1'000'000'000, .max_producers = 1});
  for (int64_t pid = 0; pid < 100; ++pid) table.Record(Batch(pid, 0, 0), Offset(pid), pid);  // 99 evictions
  ASSERT_EQ(log.lines().size(), 1u);
  EXPECT_NE(log.lines()[0].find("evicted 1 "), std::string::npos) << log.lines()[0];
  table.Record(Batch(100, 0, 0), Offset(100), 10'001);  // the 100th eviction, 10 s after the first
  ASSERT_EQ(log.lines().size(), 2u);
  EXPECT_NE(log.lines()[1].find("evicted 99 "), std::string::npos) << log.lines()[1];
  EXPECT_NE(log.lines()[1].find("because 1 are tracked"), std::string::npos) << log.lines()[1];
  EXPECT_EQ(table.evicted_for_bound(), 100u);
}

// --- Snapshot format -------------------------------------------------------------------------------

ProducerStateTable SampleTable(ProducerStateConfig config = {}) {
  ProducerStateTable table(config);
  int64_t offset = 1000;
  for (int i = 0; i < 7; ++i) {  // producer 7: seven batches, five cached, last one wraps its sequence
    ProducerBatch b = Batch(7, 2, i == 6 ? kMaxSeq - 1 : i * 3, 3);
    table.Record(b, Offset(offset), 100 + i);
    offset += 3;
  }
  table.Record(Batch(8, 0, 17), Offset(offset++), 50);    // least recently recorded of those still kept
  table.Record(Batch(9, 5, 0, 10), Offset(offset), 200);  // most recent
  return table;
}

TEST(ProducerStateSnapshotTest, RoundTripKeepsEveryCachedBatchEpochAndClock) {
  const ProducerStateTable original = SampleTable();
  auto restored = ProducerStateTable::Deserialize(original.Serialize(), {});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->producer_count(), 3u);
  for (int i = 2; i < 7; ++i) {  // all five cached batches of producer 7, not only the last
    ProducerBatch b = Batch(7, 2, i == 6 ? kMaxSeq - 1 : i * 3, 3);
    SequenceVerdict before = original.Check(b);
    SequenceVerdict after = restored->Check(b);
    EXPECT_EQ(after.kind, Kind::kDuplicate) << "batch " << i;
    EXPECT_EQ(after.original_base, before.original_base) << "batch " << i;
    EXPECT_EQ(after.original_end, before.original_end) << "batch " << i;
  }
  EXPECT_EQ(restored->Check(Batch(7, 2, 3, 3)).kind, Kind::kOutOfOrderSequence);  // batch 1 was not cached
  EXPECT_EQ(restored->Check(Batch(7, 2, 1)).kind, Kind::kAppend);  // the last batch ended at 0, wrapped
  EXPECT_EQ(restored->Check(Batch(7, 1, 0)).kind, Kind::kInvalidProducerEpoch);
  EXPECT_EQ(restored->Check(Batch(8, 0, 18)).kind, Kind::kAppend);
  EXPECT_EQ(restored->Check(Batch(9, 5, 10)).kind, Kind::kAppend);
  EXPECT_EQ(restored->Serialize(), original.Serialize());
  EXPECT_EQ(restored->ExpireIdle(50 + 86'400'000), 1u);  // producer 8's clock came back
}

TEST(ProducerStateSnapshotTest, RoundTripKeepsTheRecencyOrderForEviction) {
  auto restored = ProducerStateTable::Deserialize(SampleTable().Serialize(), {.max_producers = 3});
  ASSERT_TRUE(restored.ok());
  restored->Record(Batch(10, 0, 0), Offset(5000), 300);
  // Recency is the order of Record() calls, not of their clocks: 7 was recorded before 8 and 9, so it goes
  // first, although 8's clock (50) is older than 7's (106).
  EXPECT_EQ(restored->Check(Batch(7, 2, 42)).kind, Kind::kAppend);
  EXPECT_EQ(restored->Check(Batch(8, 0, 42)).kind, Kind::kOutOfOrderSequence);
}

TEST(ProducerStateSnapshotTest, DeserializeEvictsTheLeastRecentWhenTheBoundShrank) {
  auto restored = ProducerStateTable::Deserialize(SampleTable().Serialize(), {.max_producers = 2});
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->producer_count(), 2u);
  EXPECT_EQ(restored->evicted_for_bound(), 1u);
  EXPECT_EQ(restored->Check(Batch(7, 2, 42)).kind, Kind::kAppend);
}

TEST(ProducerStateSnapshotTest, EmptyTableRoundTrips) {
  ProducerStateTable empty;
  Bytes bytes = empty.Serialize();
  EXPECT_EQ(bytes.size(), producer_snapshot_layout::kHeaderSize);
  auto restored = ProducerStateTable::Deserialize(bytes, {});
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->producer_count(), 0u);
}

TEST(ProducerStateSnapshotTest, DamageAtEveryByteIsCorruption) {
  const Bytes good = SampleTable().Serialize();
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      Bytes bad = good;
      bad[i] ^= flip;
      auto r = ProducerStateTable::Deserialize(bad, {});
      ASSERT_FALSE(r.ok()) << "byte " << i << " ^ " << int{flip};
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << "byte " << i;
    }
  }
}

TEST(ProducerStateSnapshotTest, TruncationAtEveryLengthAndTrailingBytesAreCorruption) {
  const Bytes good = SampleTable().Serialize();
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = ProducerStateTable::Deserialize(ByteView(good).first(n), {});
    ASSERT_FALSE(r.ok()) << "length " << n;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << "length " << n;
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_EQ(ProducerStateTable::Deserialize(longer, {}).status().code(), StatusCode::kCorruption);
}

// Rewrites the CRC so a test reaches the value checks behind it.
Bytes WithFreshCrc(Bytes bytes) {
  namespace L = producer_snapshot_layout;
  StoreBe32(bytes.data() + L::kCrc,
            crc32c::Value(bytes.data() + L::kVersionAt, bytes.size() - L::kVersionAt));
  return bytes;
}

TEST(ProducerStateSnapshotTest, ValuesRecordCannotProduceAreCorruptionEvenWithAValidCrc) {
  namespace L = producer_snapshot_layout;
  ProducerStateTable table;
  table.Record(Batch(1, 0, 0, 2), Offset(10), 5);
  table.Record(Batch(1, 0, 2, 2), Offset(12), 6);
  const Bytes good = table.Serialize();
  ASSERT_TRUE(ProducerStateTable::Deserialize(WithFreshCrc(good), {}).ok());
  const size_t producer = L::kHeaderSize;
  const size_t batch_count = producer + 18;
  const size_t second_batch = producer + L::kProducerHeaderSize + L::kBatchSize;
  auto expect_corrupt = [&](size_t at, uint8_t value, const char* what) {
    Bytes bad = good;
    bad[at] = value;
    EXPECT_EQ(ProducerStateTable::Deserialize(WithFreshCrc(bad), {}).status().code(), StatusCode::kCorruption)
        << what;
  };
  expect_corrupt(L::kVersionAt + 1, 2, "version 2");
  expect_corrupt(L::kProducerCount, 0x80, "negative producer count");
  expect_corrupt(L::kProducerCount + 3, 2, "more producers than bytes");
  expect_corrupt(producer, 0x80, "negative producer id");
  expect_corrupt(producer + 10, 0x80, "negative clock");
  expect_corrupt(batch_count, 0, "no batches");
  expect_corrupt(batch_count, 6, "six batches");
  expect_corrupt(second_batch, 0x80, "negative first sequence");
  expect_corrupt(second_batch + 4 + 7, 11, "batch overlapping the previous one");
  expect_corrupt(second_batch + 12, 0x80, "negative last offset delta");
}

TEST(ProducerStateSnapshotTest, DuplicateProducerIdIsCorruption) {
  ProducerStateTable table;
  table.Record(Batch(1, 0, 0), Offset(10), 5);
  table.Record(Batch(2, 0, 0), Offset(11), 6);
  Bytes bytes = table.Serialize();
  const size_t second = producer_snapshot_layout::kHeaderSize +
                        producer_snapshot_layout::kProducerHeaderSize + producer_snapshot_layout::kBatchSize;
  bytes[second + 7] = 1;  // producer 2 becomes producer 1
  EXPECT_EQ(ProducerStateTable::Deserialize(WithFreshCrc(bytes), {}).status().code(),
            StatusCode::kCorruption);
}

// --- Snapshot files --------------------------------------------------------------------------------

class ProducerStateFileTest : public ::testing::Test {
 protected:
  std::filesystem::path Path(int64_t offset) const {
    return dir() / MakeProducerSnapshotFileName(Offset(offset));
  }
  const std::filesystem::path& dir() const { return tmp_.path(); }
  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir()))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  void Write(const ProducerStateTable& table, int64_t offset) {
    Status s = WriteProducerSnapshot(dir(), table, Offset(offset));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Writes a snapshot at `offset` without deleting the others, as an earlier run would have left it.
  void Plant(const ProducerStateTable& table, int64_t offset) {
    Bytes bytes = table.Serialize();
    std::ofstream(Path(offset), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  std::optional<std::pair<ProducerStateTable, Offset>> Load(int64_t log_start, int64_t log_end) {
    auto loaded = LoadNewestProducerSnapshot(dir(), Offset(log_start), Offset(log_end), {});
    EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
    return loaded.ok() ? std::move(loaded).value() : std::nullopt;
  }
  static ProducerStateTable OneProducer(int64_t pid, int64_t offset) {
    ProducerStateTable table;
    table.Record(Batch(pid, 0, 0), Offset(offset), 1);
    return table;
  }

  storage::test::TempDir tmp_;
};

TEST_F(ProducerStateFileTest, FileNameIsTheOffsetInTwentyDigits) {
  EXPECT_EQ(MakeProducerSnapshotFileName(Offset(1234)), "00000000000000001234.producer_snapshot");
  EXPECT_EQ(ParseProducerSnapshotFileName("00000000000000001234.producer_snapshot"), Offset(1234));
  EXPECT_EQ(ParseProducerSnapshotFileName("00000000000000001234.producer_snapshot.tmp"), std::nullopt);
  EXPECT_EQ(ParseProducerSnapshotFileName("00000000000000001234.log"), std::nullopt);
  EXPECT_EQ(ParseProducerSnapshotFileName("-0000000000000001234.producer_snapshot"), std::nullopt);
}

TEST_F(ProducerStateFileTest, NoSnapshotLoadsAsNothing) {
  EXPECT_FALSE(Load(0, 100).has_value());
}

TEST_F(ProducerStateFileTest, WrittenSnapshotLoadsWithItsOffsetAndReplacesOlderOnes) {
  Write(OneProducer(1, 10), 11);
  Write(SampleTable(), 2000);
  EXPECT_EQ(Files(), std::vector<std::string>{"00000000000000002000.producer_snapshot"});
  auto loaded = Load(0, 2000);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->second, Offset(2000));
  EXPECT_EQ(loaded->first.Serialize(), SampleTable().Serialize());
}

TEST_F(ProducerStateFileTest, NewestOfSeveralSnapshotsWins) {
  Plant(OneProducer(1, 10), 11);
  Plant(OneProducer(2, 20), 21);
  Plant(OneProducer(3, 5), 6);
  auto loaded = Load(0, 100);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->second, Offset(21));
  EXPECT_EQ(loaded->first.Check(Batch(2, 0, 0)).kind, Kind::kDuplicate);
}

TEST_F(ProducerStateFileTest, CorruptNewestIsDeletedAndTheOlderOneLoads) {
  Plant(OneProducer(1, 10), 11);
  Plant(OneProducer(2, 20), 21);
  {
    std::fstream f(Path(21), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    f.put('\x42');
  }
  auto loaded = Load(0, 100);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->second, Offset(11));
  EXPECT_EQ(loaded->first.Check(Batch(1, 0, 0)).kind, Kind::kDuplicate);
  EXPECT_FALSE(std::filesystem::exists(Path(21)));
}

TEST_F(ProducerStateFileTest, SnapshotAboveTheLogEndIsIgnoredAndDeleted) {
  Plant(OneProducer(1, 10), 11);
  Plant(OneProducer(2, 20), 21);
  auto loaded = Load(0, 20);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->second, Offset(11));
  EXPECT_FALSE(std::filesystem::exists(Path(21)));
}

TEST_F(ProducerStateFileTest, SnapshotAtExactlyTheLogEndLoads) {
  Plant(OneProducer(1, 10), 11);
  auto loaded = Load(0, 11);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->second, Offset(11));
}

TEST_F(ProducerStateFileTest, LoadedTableDropsBatchesBelowTheLogStart) {
  ProducerStateTable table;
  table.Record(Batch(1, 0, 0), Offset(3), 1);
  table.Record(Batch(2, 0, 0), Offset(8), 1);
  Plant(table, 9);
  auto loaded = Load(5, 50);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->first.producer_count(), 1u);
  EXPECT_EQ(loaded->first.Check(Batch(2, 0, 0)).kind, Kind::kDuplicate);
}

TEST_F(ProducerStateFileTest, LeftoverTemporaryFilesAreDeleted) {
  Plant(OneProducer(1, 10), 11);
  std::ofstream(dir() / "00000000000000000030.producer_snapshot.tmp") << "half";
  ASSERT_TRUE(Load(0, 100).has_value());
  EXPECT_EQ(Files(), std::vector<std::string>{"00000000000000000011.producer_snapshot"});
}

TEST_F(ProducerStateFileTest, FailedSyncLeavesThePreviousSnapshotAndNoTemporaryFile) {
  Write(OneProducer(1, 10), 11);
  auto faults = std::make_shared<storage::testing::FaultInjectingFileOps>();
  faults->FailNextSyncs(1);
  Status s = WriteProducerSnapshot(dir(), OneProducer(2, 20), Offset(21), *faults);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(Files(), std::vector<std::string>{"00000000000000000011.producer_snapshot"});
  auto loaded = Load(0, 100);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->second, Offset(11));
}

TEST_F(ProducerStateFileTest, DeleteAboveRemovesOnlyLaterSnapshots) {
  Plant(OneProducer(1, 10), 11);
  Plant(OneProducer(2, 20), 21);
  Plant(OneProducer(3, 30), 31);
  Status s = DeleteProducerSnapshotsAbove(dir(), Offset(21));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Files(), (std::vector<std::string>{"00000000000000000011.producer_snapshot",
                                               "00000000000000000021.producer_snapshot"}));
}

}  // namespace
}  // namespace oncemq::broker
