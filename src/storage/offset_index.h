// OffsetIndex: the sparse offset -> file position map of one segment.
//
// One entry per `interval_bytes` of log: when a batch starts at least interval_bytes after the last
// indexed batch (or is the segment's first), the batch's {base offset - segment base, file position} is
// recorded. Lookup(target) gives the position of the last indexed batch whose base is <= target; the
// caller walks batch headers forward from there (at most about interval_bytes).
//
// The entries live in memory. The .index file (docs/formats.md: 8 bytes per entry, big-endian
// u32 relative offset, u32 position) is written whole, once, when the segment is sealed and its log
// is durable — so an .index file on disk promises that its .log was fully synced when it was written.
//
// Thread safety: all methods are safe to call concurrently (an internal mutex guards the entries);
// the log calls Add() only from its single appender.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "common/types.h"
#include "storage/file_ops.h"
#include "storage/thread_annotations.h"

namespace oncemq::storage {

struct IndexEntry {
  uint32_t relative_offset = 0;  // batch base offset - segment base offset
  uint32_t position = 0;         // byte position of the batch in the .log file
  bool operator==(const IndexEntry&) const = default;
};

class OffsetIndex {
 public:
  static constexpr size_t kEntryBytes = 8;

  OffsetIndex(Offset segment_base, uint32_t interval_bytes);

  // Notes a batch appended at `position`; records an entry when the interval has passed.
  // REQUIRES: batches are noted in file order; batch_base - segment_base and position fit in 32 bits.
  void OnBatchAppended(Offset batch_base, uint64_t position);
  // Position of the last indexed batch whose base offset <= target; 0 when there is none.
  uint64_t Lookup(Offset target) const;
  // Drops the entries of batches at or after `position` (the log was cut there).
  void TruncateFrom(uint64_t position);
  // Replaces all entries (an index loaded from its file).
  void Reset(std::vector<IndexEntry> entries);
  std::vector<IndexEntry> entries() const;
  size_t entry_count() const;

  // File form. Encode gives kEntryBytes per entry. Decode fails (kCorruption) unless the size is a
  // multiple of kEntryBytes, offsets and positions strictly increase, and every position < log_size.
  static Bytes Encode(const std::vector<IndexEntry>& entries);
  static Result<std::vector<IndexEntry>> Decode(ByteView file, uint64_t log_size);

  // Creates or replaces `path` with the encoded entries and fdatasyncs it.
  Status WriteFile(const std::filesystem::path& path, FileOps& ops) const;
  // Reads and decodes `path`. kNotFound when it does not exist.
  static Result<std::vector<IndexEntry>> ReadFile(const std::filesystem::path& path, uint64_t log_size);

 private:
  const Offset segment_base_;
  const uint32_t interval_bytes_;
  mutable Mutex mu_;
  std::vector<IndexEntry> entries_ GUARDED_BY(mu_);
};

}  // namespace oncemq::storage
