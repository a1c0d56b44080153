// Records inside a RecordBatch v2: zero-copy views to read them, a builder to write whole batches.
//
// Record grammar (kafka-protocol.md §5.2; v = zig-zag varint/varlong):
//   length v32 (bytes after this field) | attributes i8 | timestampDelta v64 | offsetDelta v32 |
//   keyLength v32 (-1 = null) | key | valueLength v32 (-1 = null) | value |
//   headerCount v32 | headerCount × (keyLength v32 (>= 0) | key | valueLength v32 (-1 = null) | value)
//
// Views (Record, RecordHeader, Headers) never own bytes: they point into the records section they were
// read from and stay valid as long as those bytes do. Reading allocates nothing per record. Views are
// immutable: many threads may read them while nobody changes the underlying bytes.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"
#include "protocol/batch_header.h"
#include "protocol/compression.h"
#include "protocol/writer.h"

namespace oncemq::protocol {

struct RecordHeader {
  std::string_view key;
  std::optional<ByteView> value;  // nullopt = null
};

// The headers of one record, decoded lazily on iteration. Only RecordIterator makes non-empty ones,
// after it has validated every header, so iterating cannot fail.
class Headers {
 public:
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = RecordHeader;
    using difference_type = std::ptrdiff_t;
    using pointer = const RecordHeader*;
    using reference = const RecordHeader&;

    Iterator() = default;
    const RecordHeader& operator*() const { return current_; }
    const RecordHeader* operator->() const { return &current_; }
    Iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(const Iterator& o) const { return left_ == o.left_; }

   private:
    friend class Headers;
    Iterator(ByteView rest, int32_t left);
    void Decode();

    ByteView rest_;     // undecoded headers after current_
    int32_t left_ = 0;  // headers not yet passed, current_ included
    RecordHeader current_;
  };

  Headers() = default;
  Iterator begin() const { return {bytes_, count_}; }
  Iterator end() const { return {}; }
  int32_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The first header named `key`, if any.
  std::optional<RecordHeader> Find(std::string_view key) const;

 private:
  friend class RecordIterator;
  Headers(ByteView bytes, int32_t count) : bytes_(bytes), count_(count) {}

  ByteView bytes_;  // exactly the encoded headers, without the count
  int32_t count_ = 0;
};

// One record, as read by RecordIterator. Absolute timestamp = batch base timestamp + timestamp_delta;
// absolute offset = batch base offset + offset_delta.
struct Record {
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<ByteView> key;    // nullopt = null key
  std::optional<ByteView> value;  // nullopt = null value (tombstone)
  Headers headers;
  ByteView encoded;  // the whole record, its length prefix included
};

// Iterates over the records of an uncompressed records section, validating each in full.
// Errors are sticky: after Next() returns nullopt, status() is Ok only if exactly `records_count` records
// filled the section with no byte left over; else kCorruption (malformed record, count mismatch, trailing
// bytes) or kInvalidArgument (a compressed batch given to the BatchHeader constructor). Offset deltas are
// reported as written, not checked against the record index. Not thread-safe; allocates nothing unless an
// error occurs.
class RecordIterator {
 public:
  RecordIterator(ByteView records, int32_t records_count);
  // The records of `batch`. REQUIRES: the batch is uncompressed (else status() is kInvalidArgument).
  explicit RecordIterator(const BatchHeader& batch);

  // The next record, or nullopt at the end or on the first error.
  std::optional<Record> Next();
  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }
  int32_t records_read() const { return read_; }

 private:
  std::optional<Record> Fail(std::string message);
  void CheckEnd();

  ByteView rest_;
  int32_t expected_;
  int32_t read_ = 0;
  bool done_ = false;
  Status status_;
};

// The records section of `batch`: a view into the batch itself when it is uncompressed, else its
// decompression written into `scratch` (valid until `scratch` changes). Errors: kCorruption for an
// unknown codec or bad compressed data, kResourceExhausted past `max_decompressed` bytes.
Result<ByteView> RecordsSection(const BatchHeader& batch, Bytes& scratch,
                                size_t max_decompressed = kDefaultMaxDecompressedSize);

// The batch-level fields a RecordBatchBuilder writes. Defaults are what a non-idempotent client sends.
struct BatchOptions {
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  Compression compression = Compression::kNone;
  // Attribute bits other than the codec (timestamp type, transactional, control); bits 0-2 are ignored.
  int16_t attribute_flags = 0;
  std::optional<int64_t> base_timestamp;  // default: the first record's timestamp
  std::optional<int64_t> max_timestamp;   // default: the largest record timestamp
};

// Builds one complete, CRC-correct RecordBatch v2. Records get offset deltas 0, 1, 2… in append order.
// Used by tests and by the broker to rewrite a batch without some of its records.
// REQUIRES: every key, value and header is shorter than 2^31 bytes. Not thread-safe.
class RecordBatchBuilder {
 public:
  explicit RecordBatchBuilder(BatchOptions options = {});

  // Appends a record with an absolute timestamp (ms).
  void Append(int64_t timestamp, std::optional<ByteView> key, std::optional<ByteView> value,
              std::span<const RecordHeader> headers = {});
  // Appends a copy of a record read from a batch whose base timestamp was `source_base_timestamp`.
  void Append(const Record& record, int64_t source_base_timestamp);

  int32_t record_count() const { return count_; }
  // The finished batch. kInvalidArgument if no record was appended or the codec is unknown.
  Result<Bytes> Build() const;

 private:
  template <typename HeaderRange>
  void AppendRecord(int64_t timestamp, std::optional<ByteView> key, std::optional<ByteView> value,
                    const HeaderRange& headers);

  BatchOptions options_;
  Writer records_;  // the encoded, uncompressed records section
  int32_t count_ = 0;
  int64_t base_timestamp_ = 0;
  int64_t max_timestamp_ = 0;
};

}  // namespace oncemq::protocol
