// Per-partition idempotent-producer state: the sequence rules of kafka-protocol.md §6.2–6.4, exactly as
// Kafka applies them, as pure logic with no I/O. The partition owns one ProducerStateTable; its produce
// path calls Check() before appending and Record() once the batch has its offsets, and its recovery
// path calls Record() for every replayed batch (no validation, as Kafka's REPLICATION origin).
//
// Per producer id the table keeps the epoch and the last kMaxCachedBatches batches (first/last sequence,
// base offset, last offset delta). Producers live until they go idle (ExpireIdle), until retention or
// truncation removes all their cached batches, or until the bound on tracked producers evicts the least
// recently recorded one. A producer the table does not know accepts any sequence (Kafka >= 2.5, KIP-360).
//
// Thread safety: none. The owning partition serialises every call under its append lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>

#include "common/bytes.h"
#include "common/status.h"
#include "common/types.h"

namespace oncemq::broker {

// What the table needs from a RecordBatch header (protocol::BatchHeader has all four fields).
// REQUIRES for Check/Record: producer_id >= 0, epoch >= 0, base_sequence >= 0, last_offset_delta >= 0
// (batch validation rejects anything else with INVALID_RECORD before the table sees it).
struct ProducerBatch {
  ProducerId producer_id;
  ProducerEpoch epoch;
  Sequence base_sequence;
  int32_t last_offset_delta;
};

// The answer to "may this batch be appended?".
struct SequenceVerdict {
  enum class Kind {
    kAppend,                // append it, then Record() it
    kDuplicate,             // an exact re-send of a cached batch: append nothing, answer success with
                            // original_base (never DUPLICATE_SEQUENCE_NUMBER, which kafkajs treats as fatal)
    kOutOfOrderSequence,    // OUT_OF_ORDER_SEQUENCE_NUMBER (45)
    kInvalidProducerEpoch,  // INVALID_PRODUCER_EPOCH (47)
  };
  Kind kind;
  Offset original_base;  // kDuplicate only: base offset of the cached original batch
  Offset original_end;   // kDuplicate only: the original's last offset + 1. If the original is not yet
                         // durable, the caller waits for durability up to here and answers as it would
                         // have answered the original (STYLE.md rule 12).
};

struct ProducerStateConfig {
  int64_t expiration_ms = 86'400'000;  // producer.id.expiration.ms (Kafka >= 3.4 default: one day)
  size_t max_producers = 100'000;      // bound on tracked producers; values below 1 act as 1
};

// `seq` advanced by `increment`, wrapping past INT32_MAX to 0 (Kafka's DefaultRecordBatch
// incrementSequence). REQUIRES: seq >= 0, increment >= 0.
Sequence IncrementSequence(Sequence seq, int32_t increment);
// The sequence of the batch's last record: base_sequence + last_offset_delta, wrapped.
inline Sequence LastSequence(const ProducerBatch& batch) {
  return IncrementSequence(batch.base_sequence, batch.last_offset_delta);
}

class ProducerStateTable {
 public:
  // Batches kept per producer: librdkafka and the Java client pipeline at most 5 requests.
  static constexpr size_t kMaxCachedBatches = 5;

  explicit ProducerStateTable(ProducerStateConfig config = {});
  // Move-only: entries hold iterators into the recency list, which a copy would not carry over.
  ProducerStateTable(ProducerStateTable&&) = default;
  ProducerStateTable& operator=(ProducerStateTable&&) = default;
  ProducerStateTable(const ProducerStateTable&) = delete;
  ProducerStateTable& operator=(const ProducerStateTable&) = delete;

  // kafka-protocol.md §6.3 steps 1–3, in Kafka's order:
  //  1. same epoch and an exact (first_seq, last_seq) match among the cached batches → kDuplicate;
  //  2. batch epoch < producer epoch → kInvalidProducerEpoch (plain signed comparison, as Kafka: after
  //     librdkafka wraps its epoch from INT16_MAX to 0 the producer is fenced; theoretical);
  //  3. unknown producer → kAppend at any sequence; a greater epoch → kAppend iff base_sequence == 0;
  //     the same epoch → kAppend iff base_sequence == last cached last_seq + 1, or base_sequence == 0
  //     after last_seq == INT32_MAX; everything else (gaps, re-sends older than the cache, ranges that
  //     overlap a cached one without matching it) → kOutOfOrderSequence.
  // Changes nothing. O(kMaxCachedBatches).
  SequenceVerdict Check(const ProducerBatch& batch) const;

  // §6.3 step 4: remembers `batch`, now stored at [base_offset, base_offset + last_offset_delta].
  // A new epoch clears the producer's cache first; the oldest of more than kMaxCachedBatches is
  // dropped. Does not validate (replay after a restart uses it too), so call Check() first on the
  // produce path, and call Record() only once the append has succeeded. `now_ms` is the broker's clock
  // (never the batch timestamp: sarama sends -1), the base of expiry and of the eviction order.
  // A new producer beyond max_producers evicts the least recently recorded one. O(1) amortised.
  // REQUIRES: base_offset greater than every offset already recorded for this producer; now_ms >= 0.
  void Record(const ProducerBatch& batch, Offset base_offset, int64_t now_ms);

  // The log was cut back to `end` (exclusive): drops every cached batch whose last offset >= end and
  // forgets producers left with none (they become unknown and accept any sequence). The epoch of an
  // older batch still in the log is not restored; replaying the log rebuilds it exactly. O(producers).
  void TruncateTo(Offset end);

  // Retention deleted everything below `log_start`: drops cached batches whose last offset < log_start
  // and forgets producers left with none. O(producers).
  void RemoveBelow(Offset log_start);

  // Forgets producers whose last Record() is at least expiration_ms before `now_ms` (the broker's
  // clock). Returns how many. O(producers): run it periodically (Kafka: every 10 minutes).
  size_t ExpireIdle(int64_t now_ms);

  size_t producer_count() const { return entries_.size(); }
  // Producers dropped because max_producers was reached, since construction. A metric.
  uint64_t evicted_for_bound() const { return evicted_for_bound_; }

  // The whole table (every cached batch of every producer, its epoch and last record time) in the
  // format of producer_state_snapshot.h, least recently recorded producer first. Both functions are
  // defined in producer_state_snapshot.cpp, next to the format.
  Bytes Serialize() const;
  // The table Serialize() wrote. kCorruption on a bad CRC, an unknown version, a short or overlong
  // body, or values that Record() could not have produced. When the snapshot holds more producers than
  // config.max_producers, the least recently recorded ones are evicted (and counted).
  static Result<ProducerStateTable> Deserialize(ByteView bytes, ProducerStateConfig config);

 private:
  struct CachedBatch {
    Sequence first_seq;
    Sequence last_seq;
    Offset base_offset;
    int32_t last_offset_delta;
    Offset last_offset() const { return Offset(base_offset.value() + last_offset_delta); }
  };
  struct Entry {
    ProducerEpoch epoch;
    uint8_t count = 0;                                   // valid batches, oldest first in batches[0]
    std::array<CachedBatch, kMaxCachedBatches> batches;  // a five-element shift beats a deque's allocations
    int64_t last_record_ms = 0;
    std::list<ProducerId>::iterator recency;  // position in recency_
  };
  using EntryMap = std::unordered_map<ProducerId, Entry>;

  Entry& FindOrCreate(ProducerId id, int64_t now_ms);
  void Touch(Entry& entry, int64_t now_ms);
  static void Push(Entry& entry, const CachedBatch& batch);
  void EvictLeastRecent(int64_t now_ms);
  EntryMap::iterator Forget(EntryMap::iterator it);
  template <typename Pred>
  void ForgetIf(Pred pred);
  static SequenceVerdict CheckSameEpoch(const Entry& entry, const ProducerBatch& batch);

  ProducerStateConfig config_;
  EntryMap entries_;
  std::list<ProducerId> recency_;  // least recently recorded at the front
  uint64_t evicted_for_bound_ = 0;
  uint64_t evictions_unlogged_ = 0;   // evictions since the last log line
  int64_t last_eviction_log_ms_ = 0;  // broker clock of that line
  bool eviction_logged_ = false;
};

}  // namespace oncemq::broker
