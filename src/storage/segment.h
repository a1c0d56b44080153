// Segment: one .log file of a partition — a run of RecordBatch v2 bytes starting at `base_offset` —
// with its in-memory OffsetIndex.
//
// Appends go to the end (pwrite at size()); size() moves only after a write fully succeeded, so bytes
// in [0, size()) are always complete and may be read by any thread while an append is in progress.
// A failed append cuts the file back to its size before the write.
//
// Thread safety: one appender at a time (Append, Truncate, SetNextOffset are called under the owning
// PartitionLog's append mutex); reads (Read, ReadFrame, size, index lookups) from any thread.
// The file descriptor closes when the last shared_ptr goes, so readers holding a snapshot keep
// reading a segment that retention has already unlinked.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>

#include "common/bytes.h"
#include "common/status.h"
#include "common/types.h"
#include "storage/batch_frame.h"
#include "storage/file_ops.h"
#include "storage/offset_index.h"

namespace oncemq::storage {

class Segment {
 public:
  enum class Mode { kCreate, kOpenExisting };

  // Opens or creates (failing if it exists) `dir`/<base>.log. The size is the file's current size.
  static Result<std::shared_ptr<Segment>> Open(const std::filesystem::path& dir, Offset base, Mode mode,
                                               uint32_t index_interval_bytes, std::shared_ptr<FileOps> ops);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  Offset base_offset() const { return base_; }
  const std::filesystem::path& log_path() const { return log_path_; }
  const std::filesystem::path& index_path() const { return index_path_; }
  uint64_t size() const { return size_.load(std::memory_order_acquire); }
  // One past the last offset stored; base_offset() when empty.
  Offset next_offset() const { return Offset(next_offset_.load(std::memory_order_acquire)); }
  OffsetIndex& index() { return index_; }
  const OffsetIndex& index() const { return index_; }

  // Appends one batch (`frame` decoded from `batch`) at the end and indexes it. On error the file is
  // cut back to its previous size and kIoError returned; if even that cut fails, has_garbage_tail()
  // turns true (size() still excludes the garbage) and the owner must truncate before trusting the file.
  Status Append(ByteView batch, const BatchFrame& frame);
  bool has_garbage_tail() const { return garbage_tail_.load(); }

  // Cuts the file to `size` bytes (a batch boundary) and drops index entries past it.
  // `next_offset` is the offset after the last batch kept. Forgets the cached newest timestamp.
  Status Truncate(uint64_t size, Offset next_offset);
  // Sets what recovery found: file size already cut to `size`, offsets up to `next_offset`.
  void SetRecovered(uint64_t size, Offset next_offset, std::optional<int64_t> newest_timestamp);

  // Reads up to out.size() bytes at `position`; returns how many (fewer only at end of file).
  Result<size_t> Read(uint64_t position, MutableByteView out) const;
  // Decodes the batch frame at `position`. kCorruption when it is incomplete or invalid.
  Result<BatchFrame> ReadFrame(uint64_t position) const;
  // Position of the batch containing `target` (index lookup, then a walk over batch headers).
  // kNotFound when target is outside [base_offset(), next_offset()).
  Result<uint64_t> FindBatch(Offset target) const;

  // fdatasync of the .log file.
  Status Sync();

  // The largest batch maxTimestamp in the segment, -1 when every batch says -1. Computed by a header
  // walk the first time it is asked for a segment opened without one, then cached.
  Result<int64_t> NewestTimestamp() const;
  void ObserveTimestamp(int64_t max_timestamp);
  // Last modification time of the .log file in milliseconds since the epoch.
  Result<int64_t> ModifiedTimeMs() const;

 private:
  static constexpr int64_t kUnknownTimestamp = std::numeric_limits<int64_t>::min();

  Segment(const std::filesystem::path& dir, Offset base, int fd, uint64_t size, uint32_t index_interval_bytes,
          std::shared_ptr<FileOps> ops);

  const Offset base_;
  const std::filesystem::path log_path_;
  const std::filesystem::path index_path_;
  const int fd_;
  const std::shared_ptr<FileOps> ops_;
  std::atomic<uint64_t> size_;
  std::atomic<int64_t> next_offset_;
  // Benign race: concurrent lazy computations store the same value.
  mutable std::atomic<int64_t> newest_timestamp_;
  std::atomic<bool> garbage_tail_{false};
  OffsetIndex index_;
};

}  // namespace oncemq::storage
