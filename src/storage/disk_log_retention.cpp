// Retention: delete whole old segments by age and by total size.
#include <system_error>

#include <spdlog/spdlog.h>

#include "storage/disk_log.h"

namespace oncemq::storage {
namespace {

bool ExpiredByTime(const Segment& segment, int64_t retention_ms, int64_t now_ms) {
  if (retention_ms < 0) return false;
  auto newest = segment.NewestTimestamp();
  if (!newest.ok()) {
    spdlog::warn("storage: {}: retention cannot read timestamps: {}", segment.log_path().string(),
                 newest.status().message());
    return false;
  }
  int64_t newest_ms = *newest;
  if (newest_ms < 0) {  // producers sent no timestamps: the file's age stands in
    auto modified = segment.ModifiedTimeMs();
    if (!modified.ok()) return false;
    newest_ms = *modified;
  }
  return now_ms - newest_ms > retention_ms;
}

}  // namespace

size_t DiskLog::ApplyRetention(int64_t now_ms) {
  MutexLock retention_lock(&retention_mu_);
  SegmentList candidates;
  uint64_t total_bytes = 0;
  {
    MutexLock lock(&mu_);
    if (closed_) return 0;
    for (const auto& segment : segments_) total_bytes += segment->size();
    // Only sealed segments wholly below the durable position: the active one stays, and Heal() may
    // still need the segment holding the durable position.
    for (size_t i = 0;
         i + 1 < segments_.size() && segments_[i]->base_offset() < durable_position_.segment_base; ++i) {
      candidates.push_back(segments_[i]);
    }
  }
  // Timestamps may need a header walk: done here, without the append mutex.
  size_t expired = 0;
  for (const auto& segment : candidates) {
    bool beyond_bytes = config_.retention_bytes >= 0 &&
                        total_bytes - segment->size() >= static_cast<uint64_t>(config_.retention_bytes);
    if (!beyond_bytes && !ExpiredByTime(*segment, config_.retention_ms, now_ms)) break;
    total_bytes -= segment->size();
    ++expired;
  }
  if (expired == 0) return 0;
  {
    MutexLock lock(&mu_);
    if (closed_) return 0;
    // segments_ still starts with the candidates: only retention removes from the front, and
    // retention_mu_ is held.
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(expired));
    log_start_.store(segments_.front()->base_offset().value(), std::memory_order_release);
    Publish();
  }
  for (size_t i = 0; i < expired; ++i) {
    spdlog::info("storage: {}: retention deletes segment {}", dir_.string(),
                 candidates[i]->base_offset().value());
    DeleteSegmentFiles(candidates[i]->base_offset());
  }
  Status synced = SyncDirectory(*ops_, dir_);
  if (!synced.ok()) spdlog::warn("storage: {}: syncing directory: {}", dir_.string(), synced.message());
  return expired;
}

}  // namespace oncemq::storage
