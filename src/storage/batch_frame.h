// BatchFrame: what the log needs to know about a stored RecordBatch v2 — where it ends, which offsets it
// holds and its newest timestamp — decoded from the first 61 bytes alone, without the CRC check.
// Used to walk a segment batch by batch (index rebuild of trusted data, lookups, timestamp scans).
// SegmentRecovery adds the CRC check when the bytes are not trusted.
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "common/status.h"
#include "common/types.h"
#include "protocol/batch_header.h"

namespace oncemq::storage {

struct BatchFrame {
  Offset base;        // first offset in the batch
  Offset last;        // base + lastOffsetDelta
  uint32_t size = 0;  // whole batch, 12-byte log overhead included
  int64_t max_timestamp = -1;

  static constexpr size_t kHeaderBytes = protocol::batch_layout::kHeaderSize;

  Offset next() const { return Offset(last.value() + 1); }

  // Decodes the frame at the start of `header`. kCorruption when fewer than kHeaderBytes are given, the
  // magic is not 2, the length is shorter than a header, or lastOffsetDelta is negative.
  static Result<BatchFrame> Decode(ByteView header);
};

}  // namespace oncemq::storage
