// Writer: encodes Kafka wire primitives by appending to a byte buffer it owns.
// Length-prefixed frames are written by reserving the prefix and patching it at the end. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bytes.h"

namespace oncemq::protocol {

class Writer {
 public:
  Writer() = default;
  explicit Writer(Bytes buffer) : buf_(std::move(buffer)) {}

  void Int8(int8_t v) { buf_.push_back(static_cast<uint8_t>(v)); }
  void Int16(int16_t v);
  void Int32(int32_t v);
  void Int64(int64_t v);
  void Uint32(uint32_t v);
  void Bool(bool v) { Int8(v ? 1 : 0); }
  void UnsignedVarint(uint32_t v);
  void Varint(int32_t v);
  void Varlong(int64_t v);

  void String(std::string_view s);
  void NullableString(std::optional<std::string_view> s);
  void CompactString(std::optional<std::string_view> s);
  void NullableBytes(std::optional<ByteView> b);
  void CompactBytes(std::optional<ByteView> b);
  void ArrayCount(int32_t n) { Int32(n); }                                             // -1 = null
  void CompactArrayCount(int32_t n) { UnsignedVarint(static_cast<uint32_t>(n + 1)); }  // -1 = null
  void EmptyTaggedFields() { UnsignedVarint(0); }
  void Raw(ByteView b) { buf_.insert(buf_.end(), b.begin(), b.end()); }

  // Reserves an INT32 at the current position; PatchInt32 later writes the byte count since it.
  size_t ReserveInt32();
  void PatchLengthSince(size_t reserved_at);
  void PatchInt32(size_t at, int32_t v);

  size_t size() const { return buf_.size(); }
  const Bytes& bytes() const { return buf_; }
  Bytes Take() { return std::move(buf_); }
  // Grows the buffer by n bytes and returns where they start (for callers that fill bytes directly).
  uint8_t* Extend(size_t n);

 private:
  Bytes buf_;
};

}  // namespace oncemq::protocol
