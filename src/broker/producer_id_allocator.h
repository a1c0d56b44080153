// ProducerIdAllocator: hands out producer ids that are never issued twice, even across crashes.
//
// The file <data>/producer_ids holds the first id not yet reserved. Ids are reserved in blocks: before the
// first id of a block is handed out, the end of the block is written (temp file, fsync, rename, fsync dir).
// On start the allocator continues from the stored end, skipping whatever the previous run reserved but
// did not hand out — a reused id would make a new producer's sequence 0 look like an old producer's
// duplicate or gap in the per-partition state.
// Thread safety: Allocate() may be called from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>

#include "common/status.h"
#include "common/types.h"

namespace oncemq::broker {

class ProducerIdAllocator {
 public:
  static constexpr int64_t kBlockSize = 1000;

  explicit ProducerIdAllocator(std::filesystem::path file) : file_(std::move(file)) {}
  // Reads the stored high-water mark; a missing file starts at 0. kCorruption for an unreadable file.
  Status Load();
  // A fresh id, or kIoError when the next block could not be made durable (nothing is handed out then).
  Result<ProducerId> Allocate();

 private:
  Status Persist(int64_t reserved_until);

  const std::filesystem::path file_;
  std::mutex mu_;
  int64_t next_ = 0;            // GUARDED_BY(mu_)
  int64_t reserved_until_ = 0;  // GUARDED_BY(mu_): ids below this are durable as used
};

}  // namespace oncemq::broker
