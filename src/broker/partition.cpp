#include "broker/partition.h"

#include <spdlog/spdlog.h>

#include "broker/batch_validation.h"
#include "broker/broker_stats.h"
#include "broker/msg_id_dedup.h"
#include "broker/producer_state_snapshot.h"
#include "protocol/record_batch.h"

#include <algorithm>
#include <asio/this_coro.hpp>

namespace oncemq::broker {

Partition::Partition(std::string topic, PartitionId id, std::unique_ptr<storage::PartitionLog> log,
                     FlushRequest request_flush)
    : topic_(std::move(topic)), id_(id), log_(std::move(log)), request_flush_(std::move(request_flush)) {}

int64_t Partition::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Partition::ProduceOutcome Partition::Produce(MutableByteView batch, const protocol::BatchHeader& header) {
  using protocol::ErrorCode;
  ProduceOutcome out;
  std::lock_guard lock(append_mu_);
  if (!log_->healthy()) {
    // Producer state may describe batches the coming heal will cut off: decide nothing until it has.
    request_flush_(this);
    out.error = ErrorCode::kKafkaStorageError;
    return out;
  }
  const bool idempotent = header.producer_id() >= 0;
  const ProducerBatch identity{ProducerId(header.producer_id()), ProducerEpoch(header.producer_epoch()),
                               Sequence(header.base_sequence()), header.last_offset_delta()};
  if (idempotent) {
    SequenceVerdict verdict = producer_state_.Check(identity);
    switch (verdict.kind) {
      case SequenceVerdict::Kind::kAppend: break;
      case SequenceVerdict::Kind::kDuplicate:
        ++sequence_duplicates_.batches;
        sequence_duplicates_.records += static_cast<uint64_t>(std::max(header.records_count(), 0));
        out.base = verdict.original_base;
        out.durable_end = verdict.original_end;
        out.duplicate = true;
        return out;
      case SequenceVerdict::Kind::kOutOfOrderSequence:
        out.error = ErrorCode::kOutOfOrderSequenceNumber;
        return out;
      case SequenceVerdict::Kind::kInvalidProducerEpoch:
        out.error = ErrorCode::kInvalidProducerEpoch;
        return out;
    }
  }
  const int64_t now = NowMs();
  Bytes rewritten;
  if (window_ && FilterMsgIds(batch, header, idempotent, now, rewritten, out)) return out;
  auto appended = log_->Append(batch);
  if (!appended.ok()) {
    spdlog::error("append to {}/{} failed: {}", topic_, id_.value(), appended.status().ToString());
    if (!log_->healthy()) request_flush_(this);  // the heal happens in Flush()
    out.error = ToKafkaError(appended.status());
    return out;
  }
  if (idempotent) producer_state_.Record(identity, appended->base, now);
  if (window_) InsertFresh(scan_, appended->base, now, *window_);
  // A re-send that repeats a run of originals is answered with where they are (a client computes each
  // record's offset as base + index); any other batch with duplicates with its own base, whose slots of
  // dropped records stay empty — never an offset where another message lives. The record-less batch
  // appended for an all-duplicate re-send carries its sequence range (idempotent) and those empty slots.
  const bool only_duplicates = window_ && scan_.any_duplicate() && scan_.fresh.empty() &&
                               static_cast<int32_t>(scan_.dropped.size()) == scan_.records;
  const bool at_originals = only_duplicates && scan_.originals_in_order;
  out.base = at_originals ? scan_.first_original.value_or(appended->base) : appended->base;
  out.duplicate = only_duplicates;
  out.durable_end = std::max(out.durable_end, Offset(appended->last.value() + 1));
  AfterAppend();
  return out;
}

bool Partition::FilterMsgIds(MutableByteView& batch, const protocol::BatchHeader& header, bool idempotent,
                             int64_t now, Bytes& rewritten, ProduceOutcome& out) {
  if (!ScanMsgIds(header, *window_, now, scan_scratch_, scan_).ok()) {
    out.error = protocol::ErrorCode::kCorruptMessage;
    return true;
  }
  if (!scan_.any_duplicate()) return false;
  duplicates_dropped_ += scan_.dropped.size();
  // The originals may still be waiting for their fsync: this answer waits for them too.
  out.durable_end = Offset(scan_.max_original.value() + 1);
  const bool all_duplicates = static_cast<int32_t>(scan_.dropped.size()) == scan_.records;
  if (all_duplicates && !idempotent &&
      scan_.originals_in_order) {  // nothing to append: point at the originals
    out.base = scan_.first_original.value_or(Offset(-1));
    out.duplicate = true;
    return true;
  }
  auto copy = RewriteWithout(header, scan_, scan_scratch_);
  if (!copy.ok()) {
    out.error = protocol::ErrorCode::kCorruptMessage;
    return true;
  }
  rewritten = std::move(*copy);
  batch = MutableByteView(rewritten);
  return false;
}

void Partition::EnableMsgIdWindow(int64_t window_ms, size_t max_entries) {
  std::lock_guard lock(append_mu_);
  window_ = std::make_unique<MsgIdWindow>(window_ms, max_entries);
}

Status Partition::RecoverMsgIdWindow() {
  std::lock_guard lock(append_mu_);
  if (!window_) return Status::Ok();
  const int64_t now = NowMs();
  auto start = log_->OffsetForTimestamp(now - window_->window_ms());
  if (!start.ok()) return start.status();
  if (!start->has_value()) return Status::Ok();  // nothing recent enough
  Offset from = **start;
  Bytes chunk, scratch;
  while (from < log_->log_end()) {
    chunk.clear();
    if (Status s = log_->ReadInto(from, 1 << 20, log_->log_end(), chunk); !s.ok()) return s;
    if (chunk.empty()) break;
    for (ByteView rest(chunk); !rest.empty();) {
      auto header = protocol::BatchHeader::Parse(rest);
      if (!header.ok()) return header.status();
      rest = rest.subspan(header->total_size());
      if (header->last_offset() < from.value()) continue;
      auto records = protocol::RecordsSection(*header, scratch);
      if (!records.ok()) return records.status();
      protocol::RecordIterator it(*records, header->records_count());
      while (auto record = it.Next()) {
        auto id = record->headers.Find(kMsgIdHeader);
        if (!id || !id->value) continue;
        // The append time is not stored; the record's own timestamp (the producer's clock) stands in.
        // Clamped to now: one record stamped in the future must not push the window's clock ahead and
        // expire the genuinely recent ids.
        int64_t stamped = std::min(header->base_timestamp() + record->timestamp_delta, now);
        window_->Insert(AsStringView(*id->value), Offset(header->base_offset() + record->offset_delta),
                        stamped);
      }
      from = Offset(header->last_offset() + 1);
    }
  }
  window_->ExpireUpTo(now);
  spdlog::info("{}/{}: message-id window rebuilt: {} ids", topic_, id_.value(), window_->size());
  return Status::Ok();
}

Partition::DedupStats Partition::dedup_stats() const {
  std::lock_guard lock(append_mu_);
  if (!window_) return {};
  return {window_->size(), window_->memory_bytes(), duplicates_dropped_, window_->early_evictions()};
}

void Partition::AfterAppend() {
  if (log_->config().flush.kind != storage::FlushPolicy::Kind::kNever) request_flush_(this);
  if (!log_->config().flush.acks_wait_for_fsync()) WakeData();  // visible at once
}

Status Partition::RecoverProducerState(const ProducerStateConfig& config) {
  std::lock_guard lock(append_mu_);
  const auto dir = log_->directory();
  producer_state_ = ProducerStateTable(config);
  auto loaded = LoadNewestProducerSnapshot(dir, log_->log_start(), log_->log_end(), config);
  if (!loaded.ok()) return loaded.status();
  Offset from = log_->log_start();
  if (loaded->has_value()) {
    producer_state_ = std::move((*loaded)->first);
    from = std::max(from, (*loaded)->second);
  }
  // Replay every batch after the snapshot: headers only decide, so read in large chunks.
  const int64_t now = NowMs();
  size_t replayed = 0;
  Bytes chunk;
  while (from < log_->log_end()) {
    chunk.clear();
    if (Status s = log_->ReadInto(from, 1 << 20, log_->log_end(), chunk); !s.ok()) return s;
    if (chunk.empty()) break;
    ByteView rest(chunk);
    while (!rest.empty()) {
      auto header = protocol::BatchHeader::Parse(rest);
      if (!header.ok())
        return Status::Corruption("replaying " + dir.string() + ": " + header.status().message());
      if (header->producer_id() >= 0 && Offset(header->last_offset()) >= from) {
        producer_state_.Record({ProducerId(header->producer_id()), ProducerEpoch(header->producer_epoch()),
                                Sequence(header->base_sequence()), header->last_offset_delta()},
                               Offset(header->base_offset()), now);
        ++replayed;
      }
      from = Offset(std::max(from.value(), header->last_offset() + 1));
      rest = rest.subspan(header->total_size());
    }
  }
  producer_state_.ExpireIdle(now);
  if (replayed > 0 || producer_state_.producer_count() > 0) {
    spdlog::info("{}/{}: producer state: {} producers ({} batches replayed after the snapshot)", topic_,
                 id_.value(), producer_state_.producer_count(), replayed);
  }
  return Status::Ok();
}

Status Partition::SnapshotProducerState() {
  std::unique_lock lock(append_mu_);
  if (window_) window_->ExpireUpTo(NowMs());
  producer_state_.ExpireIdle(NowMs());
  if (producer_state_.producer_count() == 0) return Status::Ok();
  // Cover only durable offsets, so a later heal can never cut the log below the snapshot.
  auto flushed = log_->Flush();
  if (!flushed.ok()) return flushed.status();
  return WriteProducerSnapshot(log_->directory(), producer_state_, *flushed);
}

void Partition::OnLogStartAdvanced() {
  std::lock_guard lock(append_mu_);
  producer_state_.RemoveBelow(log_->log_start());
}

uint64_t Partition::producers_evicted() const {
  std::lock_guard lock(append_mu_);
  return producer_state_.evicted_for_bound();
}

Partition::SequenceDuplicateStats Partition::sequence_duplicates() const {
  std::lock_guard lock(append_mu_);
  return sequence_duplicates_;
}

size_t Partition::producer_count() const {
  std::lock_guard lock(append_mu_);
  return producer_state_.producer_count();
}

bool Partition::TryMarkDirty() {
  return !dirty_.exchange(true);
}

asio::awaitable<Status> Partition::AwaitDurable(Offset end, std::chrono::steady_clock::time_point deadline) {
  if (!log_->config().flush.acks_wait_for_fsync() || log_->durable_end() >= end) co_return Status::Ok();
  auto waiter = std::make_shared<AsyncWaiter>(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(waiters_mu_);
    // Re-check under the lock: a flush that finished before we registered would never wake us.
    if (log_->durable_end() >= end) co_return Status::Ok();
    if (!log_->healthy()) co_return Status::IoError("partition log is unhealthy");
    durable_waiters_.push_back({end, waiter});
  }
  // Unregisters on every exit, including destruction of this frame at shutdown, so the partition never
  // holds a timer whose io_context is gone.
  struct Unregister {
    Partition* self;
    const std::shared_ptr<AsyncWaiter>& waiter;
    ~Unregister() {
      std::lock_guard lock(self->waiters_mu_);
      std::erase_if(self->durable_waiters_, [&](const DurableWaiter& w) { return w.waiter == waiter; });
    }
  } unregister{this, waiter};
  co_return co_await waiter->Wait(deadline);
}

void Partition::AddDataWaiter(std::shared_ptr<AsyncWaiter> waiter) {
  std::lock_guard lock(waiters_mu_);
  data_waiters_.push_back(std::move(waiter));
}

void Partition::RemoveDataWaiter(const std::shared_ptr<AsyncWaiter>& waiter) {
  std::lock_guard lock(waiters_mu_);
  std::erase(data_waiters_, waiter);
}

void Partition::FlushNow() {
  dirty_.store(false);
  if (!log_->healthy()) return Heal();
  const int64_t started_ns = SteadyNs();
  auto flushed = log_->Flush();
  Stats().fsync_latency.Observe(SteadyNs() - started_ns);
  Stats().fsyncs.fetch_add(1, std::memory_order_relaxed);
  if (flushed.ok()) {
    const size_t released = WakeDurable(*flushed, Status::Ok());
    Stats().fsync_produce_requests.fetch_add(released, std::memory_order_relaxed);
    WakeData();
  } else {
    WakeDurable(log_->durable_end(), flushed.status());
  }
}

void Partition::Heal() {
  std::lock_guard lock(append_mu_);  // no sequence decision may see state for offsets being cut off
  auto healed = log_->Flush();
  if (!healed.ok()) {
    WakeDurable(log_->durable_end(), healed.status());
    return;
  }
  producer_state_.TruncateTo(log_->log_end());
  if (window_) window_->TruncateTo(log_->log_end());
  WakeDurable(*healed, Status::Ok());
}

size_t Partition::WakeDurable(Offset durable, const Status& failure) {
  std::lock_guard lock(waiters_mu_);
  const size_t before = durable_waiters_.size();
  auto keep = std::remove_if(durable_waiters_.begin(), durable_waiters_.end(), [&](const DurableWaiter& w) {
    if (w.end <= durable) {
      w.waiter->Fire(Status::Ok());
      return true;
    }
    if (!failure.ok()) {
      w.waiter->Fire(failure);
      return true;
    }
    return false;
  });
  durable_waiters_.erase(keep, durable_waiters_.end());
  return before - durable_waiters_.size();
}

void Partition::WakeData() {
  std::vector<std::shared_ptr<AsyncWaiter>> waiters;
  {
    std::lock_guard lock(waiters_mu_);
    waiters.swap(data_waiters_);
  }
  for (auto& w : waiters) w->Fire();
}

}  // namespace oncemq::broker
