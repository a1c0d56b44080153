#include "storage/batch_frame.h"

#include <string>

namespace oncemq::storage {

Result<BatchFrame> BatchFrame::Decode(ByteView header) {
  using namespace protocol::batch_layout;
  if (header.size() < kHeaderBytes) {
    return Status::Corruption("incomplete batch header: " + std::to_string(header.size()) + " bytes");
  }
  const uint8_t* p = header.data();
  if (p[kMagic] != 2) return Status::Corruption("batch magic " + std::to_string(int{p[kMagic]}) + ", want 2");
  auto length = static_cast<int32_t>(LoadBe32(p + kBatchLength));
  if (length < static_cast<int32_t>(kHeaderSize - kLogOverhead)) {
    return Status::Corruption("batch length " + std::to_string(length) + " shorter than its header");
  }
  auto delta = static_cast<int32_t>(LoadBe32(p + kLastOffsetDelta));
  auto base = static_cast<int64_t>(LoadBe64(p + kBaseOffset));
  if (delta < 0 || base < 0) {
    return Status::Corruption("batch offsets base " + std::to_string(base) + " delta " +
                              std::to_string(delta));
  }
  BatchFrame frame;
  frame.base = Offset(base);
  frame.last = Offset(base + delta);
  frame.size = static_cast<uint32_t>(length) + kLogOverhead;
  frame.max_timestamp = static_cast<int64_t>(LoadBe64(p + kMaxTimestamp));
  return frame;
}

}  // namespace oncemq::storage
