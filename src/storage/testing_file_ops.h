// Fault injection for storage tests: a FileOps that forwards to POSIX until told to fail.
//
//   auto faults = std::make_shared<testing::FaultInjectingFileOps>();
//   auto log = PartitionLog::Open(dir, config, faults);
//   faults->FailNextWrites(1, /*partial_bytes=*/10);  // next write stores 10 bytes, then returns EIO
//   faults->FailNextSyncs(1);                          // next fdatasync returns EIO, syncs nothing
//
// Directory syncs count as syncs only when `include_directories` is set. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include "storage/file_ops.h"

namespace oncemq::storage::testing {

class FaultInjectingFileOps final : public FileOps {
 public:
  FaultInjectingFileOps() : real_(FileOps::Posix()) {}

  // The next `count` writes store the first `partial_bytes` bytes of their data, then fail with EIO.
  void FailNextWrites(int count, size_t partial_bytes = 0) {
    partial_write_bytes_ = partial_bytes;
    failing_writes_ = count;
  }
  // The next `count` file syncs fail with EIO without syncing.
  void FailNextSyncs(int count, bool include_directories = false) {
    fail_directory_syncs_ = include_directories;
    failing_syncs_ = count;
  }
  // The next `count` truncates fail with EIO without changing the file.
  void FailNextTruncates(int count) { failing_truncates_ = count; }

  int writes() const { return writes_; }
  int syncs() const { return syncs_; }
  int truncates() const { return truncates_; }

  Status WriteAt(int fd, uint64_t position, ByteView data) override;
  Status SyncData(int fd) override;
  Status SyncDirectory(int dir_fd) override;
  Status Truncate(int fd, uint64_t size) override;

 private:
  // Consumes one pending failure from `counter`; true when this call must fail.
  static bool TakeFailure(std::atomic<int>& counter);

  std::shared_ptr<FileOps> real_;
  std::atomic<int> failing_writes_{0};
  std::atomic<size_t> partial_write_bytes_{0};
  std::atomic<int> failing_syncs_{0};
  std::atomic<bool> fail_directory_syncs_{false};
  std::atomic<int> failing_truncates_{0};
  std::atomic<int> writes_{0};
  std::atomic<int> syncs_{0};
  std::atomic<int> truncates_{0};
};

}  // namespace oncemq::storage::testing
