// Helpers shared by the storage tests: throwaway directories and hand-made RecordBatch v2 bytes.
// Batches are built here (header fields + CRC-32C over [21, end)) so the storage tests depend on
// nothing but the header layout.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "protocol/batch_header.h"
#include "storage/partition_log.h"

namespace oncemq::storage::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/oncemq-storage-XXXXXX";
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path log_dir() const { return path_ / "topic-0"; }

 private:
  std::filesystem::path path_;
};

// A valid magic-2 batch of `records` records (lastOffsetDelta = records - 1) with `payload_bytes` of
// deterministic filler standing in for the records. Base offset 0; the log rewrites it.
inline Bytes MakeBatch(int32_t records, int64_t max_timestamp = 1000, size_t payload_bytes = 40,
                       uint8_t seed = 7) {
  using namespace protocol::batch_layout;
  Bytes b(kHeaderSize + payload_bytes, 0);
  StoreBe64(&b[kBaseOffset], 0);
  StoreBe32(&b[kBatchLength], static_cast<uint32_t>(b.size() - kLogOverhead));
  StoreBe32(&b[kLeaderEpoch], 0);
  b[kMagic] = 2;
  StoreBe16(&b[kAttributes], 0);
  StoreBe32(&b[kLastOffsetDelta], static_cast<uint32_t>(records - 1));
  StoreBe64(&b[kBaseTimestamp], static_cast<uint64_t>(max_timestamp));
  StoreBe64(&b[kMaxTimestamp], static_cast<uint64_t>(max_timestamp));
  StoreBe64(&b[kProducerId], static_cast<uint64_t>(-1));
  StoreBe16(&b[kProducerEpoch], static_cast<uint16_t>(-1));
  StoreBe32(&b[kBaseSequence], static_cast<uint32_t>(-1));
  StoreBe32(&b[kRecordsCount], static_cast<uint32_t>(records));
  for (size_t i = kHeaderSize; i < b.size(); ++i) b[i] = static_cast<uint8_t>(seed + i * 31);
  StoreBe32(&b[kCrc], crc32c::Value(b.data() + kAttributes, b.size() - kAttributes));
  return b;
}

inline LogConfig SmallConfig(uint64_t segment_bytes = 1 << 20) {
  LogConfig config;
  config.segment_bytes = segment_bytes;
  config.index_interval_bytes = 256;
  config.retention_ms = -1;
  return config;
}

inline std::unique_ptr<PartitionLog> OpenOrDie(const std::filesystem::path& dir, const LogConfig& config) {
  auto log = PartitionLog::Open(dir, config);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

inline AppendResult AppendOrDie(PartitionLog& log, Bytes batch) {
  auto appended = log.Append(batch);
  EXPECT_TRUE(appended.ok()) << appended.status().ToString();
  return appended.ok() ? *appended : AppendResult{};
}

struct StoredBatch {
  int64_t base_offset;
  int32_t last_offset_delta;
  int64_t max_timestamp;
  size_t size;
};

// Splits bytes returned by ReadInto into batches. Fails the test on anything that is not a whole,
// CRC-valid batch.
inline std::vector<StoredBatch> SplitBatches(const Bytes& bytes) {
  std::vector<StoredBatch> batches;
  size_t at = 0;
  while (at < bytes.size()) {
    auto header = protocol::BatchHeader::Parse(ByteView(bytes).subspan(at));
    EXPECT_TRUE(header.ok()) << header.status().ToString();
    if (!header.ok()) break;
    EXPECT_TRUE(header->CrcMatches());
    batches.push_back(
        {header->base_offset(), header->last_offset_delta(), header->max_timestamp(), header->total_size()});
    at += header->total_size();
  }
  return batches;
}

// Everything readable from log_start to high_watermark.
inline std::vector<StoredBatch> ReadAllBatches(const PartitionLog& log) {
  Bytes out;
  Status s = log.ReadInto(log.log_start(), SIZE_MAX, log.high_watermark(), out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return SplitBatches(out);
}

inline std::vector<int64_t> BaseOffsets(const std::vector<StoredBatch>& batches) {
  std::vector<int64_t> bases;
  for (const auto& b : batches) bases.push_back(b.base_offset);
  return bases;
}

inline Bytes ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::filesystem::path SegmentPath(const std::filesystem::path& dir, int64_t base,
                                         const char* ext = ".log") {
  char name[32];
  std::snprintf(name, sizeof(name), "%020lld%s", static_cast<long long>(base), ext);
  return dir / name;
}

}  // namespace oncemq::storage::test
