// FileOps: the file system calls that change durable state (write, fdatasync, ftruncate), behind one
// small interface so tests can make them fail. Reads (pread) and opening files do not go through it.
//
// Production code uses FileOps::Posix(); tests substitute testing::FaultInjectingFileOps
// (storage/testing_file_ops.h) through PartitionLog::Open's third parameter. One virtual call per
// operation is the whole cost. Implementations must be thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "common/bytes.h"
#include "common/status.h"

namespace oncemq::storage {

class FileOps {
 public:
  virtual ~FileOps() = default;

  // Writes all of `data` at byte `position` of `fd` (pwrite, retried on short writes and EINTR).
  // On error a prefix of `data` may have been written; the caller cuts it off.
  virtual Status WriteAt(int fd, uint64_t position, ByteView data) = 0;
  // fdatasync(fd): file data (and the size) reach stable storage.
  virtual Status SyncData(int fd) = 0;
  // fsync of a directory, so entries created or removed in it survive a crash.
  virtual Status SyncDirectory(int dir_fd) = 0;
  // ftruncate(fd, size).
  virtual Status Truncate(int fd, uint64_t size) = 0;

  // The shared POSIX implementation.
  static std::shared_ptr<FileOps> Posix();
};

// Opens `dir` and syncs it through `ops`. Used after creating or deleting segment files.
Status SyncDirectory(FileOps& ops, const std::filesystem::path& dir);

// "<what> <path>: <strerror(err)>" as an IoError.
Status ErrnoError(const std::string& what, const std::filesystem::path& path, int err);

}  // namespace oncemq::storage
