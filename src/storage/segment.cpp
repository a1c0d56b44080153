#include "storage/segment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "storage/segment_name.h"

namespace oncemq::storage {

Result<std::shared_ptr<Segment>> Segment::Open(const std::filesystem::path& dir, Offset base, Mode mode,
                                               uint32_t index_interval_bytes, std::shared_ptr<FileOps> ops) {
  std::filesystem::path path = dir / MakeSegmentFileName(base, SegmentFileKind::kLog);
  int flags = O_RDWR | O_CLOEXEC | (mode == Mode::kCreate ? O_CREAT | O_EXCL : 0);
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return ErrnoError("open segment", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("stat segment", path, err);
  }
  return std::shared_ptr<Segment>(
      new Segment(dir, base, fd, static_cast<uint64_t>(st.st_size), index_interval_bytes, std::move(ops)));
}

Segment::Segment(const std::filesystem::path& dir, Offset base, int fd, uint64_t size,
                 uint32_t index_interval_bytes, std::shared_ptr<FileOps> ops)
    : base_(base),
      log_path_(dir / MakeSegmentFileName(base, SegmentFileKind::kLog)),
      index_path_(dir / MakeSegmentFileName(base, SegmentFileKind::kIndex)),
      fd_(fd),
      ops_(std::move(ops)),
      size_(size),
      next_offset_(base.value()),
      newest_timestamp_(size == 0 ? -1 : kUnknownTimestamp),
      index_(base, index_interval_bytes) {}

Segment::~Segment() {
  ::close(fd_);
}

Status Segment::Append(ByteView batch, const BatchFrame& frame) {
  const uint64_t position = size();
  Status written = ops_->WriteAt(fd_, position, batch);
  if (!written.ok()) {
    // Name the file: an operator reading "No space left on device" needs to know which disk filled.
    std::string what = log_path_.string() + ": " + written.message();
    Status cut = ops_->Truncate(fd_, position);
    if (!cut.ok()) {
      garbage_tail_ = true;
      return Status::IoError(what + "; cutting back failed: " + cut.message());
    }
    return Status(written.code(), what);
  }
  index_.OnBatchAppended(frame.base, position);
  ObserveTimestamp(frame.max_timestamp);
  next_offset_.store(frame.next().value(), std::memory_order_release);
  size_.store(position + batch.size(), std::memory_order_release);
  return Status::Ok();
}

Status Segment::Truncate(uint64_t size, Offset next_offset) {
  Status s = ops_->Truncate(fd_, size);
  if (!s.ok()) return s;
  garbage_tail_ = false;
  index_.TruncateFrom(size);
  newest_timestamp_ = kUnknownTimestamp;
  size_.store(size, std::memory_order_release);
  next_offset_.store(next_offset.value(), std::memory_order_release);
  return Status::Ok();
}

void Segment::SetRecovered(uint64_t size, Offset next_offset, std::optional<int64_t> newest_timestamp) {
  size_.store(size, std::memory_order_release);
  next_offset_.store(next_offset.value(), std::memory_order_release);
  newest_timestamp_ = newest_timestamp.value_or(kUnknownTimestamp);
}

Result<size_t> Segment::Read(uint64_t position, MutableByteView out) const {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(position + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("pread", log_path_, errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<BatchFrame> Segment::ReadFrame(uint64_t position) const {
  uint8_t header[BatchFrame::kHeaderBytes];
  auto n = Read(position, header);
  if (!n.ok()) return n.status();
  return BatchFrame::Decode(ByteView(header, *n));
}

Result<uint64_t> Segment::FindBatch(Offset target) const {
  const uint64_t end = size();
  if (target < base_ || target >= next_offset()) {
    return Status::NotFound("offset " + std::to_string(target.value()) + " not in segment " +
                            std::to_string(base_.value()));
  }
  for (uint64_t position = index_.Lookup(target); position < end;) {
    auto frame = ReadFrame(position);
    if (!frame.ok()) return frame.status();
    if (target <= frame->last) return position;
    position += frame->size;
  }
  return Status::NotFound("offset " + std::to_string(target.value()) + " past the written bytes");
}

Status Segment::Sync() {
  return ops_->SyncData(fd_);
}

Result<int64_t> Segment::NewestTimestamp() const {
  int64_t cached = newest_timestamp_.load();
  if (cached != kUnknownTimestamp) return cached;
  int64_t newest = -1;
  const uint64_t end = size();
  for (uint64_t position = 0; position < end;) {
    auto frame = ReadFrame(position);
    if (!frame.ok()) return frame.status();
    newest = std::max(newest, frame->max_timestamp);
    position += frame->size;
  }
  newest_timestamp_ = newest;
  return newest;
}

void Segment::ObserveTimestamp(int64_t max_timestamp) {
  int64_t current = newest_timestamp_.load();
  // Unknown stays unknown: a later lazy walk sees this batch too.
  while (current != kUnknownTimestamp && max_timestamp > current &&
         !newest_timestamp_.compare_exchange_weak(current, max_timestamp)) {
  }
}

Result<int64_t> Segment::ModifiedTimeMs() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return ErrnoError("stat segment", log_path_, errno);
  return int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1000000;
}

}  // namespace oncemq::storage
