#include "storage/testing_file_ops.h"

#include <algorithm>

namespace oncemq::storage::testing {

bool FaultInjectingFileOps::TakeFailure(std::atomic<int>& counter) {
  int pending = counter.load();
  while (pending > 0) {
    if (counter.compare_exchange_weak(pending, pending - 1)) return true;
  }
  return false;
}

Status FaultInjectingFileOps::WriteAt(int fd, uint64_t position, ByteView data) {
  ++writes_;
  if (!TakeFailure(failing_writes_)) return real_->WriteAt(fd, position, data);
  size_t partial = std::min(partial_write_bytes_.load(), data.size());
  if (partial > 0) (void)real_->WriteAt(fd, position, data.first(partial));
  return Status::IoError("injected write failure");
}

Status FaultInjectingFileOps::SyncData(int fd) {
  ++syncs_;
  if (TakeFailure(failing_syncs_)) return Status::IoError("injected fdatasync failure");
  return real_->SyncData(fd);
}

Status FaultInjectingFileOps::SyncDirectory(int dir_fd) {
  if (fail_directory_syncs_ && TakeFailure(failing_syncs_)) {
    return Status::IoError("injected directory fsync failure");
  }
  return real_->SyncDirectory(dir_fd);
}

Status FaultInjectingFileOps::Truncate(int fd, uint64_t size) {
  ++truncates_;
  if (TakeFailure(failing_truncates_)) return Status::IoError("injected ftruncate failure");
  return real_->Truncate(fd, size);
}

}  // namespace oncemq::storage::testing
