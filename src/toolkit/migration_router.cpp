#include "oncemq/migration_router.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "oncemq/redis_lock.h"

namespace oncemq {

namespace {

uint64_t Fnv1a64(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

struct SideCounters {
  std::atomic<uint64_t> handled{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> left_to_other{0};
  std::atomic<uint64_t> lock_errors{0};
};

}  // namespace

std::string_view MigrationSideName(MigrationSide side) {
  return side == MigrationSide::kOld ? "old" : "new";
}

MigrationSide MigrationRouter::Route(std::string_view msg_id, const std::optional<std::string_view>& key,
                                     int percent, const std::set<std::string>& allow_list) {
  if (key && allow_list.contains(std::string(*key))) return MigrationSide::kNew;
  return static_cast<int>(Fnv1a64(msg_id) % 100) < percent ? MigrationSide::kNew : MigrationSide::kOld;
}

class MigrationRouter::Impl {
 public:
  Impl(MigrationRouterOptions options, Handler handler, std::unique_ptr<RedisLock> lock)
      : options_(std::move(options)), handler_(std::move(handler)), lock_(std::move(lock)) {
    consume_[0] = options_.consume_old;
    consume_[1] = options_.consume_new;
  }

  Status Run() {
    std::array<Status, 2> results;
    std::thread old_side([&] { results[0] = RunSide(MigrationSide::kOld); });
    std::thread new_side([&] { results[1] = RunSide(MigrationSide::kNew); });
    old_side.join();
    new_side.join();
    return results[0].ok() ? results[1] : results[0];
  }

  void Stop() {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (IdempotentConsumer* c : running_) {
      if (c != nullptr) c->Stop();
    }
    changed_.notify_all();
  }

  void SetPercent(int percent) { percent_.store(std::clamp(percent, 0, 100)); }

  void AllowKey(std::string key) {
    std::lock_guard lock(mu_);
    options_.allow_list.insert(std::move(key));
  }

  void SetConsume(MigrationSide side, bool on) {
    std::lock_guard lock(mu_);
    const int i = static_cast<int>(side);
    consume_[i] = on;
    if (!on && running_[i] != nullptr) running_[i]->Stop();
    changed_.notify_all();
  }

  MigrationRouterStats stats() const {
    std::lock_guard lock(mu_);
    return MigrationRouterStats{SideStats(0), SideStats(1)};
  }

 private:
  MigrationSideStats SideStats(int i) const {  // REQUIRES: mu_ held
    const SideCounters& c = counters_[i];
    MigrationSideStats s{c.handled.load(), c.failed.load(), c.left_to_other.load(), c.lock_errors.load(),
                         finished_[i]};
    if (running_[i] != nullptr) Add(s.consumer, running_[i]->stats());
    return s;
  }

  static void Add(ConsumerStats& sum, const ConsumerStats& more) {
    sum.received += more.received;
    sum.claimed += more.claimed;
    sum.handled += more.handled;
    sum.duplicates += more.duplicates;
    sum.delayed_in_progress += more.delayed_in_progress;
    sum.handler_failures += more.handler_failures;
    sum.retried += more.retried;
    if (sum.retried_by_level.size() < more.retried_by_level.size())
      sum.retried_by_level.resize(more.retried_by_level.size());
    for (size_t level = 0; level < more.retried_by_level.size(); ++level)
      sum.retried_by_level[level] += more.retried_by_level[level];
    sum.dead_lettered += more.dead_lettered;
    sum.store_failures += more.store_failures;
    sum.fenced += more.fenced;
    sum.unprotected += more.unprotected;
    sum.commits += more.commits;
    sum.batches += more.batches;
    sum.rebalances += more.rebalances;
    sum.assigned_partitions = more.assigned_partitions;
  }

  // One side: a consumer while the side is switched on, none while it is off, until Stop.
  Status RunSide(MigrationSide side) {
    const int i = static_cast<int>(side);
    for (;;) {
      {
        std::unique_lock lock(mu_);
        changed_.wait(lock, [&] { return stopping_ || consume_[i]; });
        if (stopping_) return Status::Ok();
      }
      IdempotentConsumerOptions options = side == MigrationSide::kOld ? options_.old_side : options_.new_side;
      auto consumer = IdempotentConsumer::Create(
          std::move(options),
          [this, side](const MessageView& m, HandlerContext& c) { return Decide(side, m, c); });
      if (!consumer.ok()) return consumer.status();
      {
        std::lock_guard lock(mu_);
        if (stopping_ || !consume_[i]) continue;
        running_[i] = consumer->get();
      }
      Status s = (*consumer)->Run();
      std::lock_guard lock(mu_);
      running_[i] = nullptr;
      Add(finished_[i], (*consumer)->stats());
      if (!s.ok()) return s;
    }
  }

  // Whose the message is, decided once by the first side to see it; runs the handler on that side only.
  Status Decide(MigrationSide side, const MessageView& message, HandlerContext& context) {
    SideCounters& counters = counters_[static_cast<int>(side)];
    MigrationSide route;
    {
      std::lock_guard lock(mu_);
      route = Route(context.key, message.key, percent_.load(), options_.allow_list);
    }
    const std::string name = "router:" + options_.name + ":" + std::string(context.key);
    Result<AcquireResult> taken = lock_->Acquire(name, MigrationSideName(route), options_.lock_ttl);
    if (!taken.ok()) {
      ++counters.lock_errors;
      return Status::Unavailable("migration router: the lock store did not answer: " +
                                 taken.status().message());
    }
    if (taken->holder.owner != MigrationSideName(side)) {
      ++counters.left_to_other;
      return Status::Ok();
    }
    Status s = handler_(side, message, context);
    ++(s.ok() ? counters.handled : counters.failed);
    return s;
  }

  MigrationRouterOptions options_;  // allow_list GUARDED_BY(mu_)
  const Handler handler_;
  const std::unique_ptr<RedisLock> lock_;
  std::atomic<int> percent_{0};
  std::array<SideCounters, 2> counters_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool stopping_ = false;                                           // GUARDED_BY(mu_)
  std::array<bool, 2> consume_{};                                   // GUARDED_BY(mu_)
  std::array<IdempotentConsumer*, 2> running_{{nullptr, nullptr}};  // GUARDED_BY(mu_)
  std::array<ConsumerStats, 2> finished_{};  // GUARDED_BY(mu_): of consumers that ended
};

Result<std::unique_ptr<MigrationRouter>> MigrationRouter::Create(MigrationRouterOptions options,
                                                                 Handler handler) {
  if (!handler) return Status::InvalidArgument("migration router: no handler");
  if (options.name.empty())
    return Status::InvalidArgument("migration router: a name is needed for its locks");
  if (options.lock_ttl.count() < 1)
    return Status::InvalidArgument("migration router: lock_ttl must be positive");
  if (options.old_side.group.empty() || options.new_side.group.empty()) {
    return Status::InvalidArgument("migration router: each side needs its consumer group");
  }
  auto lock = RedisLock::Open(RedisLockOptions{.uri = options.lock_uri});
  if (!lock.ok()) return lock.status();
  const int percent = options.percent;
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler), std::move(*lock));
  impl->SetPercent(percent);
  return std::unique_ptr<MigrationRouter>(new MigrationRouter(std::move(impl)));
}

MigrationRouter::MigrationRouter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MigrationRouter::~MigrationRouter() = default;
Status MigrationRouter::Run() {
  return impl_->Run();
}
void MigrationRouter::Stop() {
  impl_->Stop();
}
void MigrationRouter::SetPercent(int percent) {
  impl_->SetPercent(percent);
}
void MigrationRouter::AllowKey(std::string key) {
  impl_->AllowKey(std::move(key));
}
void MigrationRouter::SetConsume(MigrationSide side, bool on) {
  impl_->SetConsume(side, on);
}
MigrationRouterStats MigrationRouter::stats() const {
  return impl_->stats();
}

}  // namespace oncemq
