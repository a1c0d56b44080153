// DiskLog: the PartitionLog implementation (contract in storage/partition_log.h).
//
// Split by job: disk_log_open.cpp (directory scan and recovery), disk_log_write.cpp (append, roll,
// flush, heal, close), disk_log_read.cpp (reads and timestamp lookup), disk_log_retention.cpp.
//
// Locking. Lock order: flush_mu_ / retention_mu_ before mu_ before snapshot_mu_.
//  - mu_ is the append mutex: it guards the segment list and all writes to files. It is held across
//    write(2) but never across fdatasync (except while healing, which is rare and must be exclusive).
//  - flush_mu_ serialises Flush() so that one flusher syncs a consistent set of segments; it is held
//    across fdatasync, which is what lets later flushers find their appends already covered.
//  - snapshot_mu_ guards only the published snapshot pointer; readers hold it for a pointer copy.
//  - log_start_, log_end_, durable_end_, healthy_ and closed_ are atomics written under mu_ and read
//    without a lock; log_end_ is stored (release) only after the bytes it covers are in the file.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <vector>

#include "storage/file_ops.h"
#include "storage/partition_log.h"
#include "storage/segment.h"
#include "storage/thread_annotations.h"

namespace oncemq::storage {

class DiskLog final : public PartitionLog {
 public:
  DiskLog(std::filesystem::path dir, LogConfig config, std::shared_ptr<FileOps> ops);
  ~DiskLog() override;

  // Scans the directory and recovers the segments (DESIGN §2; docs/storage.md). Called once by Open().
  Status Recover() EXCLUDES(mu_);

  Result<AppendResult> Append(MutableByteView batch) override EXCLUDES(mu_);
  Result<Offset> Flush() override EXCLUDES(flush_mu_, mu_);
  Status ReadInto(Offset from, size_t max_bytes, Offset limit, Bytes& out) const override;
  Result<std::optional<Offset>> OffsetForTimestamp(int64_t timestamp_ms) const override;
  size_t ApplyRetention(int64_t now_ms) override EXCLUDES(retention_mu_, mu_);
  Status Close() override EXCLUDES(flush_mu_, mu_);

  Offset log_start() const override { return Offset(log_start_.load(std::memory_order_acquire)); }
  Offset log_end() const override { return Offset(log_end_.load(std::memory_order_acquire)); }
  Offset durable_end() const override { return Offset(durable_end_.load(std::memory_order_acquire)); }
  Offset high_watermark() const override;
  bool healthy() const override { return healthy_.load(); }
  LogStats stats() const override;
  const LogConfig& config() const override { return config_; }
  const std::filesystem::path& directory() const override { return dir_; }

 private:
  using SegmentList = std::vector<std::shared_ptr<Segment>>;

  // Where durable_end() lies in the files: everything before `bytes` of segment `segment_base`, and
  // every earlier segment, has been fdatasynced.
  struct DurablePosition {
    Offset segment_base;
    uint64_t bytes = 0;
  };

  // Recovery steps (disk_log_open.cpp).
  Status RecoverSegment(Offset base, bool is_last) REQUIRES(mu_);
  bool TrustIndex(Segment& segment);
  void DeleteSegmentFiles(Offset base);
  Status CreateFirstSegment() REQUIRES(mu_);

  // Writing (disk_log_write.cpp).
  bool ShouldRoll(const Segment& active, size_t batch_bytes, Offset batch_base) const;
  Status Roll(Offset base) REQUIRES(mu_);
  Result<Offset> SyncSegments(const SegmentList& sealed, const std::shared_ptr<Segment>& active, Offset end,
                              uint64_t end_bytes) EXCLUDES(mu_);
  void WriteSealedIndexes(const SegmentList& sealed);
  Result<Offset> Heal() REQUIRES(flush_mu_, mu_);
  Status CheckWritable() const REQUIRES(mu_);

  // Snapshot for readers.
  std::shared_ptr<const SegmentList> Snapshot() const EXCLUDES(snapshot_mu_);
  void Publish() REQUIRES(mu_) EXCLUDES(snapshot_mu_);

  const std::filesystem::path dir_;
  const LogConfig config_;
  const std::shared_ptr<FileOps> ops_;

  Mutex flush_mu_ ACQUIRED_BEFORE(mu_);
  Mutex retention_mu_ ACQUIRED_BEFORE(mu_);
  mutable Mutex mu_ ACQUIRED_BEFORE(snapshot_mu_);
  SegmentList segments_ GUARDED_BY(mu_);         // oldest first; back() is the active segment
  SegmentList unsynced_sealed_ GUARDED_BY(mu_);  // rolled since the last flush, oldest first
  DurablePosition durable_position_ GUARDED_BY(mu_);
  uint64_t bytes_dropped_on_open_ GUARDED_BY(mu_) = 0;

  mutable Mutex snapshot_mu_;
  std::shared_ptr<const SegmentList> snapshot_ GUARDED_BY(snapshot_mu_);

  std::atomic<int64_t> log_start_{0};
  std::atomic<int64_t> log_end_{0};
  std::atomic<int64_t> durable_end_{0};
  std::atomic<bool> healthy_{true};
  std::atomic<bool> closed_{false};
};

}  // namespace oncemq::storage
