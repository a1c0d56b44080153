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
#include "common/types.h"
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

  // REQUIRES: the batch passed validation (see produce handler).
  Result<storage::AppendResult> Append(MutableByteView batch);

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
  void WakeDurable(Offset durable, const Status& failure);
  void WakeData();

  const std::string topic_;
  const PartitionId id_;
  std::unique_ptr<storage::PartitionLog> log_;
  FlushRequest request_flush_;
  std::atomic<bool> dirty_{false};

  std::mutex waiters_mu_;
  struct DurableWaiter {
    Offset end;
    std::shared_ptr<AsyncWaiter> waiter;
  };
  std::vector<DurableWaiter> durable_waiters_;              // GUARDED_BY(waiters_mu_)
  std::vector<std::shared_ptr<AsyncWaiter>> data_waiters_;  // GUARDED_BY(waiters_mu_)
};

}  // namespace oncemq::broker
