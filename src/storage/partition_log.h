// PartitionLog: the durable, append-only log of one partition.
//
// On disk: one directory; segments named by base offset (00000000000000000000.log) each with a sparse
// offset index (.index). Batches are stored exactly as received (RecordBatch v2) with only the base offset
// rewritten. See docs/formats.md.
//
// Guarantees:
//  - Append() assigns consecutive offsets and writes the batch to the active segment (page cache).
//    It returns once the write() succeeded; nothing is durable yet.
//  - Flush() makes everything appended before the call durable (fdatasync of every segment written since
//    the last flush) and then advances durable_end(). Concurrent Flush() calls are safe; one fsync covers
//    every append before it (group commit is the caller's loop calling Flush once for many appends).
//  - high_watermark() is the end of what consumers may read: durable_end() under flush policy "always",
//    log_end() otherwise. It never moves backwards while the log is open.
//  - Open() recovers: every batch of the last segment is validated (length, magic, CRC-32C, offsets
//    continuing from the previous batch); the first bad batch and everything after it are cut off (a torn
//    tail is the end of the log) and logged with the number of bytes dropped. The index is rebuilt for the
//    recovered tail. Everything recovered is fsynced before Open() returns, so high_watermark = log_end.
//  - After a failed write the segment is cut back to its size before the write and the error is returned;
//    after a failed fsync the log is marked unhealthy: Append() and Flush() return kIoError and the log
//    drops everything past durable_end() (none of it was acknowledged) before it accepts writes again,
//    which happens on the next Flush() whose truncate + fsync succeed.
//
// Thread safety: every public method may be called from any thread. Append() serialises on an internal
// mutex; Read() does not block appends (it reads through a snapshot of the segment list).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>

#include "common/bytes.h"
#include "common/status.h"
#include "common/types.h"
#include "storage/log_config.h"

namespace oncemq::storage {

struct AppendResult {
  Offset base;  // offset assigned to the batch's first record
  Offset last;  // base + lastOffsetDelta
};

struct LogStats {
  Offset log_start;
  Offset log_end;
  Offset durable_end;
  uint64_t size_bytes = 0;
  size_t segments = 0;
};

class PartitionLog {
 public:
  // Opens the log in `dir`, creating the directory when it does not exist, and recovers the tail.
  static Result<std::unique_ptr<PartitionLog>> Open(const std::filesystem::path& dir, const LogConfig& config);
  virtual ~PartitionLog() = default;

  // Appends one complete RecordBatch v2 and rewrites its baseOffset in place.
  // REQUIRES: the caller validated the batch (BatchHeader::Parse ok, CRC ok, count = lastOffsetDelta + 1).
  virtual Result<AppendResult> Append(MutableByteView batch) = 0;

  // Makes every batch appended before this call durable. Returns the new durable_end.
  virtual Result<Offset> Flush() = 0;

  // Appends to `out` whole batches, starting with the batch that contains `from`, until `max_bytes` would
  // be exceeded (the first batch is always included whole), stopping before any batch that reaches `limit`.
  // Returns kNotFound (offset out of range) when `from` < log_start or `from` > high_watermark.
  virtual Status ReadInto(Offset from, size_t max_bytes, Offset limit, Bytes& out) const = 0;

  // The first offset whose batch maxTimestamp >= timestamp_ms (the offset of its first record with a
  // timestamp >= timestamp_ms), or nullopt when no such record is below high_watermark.
  virtual Result<std::optional<Offset>> OffsetForTimestamp(int64_t timestamp_ms) const = 0;

  // Deletes whole non-active segments older than retention.ms (by their newest record's timestamp, or
  // file modification time when records carry no timestamp) or beyond retention.bytes. Returns how many
  // segments were deleted; log_start advances accordingly.
  virtual size_t ApplyRetention(int64_t now_ms) = 0;

  // Flushes and closes files. Later calls fail. Idempotent.
  virtual Status Close() = 0;

  virtual Offset log_start() const = 0;
  virtual Offset log_end() const = 0;
  virtual Offset durable_end() const = 0;
  virtual Offset high_watermark() const = 0;
  virtual bool healthy() const = 0;
  virtual LogStats stats() const = 0;
  virtual const LogConfig& config() const = 0;
};

}  // namespace oncemq::storage
