// Reads: whole stored batches straight from the page cache into the caller's buffer, and the
// timestamp lookup. Both work on a snapshot of the segment list and never take the append mutex.
#include <algorithm>
#include <string>

#include "storage/disk_log.h"

namespace oncemq::storage {
namespace {

struct ReadBudget {
  size_t remaining_bytes;
  Offset bound;  // only batches whose last offset is below this
  bool first = true;
};

// Appends to `out` the whole batches of `segment` from `position` that the budget allows.
// Returns true when the read should go on into the next segment.
Result<bool> ReadSegment(const Segment& segment, uint64_t position, ReadBudget& budget, Bytes& out) {
  const uint64_t end = segment.size();
  if (position >= end) return true;
  uint64_t want = budget.remaining_bytes;
  if (budget.first) {
    auto frame = segment.ReadFrame(position);
    if (!frame.ok()) return frame.status();
    want = std::max<uint64_t>(want, frame->size);
  }
  want = std::min(want, end - position);
  const size_t start = out.size();
  // One copy: pread lands the bytes in their final place; what is not a whole allowed batch is cut off.
  out.resize(start + want);
  auto read = segment.Read(position, MutableByteView(out.data() + start, want));
  if (!read.ok()) {
    out.resize(start);
    return read.status();
  }
  size_t kept = 0;
  bool stopped = false;
  while (!stopped) {
    auto frame = BatchFrame::Decode(ByteView(out.data() + start + kept, *read - kept));
    if (!frame.ok() || frame->size > *read - kept) break;  // the rest did not fit in what was read
    stopped = frame->last >= budget.bound || (!budget.first && frame->size > budget.remaining_bytes);
    if (stopped) break;
    kept += frame->size;
    budget.remaining_bytes -= std::min<size_t>(budget.remaining_bytes, frame->size);
    budget.first = false;
  }
  out.resize(start + kept);
  return !stopped && position + kept == end && budget.remaining_bytes > 0;
}

}  // namespace

Offset DiskLog::high_watermark() const {
  return config_.flush.acks_wait_for_fsync() ? durable_end() : log_end();
}

Status DiskLog::ReadInto(Offset from, size_t max_bytes, Offset limit, Bytes& out) const {
  // The high watermark first: every segment holding data below it is in any later snapshot.
  const Offset hw = high_watermark();
  auto segments = Snapshot();
  if (closed_ || !segments || segments->empty())
    return Status::Unavailable("log " + dir_.string() + " is closed");
  if (from < log_start() || from < segments->front()->base_offset() || from > hw) {
    return Status::NotFound("offset " + std::to_string(from.value()) + " out of range [" +
                            std::to_string(log_start().value()) + ", " + std::to_string(hw.value()) + "]");
  }
  ReadBudget budget{max_bytes, std::min(limit, hw)};
  if (from >= budget.bound) return Status::Ok();

  auto containing =
      std::upper_bound(segments->begin(), segments->end(), from,
                       [](Offset o, const auto& segment) { return o < segment->base_offset(); });
  size_t index = static_cast<size_t>(containing - segments->begin()) - 1;
  auto position = (*segments)[index]->FindBatch(from);
  if (!position.ok()) return position.status();
  for (uint64_t at = *position; index < segments->size(); ++index, at = 0) {
    auto more = ReadSegment(*(*segments)[index], at, budget, out);
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  return Status::Ok();
}

Result<std::optional<Offset>> DiskLog::OffsetForTimestamp(int64_t timestamp_ms) const {
  const Offset hw = high_watermark();
  auto segments = Snapshot();
  if (closed_ || !segments) return Status::Unavailable("log " + dir_.string() + " is closed");
  for (const auto& segment : *segments) {
    if (segment->base_offset() >= hw) break;
    auto newest = segment->NewestTimestamp();
    if (!newest.ok()) return newest.status();
    if (*newest < timestamp_ms) continue;
    const uint64_t end = segment->size();
    for (uint64_t position = 0; position < end;) {
      auto frame = segment->ReadFrame(position);
      if (!frame.ok()) return frame.status();
      if (frame->base >= hw) return std::optional<Offset>();
      if (frame->max_timestamp >= timestamp_ms) return std::optional<Offset>(frame->base);
      position += frame->size;
    }
  }
  return std::optional<Offset>();
}

LogStats DiskLog::stats() const {
  LogStats stats;
  stats.log_start = log_start();
  stats.log_end = log_end();
  stats.durable_end = durable_end();
  MutexLock lock(&mu_);
  for (const auto& segment : segments_) stats.size_bytes += segment->size();
  stats.segments = segments_.size();
  stats.bytes_dropped_on_open = bytes_dropped_on_open_;
  return stats;
}

}  // namespace oncemq::storage
