// The counters behind IdempotentConsumer::stats(): written by the loop, read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "client/consumer/consumer_impl.h"

namespace oncemq {

struct IdempotentConsumer::Impl::Counters {
  explicit Counters(size_t retry_levels) : retried_by_level(retry_levels + 1) {}

  std::atomic<uint64_t> received{0}, claimed{0}, handled{0}, duplicates{0}, delayed_in_progress{0},
      handler_failures{0}, retried{0}, dead_lettered{0}, store_failures{0}, fenced{0}, unprotected{0},
      commits{0}, batches{0}, rebalances{0}, assigned_partitions{0};
  std::vector<std::atomic<uint64_t>> retried_by_level;  // by level; [0] unused; sized once, never resized

  // A copy confirmed on retry level `level` (from 1).
  void Retried(int level) {
    ++retried;
    if (level > 0 && static_cast<size_t>(level) < retried_by_level.size()) ++retried_by_level[level];
  }

  ConsumerStats Snapshot() const {
    std::vector<uint64_t> by_level;
    by_level.reserve(retried_by_level.size());
    for (const std::atomic<uint64_t>& count : retried_by_level) by_level.push_back(count.load());
    return ConsumerStats{.received = received.load(),
                         .claimed = claimed.load(),
                         .handled = handled.load(),
                         .duplicates = duplicates.load(),
                         .delayed_in_progress = delayed_in_progress.load(),
                         .handler_failures = handler_failures.load(),
                         .retried = retried.load(),
                         .retried_by_level = std::move(by_level),
                         .dead_lettered = dead_lettered.load(),
                         .store_failures = store_failures.load(),
                         .fenced = fenced.load(),
                         .unprotected = unprotected.load(),
                         .commits = commits.load(),
                         .batches = batches.load(),
                         .rebalances = rebalances.load(),
                         .assigned_partitions = assigned_partitions.load()};
  }
};

}  // namespace oncemq
