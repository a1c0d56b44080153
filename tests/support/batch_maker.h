// Test-only RecordBatch v2 maker: builds valid uncompressed batches (kafka-protocol.md §5) from plain
// records, and helpers that break them in exactly one way for bad-input tests. Independent of the
// production batch writer on purpose, so a bug there cannot hide in both.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/bytes.h"

namespace oncemq::testing {

struct TestHeader {
  std::string key;
  std::optional<std::string> value;  // nullopt = null header value
};

struct TestRecord {
  std::optional<std::string> key;    // nullopt = null key
  std::optional<std::string> value;  // nullopt = null value (tombstone)
  std::vector<TestHeader> headers;
};

struct BatchOptions {
  int64_t base_timestamp_ms = 1700000000000;  // record i gets base + i
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int16_t attributes = 0;  // no compression, CreateTime
};

// A complete batch: baseOffset 0, partitionLeaderEpoch -1, correct batchLength, counts and CRC-32C.
Bytes MakeBatch(const std::vector<TestRecord>& records, const BatchOptions& options = {});

// Convenience: `n` records with key "k<i>" and value "<prefix><i>".
Bytes MakeSimpleBatch(int n, const std::string& prefix = "v");

// Recomputes the CRC-32C over [21, end) after a test edited bytes there.
void RecomputeCrc(Bytes& batch);

// Field pokes at the fixed header offsets (big-endian). They do not touch the CRC.
void PokeInt32(Bytes& batch, size_t at, int32_t v);
void PokeInt64(Bytes& batch, size_t at, int64_t v);

// Decoded view of one batch for checking fetched data.
struct DecodedBatch {
  int64_t base_offset = 0;
  int32_t last_offset_delta = 0;
  bool crc_ok = false;
  std::vector<TestRecord> records;
  std::vector<int32_t> offset_deltas;
  Bytes bytes;  // the whole batch as fetched
};

// Splits a Fetch `records` blob into batches. A trailing partial batch is ignored (allowed by the
// protocol). Returns false if a complete batch does not decode.
bool DecodeBatches(ByteView blob, std::vector<DecodedBatch>* out, std::string* error);

}  // namespace oncemq::testing
