#include "broker/producer_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

namespace oncemq::broker {
namespace {

using Kind = SequenceVerdict::Kind;

constexpr int32_t kMaxSequence = std::numeric_limits<int32_t>::max();
// Eviction log lines are rate-limited: under a flood of new producer ids one line per eviction would
// drown the log, and the counter already carries the exact number.
constexpr int64_t kEvictionLogIntervalMs = 10'000;

SequenceVerdict Verdict(Kind kind) {
  return {kind, Offset(-1), Offset(-1)};
}

}  // namespace

Sequence IncrementSequence(Sequence seq, int32_t increment) {
  // Written so that nothing overflows: Kafka's DefaultRecordBatch.incrementSequence.
  if (seq.value() > kMaxSequence - increment) return Sequence(increment - (kMaxSequence - seq.value()) - 1);
  return Sequence(seq.value() + increment);
}

ProducerStateTable::ProducerStateTable(ProducerStateConfig config) : config_(config) {
  config_.max_producers = std::max<size_t>(config_.max_producers, 1);
}

SequenceVerdict ProducerStateTable::Check(const ProducerBatch& batch) const {
  auto it = entries_.find(batch.producer_id);
  if (it == entries_.end()) return Verdict(Kind::kAppend);  // unknown producer: any sequence (KIP-360)
  const Entry& entry = it->second;
  if (batch.epoch == entry.epoch) return CheckSameEpoch(entry, batch);
  if (batch.epoch < entry.epoch) return Verdict(Kind::kInvalidProducerEpoch);
  // A greater epoch: the producer bumped it (librdkafka does so on its own) and restarts at 0.
  return Verdict(batch.base_sequence.value() == 0 ? Kind::kAppend : Kind::kOutOfOrderSequence);
}

SequenceVerdict ProducerStateTable::CheckSameEpoch(const Entry& entry, const ProducerBatch& batch) {
  // The duplicate check comes first (§6.3 step 1), so an exact re-send is never mistaken for a gap.
  const Sequence last_seq = LastSequence(batch);
  for (size_t i = 0; i < entry.count; ++i) {
    const CachedBatch& cached = entry.batches[i];
    if (cached.first_seq == batch.base_sequence && cached.last_seq == last_seq) {
      return {Kind::kDuplicate, cached.base_offset, Offset(cached.last_offset().value() + 1)};
    }
  }
  // 64-bit, as Kafka: last + 1 must not overflow into a negative that some batch could match.
  const int64_t last = entry.count == 0 ? -1 : entry.batches[entry.count - 1].last_seq.value();
  const int64_t base = batch.base_sequence.value();
  if (base == last + 1 || (base == 0 && last == kMaxSequence)) return Verdict(Kind::kAppend);
  return Verdict(Kind::kOutOfOrderSequence);
}

void ProducerStateTable::Record(const ProducerBatch& batch, Offset base_offset, int64_t now_ms) {
  Entry& entry = FindOrCreate(batch.producer_id, now_ms);
  if (entry.count == 0 || entry.epoch != batch.epoch) {
    entry.epoch = batch.epoch;
    entry.count = 0;  // a new epoch's sequences restart at 0: the old epoch's batches can never match
  }
  Push(entry, {batch.base_sequence, LastSequence(batch), base_offset, batch.last_offset_delta});
  Touch(entry, now_ms);
}

ProducerStateTable::Entry& ProducerStateTable::FindOrCreate(ProducerId id, int64_t now_ms) {
  auto it = entries_.find(id);
  if (it != entries_.end()) return it->second;
  if (entries_.size() >= config_.max_producers) EvictLeastRecent(now_ms);
  Entry& entry = entries_[id];
  entry.recency = recency_.insert(recency_.end(), id);
  return entry;
}

void ProducerStateTable::Touch(Entry& entry, int64_t now_ms) {
  entry.last_record_ms = now_ms;
  recency_.splice(recency_.end(), recency_, entry.recency);  // iterators stay valid across splice
}

void ProducerStateTable::Push(Entry& entry, const CachedBatch& batch) {
  if (entry.count == kMaxCachedBatches) {
    std::move(entry.batches.begin() + 1, entry.batches.end(), entry.batches.begin());
    --entry.count;
  }
  entry.batches[entry.count++] = batch;
}

void ProducerStateTable::EvictLeastRecent(int64_t now_ms) {
  Forget(entries_.find(recency_.front()));
  ++evicted_for_bound_;
  ++evictions_unlogged_;
  if (eviction_logged_ && now_ms - last_eviction_log_ms_ < kEvictionLogIntervalMs) return;
  spdlog::warn(
      "producer state: evicted {} least recently active producer(s) because {} are tracked "
      "(max_producers); {} evicted in total. An evicted producer's next batch is accepted at any sequence.",
      evictions_unlogged_, config_.max_producers, evicted_for_bound_);
  evictions_unlogged_ = 0;
  last_eviction_log_ms_ = now_ms;
  eviction_logged_ = true;
}

ProducerStateTable::EntryMap::iterator ProducerStateTable::Forget(EntryMap::iterator it) {
  recency_.erase(it->second.recency);
  return entries_.erase(it);
}

template <typename Pred>
void ProducerStateTable::ForgetIf(Pred pred) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = pred(it->second) ? Forget(it) : std::next(it);
  }
}

void ProducerStateTable::TruncateTo(Offset end) {
  // A producer's batches sit in offset order, so the cut-off ones are a suffix.
  ForgetIf([end](Entry& entry) {
    while (entry.count > 0 && entry.batches[entry.count - 1].last_offset() >= end) --entry.count;
    return entry.count == 0;
  });
}

void ProducerStateTable::RemoveBelow(Offset log_start) {
  // ...and the deleted ones are a prefix.
  ForgetIf([log_start](Entry& entry) {
    auto first_kept =
        std::find_if(entry.batches.begin(), entry.batches.begin() + entry.count,
                     [log_start](const CachedBatch& b) { return b.last_offset() >= log_start; });
    auto kept_end = std::move(first_kept, entry.batches.begin() + entry.count, entry.batches.begin());
    entry.count = static_cast<uint8_t>(kept_end - entry.batches.begin());
    return entry.count == 0;
  });
}

size_t ProducerStateTable::ExpireIdle(int64_t now_ms) {
  // A full scan rather than a walk from the front of the recency list: the broker's wall clock may step
  // backwards, and then recency order is not timestamp order.
  const size_t before = entries_.size();
  ForgetIf([&](const Entry& entry) { return now_ms - entry.last_record_ms >= config_.expiration_ms; });
  return before - entries_.size();
}

}  // namespace oncemq::broker
