#include "protocol/reader.h"

namespace oncemq::protocol {

bool Reader::Need(size_t n) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}

int8_t Reader::Int8() {
  if (!Need(1)) return 0;
  return static_cast<int8_t>(data_[pos_++]);
}

int16_t Reader::Int16() {
  if (!Need(2)) return 0;
  auto v = static_cast<int16_t>(LoadBe16(data_.data() + pos_));
  pos_ += 2;
  return v;
}

int32_t Reader::Int32() {
  return static_cast<int32_t>(Uint32());
}

uint32_t Reader::Uint32() {
  if (!Need(4)) return 0;
  uint32_t v = LoadBe32(data_.data() + pos_);
  pos_ += 4;
  return v;
}

int64_t Reader::Int64() {
  if (!Need(8)) return 0;
  auto v = static_cast<int64_t>(LoadBe64(data_.data() + pos_));
  pos_ += 8;
  return v;
}

uint32_t Reader::UnsignedVarint() {
  uint32_t result = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (!Need(1)) return 0;
    uint8_t b = data_[pos_++];
    if (shift == 28 && (b & 0xF0) != 0) break;  // more than 32 bits
    result |= uint32_t{b & 0x7Fu} << shift;
    if ((b & 0x80) == 0) return result;
  }
  ok_ = false;
  return 0;
}

int32_t Reader::Varint() {
  uint32_t u = UnsignedVarint();
  return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
}

int64_t Reader::Varlong() {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63; shift += 7) {
    if (!Need(1)) return 0;
    uint8_t b = data_[pos_++];
    if (shift == 63 && (b & 0xFE) != 0) break;
    result |= uint64_t{b & 0x7Fu} << shift;
    if ((b & 0x80) == 0) return static_cast<int64_t>((result >> 1) ^ (~(result & 1) + 1));
  }
  ok_ = false;
  return 0;
}

ByteView Reader::Raw(size_t n) {
  if (!Need(n)) return {};
  ByteView v = data_.subspan(pos_, n);
  pos_ += n;
  return v;
}

std::string_view Reader::String() {
  int16_t len = Int16();
  if (len < 0) {
    ok_ = false;
    return {};
  }
  return AsStringView(Raw(static_cast<size_t>(len)));
}

std::optional<std::string_view> Reader::NullableString() {
  int16_t len = Int16();
  if (!ok_ || len == -1) return std::nullopt;
  if (len < 0) {
    ok_ = false;
    return std::nullopt;
  }
  return AsStringView(Raw(static_cast<size_t>(len)));
}

std::optional<std::string_view> Reader::CompactString() {
  uint32_t len = UnsignedVarint();
  if (!ok_ || len == 0) return std::nullopt;
  return AsStringView(Raw(len - 1));
}

std::optional<ByteView> Reader::NullableBytes() {
  int32_t len = Int32();
  if (!ok_ || len == -1) return std::nullopt;
  if (len < 0) {
    ok_ = false;
    return std::nullopt;
  }
  return Raw(static_cast<size_t>(len));
}

std::optional<ByteView> Reader::CompactBytes() {
  uint32_t len = UnsignedVarint();
  if (!ok_ || len == 0) return std::nullopt;
  return Raw(len - 1);
}

int32_t Reader::ArrayCount(size_t min_element_size) {
  int32_t n = Int32();
  if (!ok_) return 0;
  if (n == -1) return -1;
  if (n < -1 || static_cast<size_t>(n) * min_element_size > remaining()) {
    ok_ = false;
    return 0;
  }
  return n;
}

int32_t Reader::NonNullArrayCount(size_t min_element_size) {
  int32_t n = ArrayCount(min_element_size);
  if (n >= 0) return n;
  ok_ = false;
  return 0;
}

int32_t Reader::CompactArrayCount(size_t min_element_size) {
  uint32_t n = UnsignedVarint();
  if (!ok_) return 0;
  if (n == 0) return -1;
  if (static_cast<size_t>(n - 1) * min_element_size > remaining()) {
    ok_ = false;
    return 0;
  }
  return static_cast<int32_t>(n - 1);
}

void Reader::SkipTaggedFields() {
  uint32_t count = UnsignedVarint();
  for (uint32_t i = 0; ok_ && i < count; ++i) {
    UnsignedVarint();  // tag
    uint32_t size = UnsignedVarint();
    Raw(size);
  }
}

}  // namespace oncemq::protocol
