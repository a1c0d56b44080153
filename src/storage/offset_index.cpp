#include "storage/offset_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace oncemq::storage {

OffsetIndex::OffsetIndex(Offset segment_base, uint32_t interval_bytes)
    : segment_base_(segment_base), interval_bytes_(interval_bytes) {}

void OffsetIndex::OnBatchAppended(Offset batch_base, uint64_t position) {
  MutexLock lock(&mu_);
  if (!entries_.empty() && position < uint64_t{entries_.back().position} + interval_bytes_) return;
  entries_.push_back(
      {static_cast<uint32_t>(batch_base.value() - segment_base_.value()), static_cast<uint32_t>(position)});
}

uint64_t OffsetIndex::Lookup(Offset target) const {
  if (target < segment_base_) return 0;
  uint64_t relative = static_cast<uint64_t>(target.value() - segment_base_.value());
  MutexLock lock(&mu_);
  // First entry with relative_offset > target, then one back.
  auto it = std::upper_bound(entries_.begin(), entries_.end(), relative,
                             [](uint64_t r, const IndexEntry& e) { return r < e.relative_offset; });
  if (it == entries_.begin()) return 0;
  return std::prev(it)->position;
}

void OffsetIndex::TruncateFrom(uint64_t position) {
  MutexLock lock(&mu_);
  while (!entries_.empty() && entries_.back().position >= position) entries_.pop_back();
}

void OffsetIndex::Reset(std::vector<IndexEntry> entries) {
  MutexLock lock(&mu_);
  entries_ = std::move(entries);
}

std::vector<IndexEntry> OffsetIndex::entries() const {
  MutexLock lock(&mu_);
  return entries_;
}

size_t OffsetIndex::entry_count() const {
  MutexLock lock(&mu_);
  return entries_.size();
}

Bytes OffsetIndex::Encode(const std::vector<IndexEntry>& entries) {
  Bytes out(entries.size() * kEntryBytes);
  for (size_t i = 0; i < entries.size(); ++i) {
    StoreBe32(out.data() + i * kEntryBytes, entries[i].relative_offset);
    StoreBe32(out.data() + i * kEntryBytes + 4, entries[i].position);
  }
  return out;
}

Result<std::vector<IndexEntry>> OffsetIndex::Decode(ByteView file, uint64_t log_size) {
  if (file.size() % kEntryBytes != 0) {
    return Status::Corruption("index size " + std::to_string(file.size()) + " is not a multiple of 8");
  }
  std::vector<IndexEntry> entries(file.size() / kEntryBytes);
  for (size_t i = 0; i < entries.size(); ++i) {
    IndexEntry e{LoadBe32(file.data() + i * kEntryBytes), LoadBe32(file.data() + i * kEntryBytes + 4)};
    bool increasing = i == 0 || (e.relative_offset > entries[i - 1].relative_offset &&
                                 e.position > entries[i - 1].position);
    if (!increasing || e.position >= log_size) {
      return Status::Corruption("index entry " + std::to_string(i) + " out of order or past the log end");
    }
    entries[i] = e;
  }
  return entries;
}

Status OffsetIndex::WriteFile(const std::filesystem::path& path, FileOps& ops) const {
  Bytes encoded = Encode(entries());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create index", path, errno);
  Status s = ops.WriteAt(fd, 0, encoded);
  if (s.ok()) s = ops.SyncData(fd);
  ::close(fd);
  return s;
}

Result<std::vector<IndexEntry>> OffsetIndex::ReadFile(const std::filesystem::path& path, uint64_t log_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no index " + path.string());
    return ErrnoError("open index", path, errno);
  }
  Bytes content;
  uint8_t chunk[8192];
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError("read index", path, err);
    }
    if (n == 0) break;
    content.insert(content.end(), chunk, chunk + n);
  }
  ::close(fd);
  return Decode(content, log_size);
}

}  // namespace oncemq::storage
