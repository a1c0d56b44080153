#include "broker/flusher.h"

#include <algorithm>

#include "broker/partition.h"

namespace oncemq::broker {

using Clock = std::chrono::steady_clock;

void Flusher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Flusher::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Flusher::RequestFlush(Partition* partition) {
  if (!partition->TryMarkDirty()) return;  // already queued: the coming flush covers this append too
  {
    std::lock_guard lock(mu_);
    queue_.push_back(partition);
  }
  cv_.notify_one();
}

void Flusher::Forget(Partition* partition) {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return in_flight_ != partition; });
  std::erase(queue_, partition);
}

bool Flusher::Urgent(const Partition* p) {
  // "always" partitions have producers waiting on this fsync; an unhealthy log waits for its heal.
  return p->log().config().flush.kind == storage::FlushPolicy::Kind::kAlways || !p->log().healthy();
}

void Flusher::Run() {
  // Interval-policy partitions are flushed on a tick; the tick is the shortest interval configured among
  // queued partitions (bounded below so a tiny interval cannot spin the thread).
  std::unique_lock lock(mu_);
  auto last_interval_flush = Clock::now();
  while (true) {
    auto next_tick = last_interval_flush + std::chrono::milliseconds(1000);
    for (Partition* p : queue_) {
      const auto& flush = p->log().config().flush;
      if (flush.kind == storage::FlushPolicy::Kind::kInterval) {
        next_tick = std::min(next_tick, last_interval_flush + std::chrono::milliseconds(
                                                                  std::max<int64_t>(flush.interval_ms, 1)));
      }
    }
    cv_.wait_until(lock, next_tick, [&] {
      return stopping_ || std::any_of(queue_.begin(), queue_.end(), [&](Partition* p) { return Urgent(p); });
    });
    bool tick = Clock::now() >= next_tick || stopping_;
    if (tick) last_interval_flush = Clock::now();
    std::vector<Partition*> batch;
    auto split = std::stable_partition(queue_.begin(), queue_.end(),
                                       [&](Partition* p) { return !(tick || Urgent(p)); });
    batch.assign(split, queue_.end());
    queue_.erase(split, queue_.end());
    if (batch.empty() && stopping_) return;
    for (Partition* p : batch) {
      in_flight_ = p;
      lock.unlock();
      p->FlushNow();
      lock.lock();
      in_flight_ = nullptr;
      idle_cv_.notify_all();
    }
  }
}

}  // namespace oncemq::broker
