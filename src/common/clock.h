// The two clocks the broker reads: a monotonic one for timeouts and a wall clock for what is stored.
#pragma once

#include <chrono>
#include <cstdint>

namespace oncemq {

// Milliseconds of a monotonic clock: for durations and deadlines, never stored.
inline int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Milliseconds since the Unix epoch: for timestamps kept on disk or sent to clients.
inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace oncemq
