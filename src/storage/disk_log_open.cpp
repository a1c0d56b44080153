// Opening a log directory: find the segments, trust or validate each, cut the torn tail (docs/storage.md).
#include <set>
#include <string>
#include <system_error>

#include <spdlog/spdlog.h>

#include "storage/disk_log.h"
#include "storage/segment_name.h"
#include "storage/segment_recovery.h"

namespace oncemq::storage {

Result<std::unique_ptr<PartitionLog>> PartitionLog::Open(const std::filesystem::path& dir,
                                                         const LogConfig& config) {
  return Open(dir, config, FileOps::Posix());
}

Result<std::unique_ptr<PartitionLog>> PartitionLog::Open(const std::filesystem::path& dir,
                                                         const LogConfig& config,
                                                         std::shared_ptr<FileOps> file_ops) {
  if (config.segment_bytes == 0 || config.index_interval_bytes == 0) {
    return Status::InvalidArgument("segment_bytes and index_interval_bytes must be positive");
  }
  auto log = std::make_unique<DiskLog>(dir, config, std::move(file_ops));
  Status recovered = log->Recover();
  if (!recovered.ok()) return recovered;
  return std::unique_ptr<PartitionLog>(std::move(log));
}

Status DiskLog::Recover() {
  MutexLock lock(&mu_);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::IoError("create " + dir_.string() + ": " + ec.message());

  std::set<int64_t> logs;
  std::set<int64_t> indexes;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    auto name = ParseSegmentFileName(entry.path().filename().string());
    if (!name) continue;
    (name->kind == SegmentFileKind::kLog ? logs : indexes).insert(name->base.value());
  }
  if (ec) return Status::IoError("list " + dir_.string() + ": " + ec.message());

  bool directory_changed = false;
  for (int64_t base : indexes) {
    if (logs.count(base) != 0) continue;
    spdlog::warn("storage: {}: removing index without a log for base offset {}", dir_.string(), base);
    DeleteSegmentFiles(Offset(base));
    directory_changed = true;
  }

  if (logs.empty()) {
    Status created = CreateFirstSegment();
    if (!created.ok()) return created;
    directory_changed = true;
  }
  for (auto it = logs.begin(); it != logs.end(); ++it) {
    const Offset base(*it);
    if (!segments_.empty() && base != segments_.back()->next_offset()) {
      // A gap or overlap: the log ended (was torn) before this segment, so it and all later ones go.
      spdlog::error(
          "storage: {}: segment {} does not continue the log ending at {}; dropping it and {} later "
          "segment(s)",
          dir_.string(), base.value(), segments_.back()->next_offset().value(),
          std::distance(it, logs.end()) - 1);
      for (; it != logs.end(); ++it) {
        bytes_dropped_on_open_ +=
            std::filesystem::file_size(dir_ / MakeSegmentFileName(Offset(*it), SegmentFileKind::kLog), ec);
        DeleteSegmentFiles(Offset(*it));
      }
      directory_changed = true;
      break;
    }
    Status s = RecoverSegment(base, std::next(it) == logs.end());
    if (!s.ok()) return s;
  }

  const auto& active = segments_.back();
  // The active segment takes appends, so it must not have an index file (an .index promises a synced,
  // sealed log; see offset_index.h).
  if (std::filesystem::remove(active->index_path(), ec)) directory_changed = true;
  if (directory_changed) {
    Status synced = SyncDirectory(*ops_, dir_);
    if (!synced.ok()) return synced;
  }
  log_start_.store(segments_.front()->base_offset().value());
  log_end_.store(active->next_offset().value());
  durable_end_.store(active->next_offset().value());
  durable_position_ = {active->base_offset(), active->size()};
  Publish();
  return Status::Ok();
}

Status DiskLog::CreateFirstSegment() {
  auto segment = Segment::Open(dir_, Offset(0), Segment::Mode::kCreate, config_.index_interval_bytes, ops_);
  if (!segment.ok()) return segment.status();
  segments_.push_back(std::move(*segment));
  return Status::Ok();
}

Status DiskLog::RecoverSegment(Offset base, bool is_last) {
  auto opened = Segment::Open(dir_, base, Segment::Mode::kOpenExisting, config_.index_interval_bytes, ops_);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<Segment> segment = std::move(*opened);
  if (!is_last && TrustIndex(*segment)) {
    segments_.push_back(std::move(segment));
    return Status::Ok();
  }
  auto scan = SegmentRecovery::Recover(*segment);
  if (!scan.ok()) return scan.status();
  bytes_dropped_on_open_ += scan->dropped_bytes;
  // What was read back may still be only in the page cache (the process, not the machine, crashed).
  Status synced = segment->Sync();
  if (!synced.ok()) return synced;
  if (!is_last) {
    // Sealed and now synced: give it the index so the next open trusts it.
    Status written = segment->index().WriteFile(segment->index_path(), *ops_);
    if (!written.ok())
      spdlog::warn("storage: writing {}: {}", segment->index_path().string(), written.message());
  }
  segments_.push_back(std::move(segment));
  return Status::Ok();
}

bool DiskLog::TrustIndex(Segment& segment) {
  auto entries = OffsetIndex::ReadFile(segment.index_path(), segment.size());
  if (!entries.ok()) {
    if (entries.status().code() != StatusCode::kNotFound) {
      spdlog::warn("storage: {}: {}; validating the segment", segment.index_path().string(),
                   entries.status().message());
    }
    return false;
  }
  // The index promises a synced log; check that the promise matches the file: the last indexed batch is
  // where the index says, and batch headers from there end exactly at the end of the file.
  uint64_t position = 0;
  Offset expected = segment.base_offset();
  if (!entries->empty()) {
    position = entries->back().position;
    expected = Offset(segment.base_offset().value() + entries->back().relative_offset);
  }
  bool consistent = segment.size() > 0;
  while (consistent && position < segment.size()) {
    auto frame = segment.ReadFrame(position);
    consistent = frame.ok() && frame->base == expected && frame->size <= segment.size() - position;
    if (!consistent) break;
    expected = frame->next();
    position += frame->size;
  }
  if (!consistent) {
    spdlog::warn("storage: {}: index does not match the log; validating the segment",
                 segment.index_path().string());
    return false;
  }
  segment.index().Reset(std::move(*entries));
  segment.SetRecovered(segment.size(), expected, std::nullopt);
  return true;
}

void DiskLog::DeleteSegmentFiles(Offset base) {
  for (auto kind : {SegmentFileKind::kLog, SegmentFileKind::kIndex}) {
    std::error_code ec;
    std::filesystem::path path = dir_ / MakeSegmentFileName(base, kind);
    std::filesystem::remove(path, ec);
    if (ec) spdlog::warn("storage: removing {}: {}", path.string(), ec.message());
  }
}

}  // namespace oncemq::storage
