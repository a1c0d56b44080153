// Per-partition log settings. Values come from the broker's defaults, overridden per topic.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace oncemq::storage {

// When appended bytes reach the disk, and therefore when acks=all is answered and consumers see them.
struct FlushPolicy {
  enum class Kind { kAlways, kInterval, kNever };
  Kind kind = Kind::kAlways;
  int64_t interval_ms = 0;  // kInterval only

  // "always" | "interval=<ms>" | "never"
  static Result<FlushPolicy> Parse(const std::string& text);
  std::string ToString() const;
  // With kAlways the high watermark is the flushed offset; otherwise it is the log end.
  bool acks_wait_for_fsync() const { return kind == Kind::kAlways; }
};

struct LogConfig {
  uint64_t segment_bytes = 1ull << 30;            // roll the active segment past this size
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;  // -1 = keep forever
  int64_t retention_bytes = -1;                   // -1 = no size bound
  uint32_t index_interval_bytes = 4096;           // one sparse index entry per this many log bytes
  FlushPolicy flush;
};

}  // namespace oncemq::storage
