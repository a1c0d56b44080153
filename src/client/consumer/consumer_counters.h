// The counters behind IdempotentConsumer::stats(): written by the loop, read from any thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "client/consumer/consumer_impl.h"

namespace oncemq {

struct IdempotentConsumer::Impl::Counters {
  std::atomic<uint64_t> received{0}, handled{0}, duplicates{0}, delayed_in_progress{0}, handler_failures{0},
      retried{0}, dead_lettered{0}, store_failures{0}, fenced{0}, unprotected{0}, commits{0}, batches{0},
      assigned_partitions{0};

  ConsumerStats Snapshot() const {
    return ConsumerStats{.received = received.load(),
                         .handled = handled.load(),
                         .duplicates = duplicates.load(),
                         .delayed_in_progress = delayed_in_progress.load(),
                         .handler_failures = handler_failures.load(),
                         .retried = retried.load(),
                         .dead_lettered = dead_lettered.load(),
                         .store_failures = store_failures.load(),
                         .fenced = fenced.load(),
                         .unprotected = unprotected.load(),
                         .commits = commits.load(),
                         .batches = batches.load(),
                         .assigned_partitions = assigned_partitions.load()};
  }
};

}  // namespace oncemq
