// SegmentRecovery: validates a segment whose bytes are not trusted (the last segment after a restart,
// or any segment without a usable index) and cuts it at the first bad batch.
//
// A batch is good when BatchHeader::Parse accepts it (complete header, magic 2, length within the file),
// its CRC-32C matches, its lastOffsetDelta is not negative and its base offset is the previous batch's
// last offset + 1 (the segment's base offset for the first batch). The first bad batch and everything
// after it are dropped: a torn tail is the end of the log (docs/storage.md).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "common/types.h"
#include "storage/segment.h"

namespace oncemq::storage {

struct SegmentScan {
  uint64_t valid_bytes = 0;    // bytes of good batches from the start of the file
  uint64_t dropped_bytes = 0;  // file size - valid_bytes
  Offset next_offset;          // one past the last good batch's last offset
  int64_t newest_timestamp = -1;
  size_t batches = 0;
  std::string first_problem;  // why the first dropped batch is bad; empty when nothing was dropped
};

class SegmentRecovery {
 public:
  // Validates every batch of `segment` and rebuilds its index; does not change the file.
  // Errors only when the file cannot be read.
  static Result<SegmentScan> Scan(Segment& segment);

  // Scan, then cut the file after the last good batch, logging (warning) how many bytes were dropped.
  static Result<SegmentScan> Recover(Segment& segment);
};

}  // namespace oncemq::storage
