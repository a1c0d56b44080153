// PartitionLog: the durable, append-only log of one partition.
//
// On disk: one directory; segments named by base offset (00000000000000000000.log), each sealed segment
// with a sparse offset index (.index). Batches are stored exactly as received (RecordBatch v2) with only
// the base offset rewritten. See docs/formats.md (bytes) and docs/storage.md (recovery and flushing).
//
// Guarantees:
//  - Append() assigns consecutive offsets and writes the batch to the active segment (page cache).
//    It returns once the write succeeded; nothing is durable yet. The active segment rolls when the
//    batch would take it past segment_bytes (a segment always holds at least one batch).
//  - Flush() makes everything appended before the call durable (fdatasync of every segment written since
//    the last flush) and then advances durable_end(). Concurrent Flush() calls are safe and serialise;
//    a call whose appends an earlier flush already covered returns without syncing (group commit: the
//    caller's loop calls Flush once for many appends). fdatasync runs without blocking Append().
//  - high_watermark() is the end of what consumers may read: durable_end() under flush policy "always",
//    log_end() otherwise. It never moves backwards while the log is open, except when a failed fsync
//    is healed under a policy other than "always" (those policies acknowledge before the fsync).
//  - Open() recovers: every batch of the last segment (and of any segment whose index is missing or
//    inconsistent) is validated (length, magic, CRC-32C, offsets continuing from the previous batch);
//    the first bad batch and everything after it, later segments included, are cut off (a torn tail is
//    the end of the log) and logged with the number of bytes dropped. Indexes are rebuilt for what was
//    validated. Everything recovered is fsynced before Open() returns, so high_watermark = log_end.
//  - After a failed write the segment is cut back to its size before the write and kIoError returned;
//    the log stays usable. After a failed fsync the log is unhealthy: Append() and Flush() return
//    kIoError, and the log drops everything past durable_end() (under "always" none of it was
//    acknowledged) before it accepts writes again, which happens on the next Flush() whose truncate +
//    fsync succeed; that Flush() returns the unchanged durable_end().
//  - After Close() every call fails with kUnavailable.
//
// Thread safety: every public method may be called from any thread. Append() serialises on an internal
// mutex; ReadInto() and OffsetForTimestamp() do not block appends (they read through a snapshot of the
// segment list, which keeps even segments deleted by retention readable until the read ends).
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

class FileOps;

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
  uint64_t bytes_dropped_on_open = 0;  // torn or corrupt bytes cut off by recovery in Open()
};

class PartitionLog {
 public:
  // Opens the log in `dir`, creating the directory when it does not exist, and recovers the tail.
  static Result<std::unique_ptr<PartitionLog>> Open(const std::filesystem::path& dir,
                                                    const LogConfig& config);
  // The same, with every write, fdatasync and ftruncate going through `file_ops` (tests inject faults
  // with storage/testing_file_ops.h).
  static Result<std::unique_ptr<PartitionLog>> Open(const std::filesystem::path& dir, const LogConfig& config,
                                                    std::shared_ptr<FileOps> file_ops);
  virtual ~PartitionLog() = default;

  // Appends one complete RecordBatch v2 and rewrites its baseOffset in place.
  // REQUIRES: the caller validated the batch (BatchHeader::Parse ok, CRC ok, count = lastOffsetDelta + 1).
  // kInvalidArgument for bytes that are not even a batch header; kIoError when the write failed (nothing
  // appended) or the log is unhealthy.
  virtual Result<AppendResult> Append(MutableByteView batch) = 0;

  // Makes every batch appended before this call durable. Returns the new durable_end.
  virtual Result<Offset> Flush() = 0;

  // Appends to `out` whole batches (exact stored bytes), starting with the batch that contains `from`,
  // until `max_bytes` would be exceeded (the first batch is always included whole), and only batches
  // that end below min(limit, high_watermark()) (a batch whose last offset >= that bound stops the read).
  // Ok with nothing appended when `from` == high_watermark() or the first batch reaches the bound.
  // Returns kNotFound (offset out of range) when `from` < log_start or `from` > high_watermark.
  virtual Status ReadInto(Offset from, size_t max_bytes, Offset limit, Bytes& out) const = 0;

  // The base offset of the first batch whose maxTimestamp >= timestamp_ms, or nullopt when no such
  // batch lies below high_watermark. Kafka wants the first *record* with such a timestamp; the batch
  // base is at or before it, so a consumer starting there misses nothing (it may see a few earlier
  // records of the same batch).
  virtual Result<std::optional<Offset>> OffsetForTimestamp(int64_t timestamp_ms) const = 0;

  // Deletes whole non-active, durable segments from the oldest on, while the oldest is older than
  // retention.ms (by its newest batch maxTimestamp, or file modification time when every batch says -1)
  // or lies wholly beyond the newest retention.bytes of the log. Returns how many segments were deleted;
  // log_start advances accordingly.
  virtual size_t ApplyRetention(int64_t now_ms) = 0;

  // Flushes and closes files. Later calls fail. Idempotent (a second call returns Ok).
  virtual Status Close() = 0;

  virtual Offset log_start() const = 0;
  virtual Offset log_end() const = 0;
  virtual Offset durable_end() const = 0;
  virtual Offset high_watermark() const = 0;
  virtual bool healthy() const = 0;
  virtual LogStats stats() const = 0;
  virtual const LogConfig& config() const = 0;
  // The partition's directory (other per-partition files, such as producer snapshots, live beside the log).
  virtual const std::filesystem::path& directory() const = 0;
};

}  // namespace oncemq::storage
