#include "storage/segment_recovery.h"

#include <algorithm>
#include <string>

#include <spdlog/spdlog.h>

#include "protocol/batch_header.h"

namespace oncemq::storage {
namespace {

// Reads a segment front to back through one buffer, so validation costs one pread per megabyte
// rather than per batch.
class SequentialReader {
 public:
  explicit SequentialReader(const Segment& segment) : segment_(segment), file_size_(segment.size()) {}

  // The bytes [position, position + n), clipped at the end of the file.
  Result<ByteView> Peek(uint64_t position, size_t n) {
    uint64_t end = std::min<uint64_t>(position + n, file_size_);
    if (position < buffer_start_ || end > buffer_start_ + buffer_.size()) {
      buffer_.resize(std::max<size_t>(kChunkBytes, n));
      auto read = segment_.Read(position, buffer_);
      if (!read.ok()) return read.status();
      buffer_.resize(*read);
      buffer_start_ = position;
    }
    uint64_t available = std::min<uint64_t>(end, buffer_start_ + buffer_.size()) - position;
    return ByteView(buffer_.data() + (position - buffer_start_), available);
  }

 private:
  static constexpr size_t kChunkBytes = 1 << 20;
  const Segment& segment_;
  const uint64_t file_size_;
  Bytes buffer_;
  uint64_t buffer_start_ = 0;
};

// Why the batch at the start of `bytes` is bad, or an empty string when it is good.
std::string CheckBatch(ByteView bytes, Offset expected_base) {
  auto header = protocol::BatchHeader::Parse(bytes);
  if (!header.ok()) return header.status().message();
  if (!header->CrcMatches()) return "CRC-32C mismatch";
  if (header->last_offset_delta() < 0) return "negative lastOffsetDelta";
  if (header->base_offset() != expected_base.value()) {
    return "base offset " + std::to_string(header->base_offset()) + ", expected " +
           std::to_string(expected_base.value());
  }
  return {};
}

}  // namespace

Result<SegmentScan> SegmentRecovery::Scan(Segment& segment) {
  SegmentScan scan;
  scan.next_offset = segment.base_offset();
  SequentialReader reader(segment);
  const uint64_t file_size = segment.size();
  segment.index().Reset({});
  uint64_t position = 0;
  while (position < file_size) {
    auto header = reader.Peek(position, BatchFrame::kHeaderBytes);
    if (!header.ok()) return header.status();
    auto frame = BatchFrame::Decode(*header);
    if (!frame.ok()) {
      scan.first_problem = frame.status().message();
      break;
    }
    if (frame->size > file_size - position) {
      scan.first_problem = "batch of " + std::to_string(frame->size) + " bytes runs past the end of the file";
      break;
    }
    auto batch = reader.Peek(position, frame->size);
    if (!batch.ok()) return batch.status();
    scan.first_problem = CheckBatch(*batch, scan.next_offset);
    if (!scan.first_problem.empty()) break;
    segment.index().OnBatchAppended(frame->base, position);
    scan.newest_timestamp = std::max(scan.newest_timestamp, frame->max_timestamp);
    scan.next_offset = frame->next();
    ++scan.batches;
    position += frame->size;
  }
  scan.valid_bytes = position;
  scan.dropped_bytes = file_size - position;
  return scan;
}

Result<SegmentScan> SegmentRecovery::Recover(Segment& segment) {
  auto scan = Scan(segment);
  if (!scan.ok()) return scan;
  if (scan->dropped_bytes > 0) {
    spdlog::warn("storage: {}: dropping {} bytes after offset {} at byte {} ({}), keeping {} batches",
                 segment.log_path().string(), scan->dropped_bytes, scan->next_offset.value(),
                 scan->valid_bytes, scan->first_problem, scan->batches);
    Status cut = segment.Truncate(scan->valid_bytes, scan->next_offset);
    if (!cut.ok()) return cut;
  }
  segment.SetRecovered(scan->valid_bytes, scan->next_offset, scan->newest_timestamp);
  return scan;
}

}  // namespace oncemq::storage
