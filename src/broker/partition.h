// Partition: one partition's log plus the coroutines waiting on it.
//
// Append() writes a validated batch (page cache) and asks the flusher for a flush. Producers with
// acks=all await AwaitDurable(); consumers long-polling a fetch register a data waiter that fires when the
// high watermark moves. The flusher thread calls FlushNow(), which completes every durability waiter the
// fsync covered — one fsync for the whole group.
// Thread safety: all methods may be called from any thread.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/async_waiter.h"
#include "broker/msg_id_dedup.h"
#include "broker/msg_id_window.h"
#include "broker/producer_state.h"
#include "common/types.h"
#include "protocol/api.h"
#include "protocol/batch_header.h"
#include "storage/partition_log.h"

namespace oncemq::broker {

class Partition {
 public:
  using FlushRequest = std::function<void(Partition*)>;

  Partition(std::string topic, PartitionId id, std::unique_ptr<storage::PartitionLog> log,
            FlushRequest request_flush);

  const std::string& topic() const { return topic_; }
  PartitionId id() const { return id_; }
  storage::PartitionLog& log() { return *log_; }
  const storage::PartitionLog& log() const { return *log_; }

  // What became of one produced batch.
  struct ProduceOutcome {
    protocol::ErrorCode error = protocol::ErrorCode::kNone;
    Offset base{-1};        // where the batch's records are (the original's, for a duplicate)
    Offset durable_end{0};  // acks=all answers once the log is durable up to here
    bool duplicate = false;
  };

  // Appends one batch after the idempotent-producer checks (kafka-protocol.md §6.3): an exact re-send of
  // one of a producer's last five batches appends nothing and reports the original's offsets (its
  // answer then waits for the original's durability); a gap is OUT_OF_ORDER_SEQUENCE_NUMBER; a stale
  // epoch INVALID_PRODUCER_EPOCH. Check, append and record happen under one lock, so two copies of a
  // batch arriving on two connections cannot both be appended.
  // REQUIRES: the batch passed ValidateProduceBatch; `header` views `batch`.
  ProduceOutcome Produce(MutableByteView batch, const protocol::BatchHeader& header);

  // Turns on the message-id window (topic dedup.window.ms > 0). Call before RecoverMsgIdWindow.
  void EnableMsgIdWindow(int64_t window_ms, size_t max_entries);
  // Rebuilds the window from the records of the last window_ms (by record timestamp) at open.
  Status RecoverMsgIdWindow();
  struct DedupStats {
    size_t tracked_ids = 0;
    size_t window_bytes = 0;
    uint64_t duplicates_dropped = 0;
    uint64_t early_evictions = 0;
  };
  DedupStats dedup_stats() const;

  // Rebuilds the producer state at open: newest snapshot, then every batch after it. Call once, before
  // the partition serves.
  Status RecoverProducerState(const ProducerStateConfig& config);
  // Makes the log durable and writes a snapshot of the producer state covering it (at clean shutdown
  // and periodically, to shorten the replay after a crash). Expires idle producers first.
  Status SnapshotProducerState();
  // After retention moved the log start.
  void OnLogStartAdvanced();
  size_t producer_count() const;
  uint64_t producers_evicted() const;
  // Batches Produce() answered as exact re-sends by (producer id, epoch, sequence) — nothing appended,
  // the original's offset returned — and the records they held, since the partition was opened.
  // Counted when the re-send is recognised, before its answer waits for the original's durability.
  struct SequenceDuplicateStats {
    uint64_t batches = 0;
    uint64_t records = 0;
  };
  SequenceDuplicateStats sequence_duplicates() const;

  // Completes when every offset below `end` is durable (OK), the flush failed (kIoError), or at `deadline`
  // (kUnavailable). Under a flush policy other than "always" it completes at once.
  asio::awaitable<Status> AwaitDurable(Offset end, std::chrono::steady_clock::time_point deadline);

  // Registers `waiter` to fire the next time the high watermark advances.
  void AddDataWaiter(std::shared_ptr<AsyncWaiter> waiter);
  void RemoveDataWaiter(const std::shared_ptr<AsyncWaiter>& waiter);

  // Called by the flusher thread: fsync, then wake whoever the new durable end satisfies.
  void FlushNow();

  // Claims the right to schedule a flush; false when one is already scheduled.
  bool TryMarkDirty();

 private:
  size_t WakeDurable(Offset durable, const Status& failure);  // returns the waiters it fired
  void AfterAppend();
  // The message-id step of Produce: may replace `batch` with a rewritten copy held in `rewritten`, or
  // decide the batch is entirely a duplicate (returns true with `out` filled).
  bool FilterMsgIds(MutableByteView& batch, const protocol::BatchHeader& header, bool idempotent, int64_t now,
                    Bytes& rewritten, ProduceOutcome& out);
  void Heal();
  static int64_t NowMs();
  void WakeData();

  const std::string topic_;
  const PartitionId id_;
  std::unique_ptr<storage::PartitionLog> log_;
  FlushRequest request_flush_;
  std::atomic<bool> dirty_{false};

  // Serialises produce decisions: sequence check, append and record are one step. Also held while a
  // failed log heals, so no duplicate check can see state for offsets the heal is cutting off.
  mutable std::mutex append_mu_;
  ProducerStateTable producer_state_;    // GUARDED_BY(append_mu_)
  std::unique_ptr<MsgIdWindow> window_;  // GUARDED_BY(append_mu_); null when the topic has no window
  uint64_t duplicates_dropped_ = 0;      // GUARDED_BY(append_mu_)
  MsgIdScan scan_;                       // GUARDED_BY(append_mu_): reused, so a scan allocates nothing
  Bytes scan_scratch_;                   // GUARDED_BY(append_mu_): decompressed records of the scan
  // GUARDED_BY(append_mu_): the metric of sequence_duplicates().
  SequenceDuplicateStats sequence_duplicates_;

  std::mutex waiters_mu_;
  struct DurableWaiter {
    Offset end;
    std::shared_ptr<AsyncWaiter> waiter;
  };
  std::vector<DurableWaiter> durable_waiters_;              // GUARDED_BY(waiters_mu_)
  std::vector<std::shared_ptr<AsyncWaiter>> data_waiters_;  // GUARDED_BY(waiters_mu_)
};

}  // namespace oncemq::broker
