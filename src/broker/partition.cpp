#include "broker/partition.h"

#include <algorithm>
#include <asio/this_coro.hpp>

namespace oncemq::broker {

Partition::Partition(std::string topic, PartitionId id, std::unique_ptr<storage::PartitionLog> log,
                     FlushRequest request_flush)
    : topic_(std::move(topic)), id_(id), log_(std::move(log)), request_flush_(std::move(request_flush)) {}

Result<storage::AppendResult> Partition::Append(MutableByteView batch) {
  auto result = log_->Append(batch);
  if (!result.ok()) {
    // An unhealthy log heals only in Flush() (cut back to the durable end, then sync). Asking for one on
    // each refused append retries the heal at the pace clients retry, without a timer of its own.
    if (!log_->healthy()) request_flush_(this);
    return result;
  }
  if (log_->config().flush.kind != storage::FlushPolicy::Kind::kNever) request_flush_(this);
  if (!log_->config().flush.acks_wait_for_fsync()) WakeData();  // visible at once
  return result;
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
  auto flushed = log_->Flush();
  if (flushed.ok()) {
    WakeDurable(*flushed, Status::Ok());
    WakeData();
  } else {
    WakeDurable(log_->durable_end(), flushed.status());
  }
}

void Partition::WakeDurable(Offset durable, const Status& failure) {
  std::lock_guard lock(waiters_mu_);
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
