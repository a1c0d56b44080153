// Reader: decodes Kafka wire primitives from a byte view without copying.
//
// Errors are sticky: once a read runs past the end or meets an invalid length, ok() turns false and
// every later read returns a zero value. Callers decode a whole message, then check ok() once.
// Views returned (strings, bytes) point into the input and live as long as it does. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bytes.h"

namespace oncemq::protocol {

class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  size_t position() const { return pos_; }
  void Fail() { ok_ = false; }

  int8_t Int8();
  int16_t Int16();
  int32_t Int32();
  int64_t Int64();
  uint32_t Uint32();
  bool Bool() { return Int8() != 0; }
  uint32_t UnsignedVarint();
  int32_t Varint();   // zig-zag
  int64_t Varlong();  // zig-zag

  std::string_view String();                         // INT16 length, never null
  std::optional<std::string_view> NullableString();  // INT16 length, -1 = null
  std::optional<std::string_view> CompactString();   // uvarint length+1, 0 = null
  std::optional<ByteView> NullableBytes();           // INT32 length, -1 = null
  ByteView Bytes() { return NullableBytes().value_or(ByteView{}); }
  std::optional<ByteView> CompactBytes();
  // Classic array count: INT32, -1 = null (returned as -1). Fails on a count that could not fit.
  int32_t ArrayCount(size_t min_element_size = 1);
  // An array the schema does not allow to be null: -1 fails the read (and returns 0).
  int32_t NonNullArrayCount(size_t min_element_size = 1);
  int32_t CompactArrayCount(size_t min_element_size = 1);  // -1 = null
  void SkipTaggedFields();
  ByteView Raw(size_t n);

 private:
  bool Need(size_t n);

  ByteView data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace oncemq::protocol
