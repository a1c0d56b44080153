#include "protocol/writer.h"

namespace oncemq::protocol {

uint8_t* Writer::Extend(size_t n) {
  size_t at = buf_.size();
  buf_.resize(at + n);
  return buf_.data() + at;
}

void Writer::Int16(int16_t v) {
  StoreBe16(Extend(2), static_cast<uint16_t>(v));
}
void Writer::Int32(int32_t v) {
  StoreBe32(Extend(4), static_cast<uint32_t>(v));
}
void Writer::Uint32(uint32_t v) {
  StoreBe32(Extend(4), v);
}
void Writer::Int64(int64_t v) {
  StoreBe64(Extend(8), static_cast<uint64_t>(v));
}

void Writer::UnsignedVarint(uint32_t v) {
  while (v >= 0x80) {
    buf_.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  buf_.push_back(static_cast<uint8_t>(v));
}

void Writer::Varint(int32_t v) {
  UnsignedVarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
}

void Writer::Varlong(int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (u >= 0x80) {
    buf_.push_back(static_cast<uint8_t>(u | 0x80));
    u >>= 7;
  }
  buf_.push_back(static_cast<uint8_t>(u));
}

void Writer::String(std::string_view s) {
  Int16(static_cast<int16_t>(s.size()));
  Raw(AsBytes(s));
}

void Writer::NullableString(std::optional<std::string_view> s) {
  if (!s) return Int16(-1);
  String(*s);
}

void Writer::CompactString(std::optional<std::string_view> s) {
  if (!s) return UnsignedVarint(0);
  UnsignedVarint(static_cast<uint32_t>(s->size() + 1));
  Raw(AsBytes(*s));
}

void Writer::NullableBytes(std::optional<ByteView> b) {
  if (!b) return Int32(-1);
  Int32(static_cast<int32_t>(b->size()));
  Raw(*b);
}

void Writer::CompactBytes(std::optional<ByteView> b) {
  if (!b) return UnsignedVarint(0);
  UnsignedVarint(static_cast<uint32_t>(b->size() + 1));
  Raw(*b);
}

size_t Writer::ReserveInt32() {
  size_t at = buf_.size();
  Extend(4);
  return at;
}

void Writer::PatchLengthSince(size_t reserved_at) {
  PatchInt32(reserved_at, static_cast<int32_t>(buf_.size() - reserved_at - 4));
}

void Writer::PatchInt32(size_t at, int32_t v) {
  StoreBe32(buf_.data() + at, static_cast<uint32_t>(v));
}

}  // namespace oncemq::protocol
