#include "storage/file_ops.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace oncemq::storage {
namespace {

Status FdError(const char* what, int fd, int err) {
  return Status::IoError(std::string(what) + " fd " + std::to_string(fd) + ": " + std::strerror(err));
}

class PosixFileOps final : public FileOps {
 public:
  Status WriteAt(int fd, uint64_t position, ByteView data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(position + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return FdError("pwrite", fd, errno);
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status SyncData(int fd) override {
    // EINTR is not retried: after an interrupted or failed sync the page cache state is unknown, and the
    // caller treats the data as not durable.
    if (::fdatasync(fd) != 0) return FdError("fdatasync", fd, errno);
    return Status::Ok();
  }

  Status SyncDirectory(int dir_fd) override {
    if (::fsync(dir_fd) != 0) return FdError("fsync directory", dir_fd, errno);
    return Status::Ok();
  }

  Status Truncate(int fd, uint64_t size) override {
    while (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return FdError("ftruncate", fd, errno);
    }
    return Status::Ok();
  }
};

}  // namespace

std::shared_ptr<FileOps> FileOps::Posix() {
  static const std::shared_ptr<FileOps> kPosix = std::make_shared<PosixFileOps>();
  return kPosix;
}

Status SyncDirectory(FileOps& ops, const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open directory", dir, errno);
  Status s = ops.SyncDirectory(fd);
  ::close(fd);
  return s;
}

Status ErrnoError(const std::string& what, const std::filesystem::path& path, int err) {
  return Status::IoError(what + " " + path.string() + ": " + std::strerror(err));
}

}  // namespace oncemq::storage
