#include "protocol/batch_header.h"

#include <string>

namespace oncemq::protocol {

Result<BatchHeader> BatchHeader::Parse(ByteView bytes) {
  using namespace batch_layout;
  if (bytes.size() < kHeaderSize) {
    return Status::Corruption("batch header needs 61 bytes, have " + std::to_string(bytes.size()));
  }
  if (bytes[kMagic] != 2) {
    return Status::Corruption("unsupported batch magic " + std::to_string(int{bytes[kMagic]}));
  }
  auto length = static_cast<int32_t>(LoadBe32(bytes.data() + kBatchLength));
  if (length < static_cast<int32_t>(kHeaderSize - kLogOverhead)) {
    return Status::Corruption("batch length " + std::to_string(length) + " shorter than its header");
  }
  if (static_cast<size_t>(length) + kLogOverhead > bytes.size()) {
    return Status::Corruption("batch length " + std::to_string(length) + " runs past the available " +
                              std::to_string(bytes.size()) + " bytes");
  }
  return BatchHeader(bytes.data());
}

void RewriteCrc(MutableByteView batch) {
  uint32_t crc =
      crc32c::Value(batch.data() + batch_layout::kAttributes, batch.size() - batch_layout::kAttributes);
  StoreBe32(batch.data() + batch_layout::kCrc, crc);
}

}  // namespace oncemq::protocol
