// The fixed 61-byte header of a RecordBatch v2 (magic 2), read in place.
//
// Byte grammar (big-endian; docs/formats.md has the whole batch):
//   0 baseOffset i64 | 8 batchLength i32 (bytes after this field) | 12 partitionLeaderEpoch i32 |
//   16 magic i8 = 2 | 17 crc u32 = CRC-32C over [21, end) | 21 attributes i16 | 23 lastOffsetDelta i32 |
//   27 baseTimestamp i64 | 35 maxTimestamp i64 | 43 producerId i64 | 51 producerEpoch i16 |
//   57 baseSequence i32 (at 53) ... recordsCount i32 (at 57) | 61 records
// baseOffset, batchLength and the leader epoch lie before the CRC'd range, so the broker rewrites the
// base offset without touching the CRC. A BatchHeader never owns bytes; it lives as long as its view.
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/status.h"

namespace oncemq::protocol {

namespace batch_layout {
constexpr size_t kBaseOffset = 0;
constexpr size_t kBatchLength = 8;
constexpr size_t kLeaderEpoch = 12;
constexpr size_t kMagic = 16;
constexpr size_t kCrc = 17;
constexpr size_t kAttributes = 21;
constexpr size_t kLastOffsetDelta = 23;
constexpr size_t kBaseTimestamp = 27;
constexpr size_t kMaxTimestamp = 35;
constexpr size_t kProducerId = 43;
constexpr size_t kProducerEpoch = 51;
constexpr size_t kBaseSequence = 53;
constexpr size_t kRecordsCount = 57;
constexpr size_t kHeaderSize = 61;
constexpr size_t kLogOverhead = 12;  // baseOffset + batchLength: what batchLength does not count
}  // namespace batch_layout

enum class Compression : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

class BatchHeader {
 public:
  // Checks that `bytes` starts with a complete magic-2 batch header whose batchLength fits in `bytes`.
  // Does not check the CRC. On success the batch occupies [0, total_size()).
  static Result<BatchHeader> Parse(ByteView bytes);

  int64_t base_offset() const { return I64(batch_layout::kBaseOffset); }
  int32_t batch_length() const { return I32(batch_layout::kBatchLength); }
  size_t total_size() const { return static_cast<size_t>(batch_length()) + batch_layout::kLogOverhead; }
  int8_t magic() const { return static_cast<int8_t>(p_[batch_layout::kMagic]); }
  uint32_t crc() const { return LoadBe32(p_ + batch_layout::kCrc); }
  int16_t attributes() const { return static_cast<int16_t>(LoadBe16(p_ + batch_layout::kAttributes)); }
  Compression compression() const { return static_cast<Compression>(attributes() & 0x7); }
  bool log_append_time() const { return (attributes() & 0x8) != 0; }
  bool transactional() const { return (attributes() & 0x10) != 0; }
  bool control() const { return (attributes() & 0x20) != 0; }
  int32_t last_offset_delta() const { return I32(batch_layout::kLastOffsetDelta); }
  int64_t base_timestamp() const { return I64(batch_layout::kBaseTimestamp); }
  int64_t max_timestamp() const { return I64(batch_layout::kMaxTimestamp); }
  int64_t producer_id() const { return I64(batch_layout::kProducerId); }
  int16_t producer_epoch() const { return static_cast<int16_t>(LoadBe16(p_ + batch_layout::kProducerEpoch)); }
  int32_t base_sequence() const { return I32(batch_layout::kBaseSequence); }
  int32_t records_count() const { return I32(batch_layout::kRecordsCount); }
  int64_t last_offset() const { return base_offset() + last_offset_delta(); }

  uint32_t ComputeCrc() const {
    return crc32c::Value(p_ + batch_layout::kAttributes, total_size() - batch_layout::kAttributes);
  }
  bool CrcMatches() const { return ComputeCrc() == crc(); }
  ByteView bytes() const { return {p_, total_size()}; }

 private:
  explicit BatchHeader(const uint8_t* p) : p_(p) {}
  int32_t I32(size_t at) const { return static_cast<int32_t>(LoadBe32(p_ + at)); }
  int64_t I64(size_t at) const { return static_cast<int64_t>(LoadBe64(p_ + at)); }

  const uint8_t* p_;
};

// Rewrites the base offset of the batch starting at `batch` (outside the CRC'd range).
inline void SetBaseOffset(uint8_t* batch, int64_t base_offset) {
  StoreBe64(batch + batch_layout::kBaseOffset, static_cast<uint64_t>(base_offset));
}

// Recomputes and stores the CRC after bytes in [21, end) changed. REQUIRES: a complete batch.
void RewriteCrc(MutableByteView batch);

}  // namespace oncemq::protocol
