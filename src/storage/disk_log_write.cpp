// Appending, rolling, flushing (group commit), healing after a failed fsync, closing.
#include <limits>
#include <system_error>

#include <spdlog/spdlog.h>

#include "protocol/batch_header.h"
#include "storage/disk_log.h"

namespace oncemq::storage {

DiskLog::DiskLog(std::filesystem::path dir, LogConfig config, std::shared_ptr<FileOps> ops)
    : dir_(std::move(dir)), config_(std::move(config)), ops_(std::move(ops)) {}

DiskLog::~DiskLog() {
  Status closed = Close();
  if (!closed.ok()) spdlog::error("storage: {}: closing: {}", dir_.string(), closed.message());
}

Status DiskLog::CheckWritable() const {
  if (closed_) return Status::Unavailable("log " + dir_.string() + " is closed");
  if (!healthy_) {
    return Status::IoError("log " + dir_.string() +
                           " refuses writes after a failed fsync or write until Flush heals it");
  }
  return Status::Ok();
}

Result<AppendResult> DiskLog::Append(MutableByteView batch) {
  auto frame = BatchFrame::Decode(batch);
  if (!frame.ok()) return Status::InvalidArgument(frame.status().message());
  if (frame->size != batch.size()) {
    return Status::InvalidArgument("batch length says " + std::to_string(frame->size) + " bytes, given " +
                                   std::to_string(batch.size()));
  }
  MutexLock lock(&mu_);
  Status writable = CheckWritable();
  if (!writable.ok()) return writable;

  const Offset base = log_end();
  protocol::SetBaseOffset(batch.data(), base.value());
  frame->last = Offset(base.value() + (frame->last.value() - frame->base.value()));
  frame->base = base;
  if (ShouldRoll(*segments_.back(), batch.size(), base)) {
    Status rolled = Roll(base);
    if (!rolled.ok()) return rolled;
  }
  const auto& active = segments_.back();
  Status written = active->Append(batch, *frame);
  if (!written.ok()) {
    if (active->has_garbage_tail()) healthy_ = false;
    return written;
  }
  log_end_.store(frame->next().value(), std::memory_order_release);
  return AppendResult{frame->base, frame->last};
}

bool DiskLog::ShouldRoll(const Segment& active, size_t batch_bytes, Offset batch_base) const {
  if (active.size() == 0) return false;  // a segment always holds at least one batch
  constexpr uint64_t kMax32 = std::numeric_limits<uint32_t>::max();
  // Index entries hold 32-bit positions and relative offsets.
  bool index_would_overflow =
      active.size() > kMax32 ||
      static_cast<uint64_t>(batch_base.value() - active.base_offset().value()) > kMax32;
  return active.size() + batch_bytes > config_.segment_bytes || index_would_overflow;
}

Status DiskLog::Roll(Offset base) {
  auto created = Segment::Open(dir_, base, Segment::Mode::kCreate, config_.index_interval_bytes, ops_);
  if (!created.ok()) return created.status();
  Status synced = SyncDirectory(*ops_, dir_);
  if (!synced.ok()) {
    // Without a durable directory entry the new segment could vanish in a crash; keep appending to
    // the current one rather than write there.
    std::error_code ec;
    std::filesystem::remove((*created)->log_path(), ec);
    return synced;
  }
  unsynced_sealed_.push_back(segments_.back());
  segments_.push_back(std::move(*created));
  Publish();
  return Status::Ok();
}

Result<Offset> DiskLog::Flush() {
  const Offset target = log_end();
  MutexLock flush_lock(&flush_mu_);
  SegmentList sealed;
  std::shared_ptr<Segment> active;
  Offset end;
  uint64_t end_bytes = 0;
  {
    MutexLock lock(&mu_);
    if (closed_) return Status::Unavailable("log " + dir_.string() + " is closed");
    if (!healthy_) return Heal();
    // Group commit: an earlier flusher's fdatasync already covered everything appended before this call.
    if (durable_end() >= target) return durable_end();
    sealed.swap(unsynced_sealed_);
    active = segments_.back();
    end = log_end();
    end_bytes = active->size();
  }
  return SyncSegments(sealed, active, end, end_bytes);
}

Result<Offset> DiskLog::SyncSegments(const SegmentList& sealed, const std::shared_ptr<Segment>& active,
                                     Offset end, uint64_t end_bytes) {
  Status synced = Status::Ok();
  for (const auto& segment : sealed) {
    if (synced.ok()) synced = segment->Sync();
  }
  if (synced.ok()) synced = active->Sync();
  {
    MutexLock lock(&mu_);
    if (!synced.ok()) {
      // The kernel may have dropped the unwritten pages and will not report it again: nothing past
      // durable_end can be trusted, so refuse writes until Heal() cuts it off.
      healthy_ = false;
      spdlog::error("storage: {}: fdatasync failed, refusing writes until healed: {}", dir_.string(),
                    synced.message());
      return synced;
    }
    if (end > durable_end()) {
      durable_position_ = {active->base_offset(), end_bytes};
      durable_end_.store(end.value(), std::memory_order_release);
    }
  }
  WriteSealedIndexes(sealed);
  return end;
}

void DiskLog::WriteSealedIndexes(const SegmentList& sealed) {
  if (sealed.empty()) return;
  for (const auto& segment : sealed) {
    // The index is an optimisation: without it the next open validates the segment instead.
    Status written = segment->index().WriteFile(segment->index_path(), *ops_);
    if (!written.ok()) {
      spdlog::warn("storage: writing {}: {}", segment->index_path().string(), written.message());
      std::error_code ec;
      std::filesystem::remove(segment->index_path(), ec);
    }
  }
  Status synced = SyncDirectory(*ops_, dir_);
  if (!synced.ok()) spdlog::warn("storage: {}: syncing directory: {}", dir_.string(), synced.message());
}

Result<Offset> DiskLog::Heal() {
  const DurablePosition keep = durable_position_;
  // Segments created after the durable position hold nothing durable.
  while (segments_.size() > 1 && segments_.back()->base_offset() > keep.segment_base) {
    DeleteSegmentFiles(segments_.back()->base_offset());
    segments_.pop_back();
  }
  unsynced_sealed_.clear();
  const auto& active = segments_.back();
  Status healed = active->Truncate(keep.bytes, durable_end());
  if (healed.ok()) healed = active->Sync();
  if (healed.ok()) healed = SyncDirectory(*ops_, dir_);
  if (healed.ok()) {
    std::error_code ec;
    std::filesystem::remove(active->index_path(), ec);  // the active segment has no index file
    log_end_.store(durable_end().value(), std::memory_order_release);
    healthy_ = true;
  }
  Publish();
  if (!healed.ok()) {
    spdlog::error("storage: {}: healing failed, still refusing writes: {}", dir_.string(), healed.message());
    return healed;
  }
  spdlog::warn("storage: {}: healed; log cut back to the durable end {}", dir_.string(),
               durable_end().value());
  return durable_end();
}

Status DiskLog::Close() {
  {
    MutexLock lock(&mu_);
    if (closed_) return Status::Ok();
  }
  Status flushed = Status::Ok();
  if (healthy_) {
    auto result = Flush();
    if (!result.ok()) flushed = result.status();
  }
  MutexLock flush_lock(&flush_mu_);
  MutexLock lock(&mu_);
  closed_ = true;
  segments_.clear();
  unsynced_sealed_.clear();
  Publish();
  return flushed;
}

std::shared_ptr<const DiskLog::SegmentList> DiskLog::Snapshot() const {
  MutexLock lock(&snapshot_mu_);
  return snapshot_;
}

void DiskLog::Publish() {
  auto published = std::make_shared<const SegmentList>(segments_);
  MutexLock lock(&snapshot_mu_);
  snapshot_ = std::move(published);
}

}  // namespace oncemq::storage
