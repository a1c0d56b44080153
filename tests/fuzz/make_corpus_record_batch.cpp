// Writes the seed corpus of fuzz_record_batch: small valid batches, one per codec, the xerial snappy
// framing, nulls and headers, and two batches back to back.
// Usage: make_corpus_record_batch <dir>   (the checked-in seeds are in tests/fuzz/corpus/record_batch/)
#include <cstdio>
#include <string>
#include <vector>

#include "corpus_file.h"
#include "protocol/compression.h"
#include "protocol/record_batch.h"

namespace oncemq::protocol {
namespace {

constexpr int64_t kTs = 1700000000000;

ByteView B(std::string_view s) {
  return AsBytes(s);
}

void AppendSample(RecordBatchBuilder& b) {
  RecordHeader id{"oncemq-msg-id", B("01HF8Z0000000000000000000")};
  RecordHeader headers[] = {{"trace", B("abc")}, {"null", std::nullopt}};
  b.Append(kTs, B("order-1"), B("{\"amount\":42}"), {&id, 1});
  b.Append(kTs + 5, std::nullopt, B("no key"), headers);
  b.Append(kTs - 3, B("tombstone"), std::nullopt);
  b.Append(kTs + 9, B(""), B(""));
}

Bytes Build(BatchOptions options) {
  RecordBatchBuilder b(options);
  AppendSample(b);
  return b.Build().value();
}

Bytes OneRecord() {
  BatchOptions o;
  o.base_offset = 5;
  o.producer_id = 1000;
  o.producer_epoch = 2;
  o.base_sequence = 7;
  RecordBatchBuilder b(o);
  RecordHeader h{"h", B("x")};
  b.Append(kTs, B("k"), B("v"), {&h, 1});
  return b.Build().value();
}

// The snappy batch again, its records re-framed the xerial way with the section split into two blocks.
Bytes XerialSnappy() {
  Bytes plain = Build({});
  ByteView records = ByteView(plain).subspan(batch_layout::kHeaderSize);
  Bytes framed = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
  size_t half = records.size() / 2;
  for (ByteView part : {records.first(half), records.subspan(half)}) {
    Bytes chunk = Compress(Compression::kSnappy, part).value();
    uint8_t len[4];
    StoreBe32(len, static_cast<uint32_t>(chunk.size()));
    framed.insert(framed.end(), len, len + 4);
    framed.insert(framed.end(), chunk.begin(), chunk.end());
  }
  Bytes batch(plain.begin(), plain.begin() + batch_layout::kHeaderSize);
  batch.insert(batch.end(), framed.begin(), framed.end());
  StoreBe32(batch.data() + batch_layout::kBatchLength,
            static_cast<uint32_t>(batch.size() - batch_layout::kLogOverhead));
  StoreBe16(batch.data() + batch_layout::kAttributes, static_cast<uint16_t>(Compression::kSnappy));
  RewriteCrc(batch);
  return batch;
}

}  // namespace
}  // namespace oncemq::protocol

int main(int argc, char** argv) {
  using namespace oncemq::protocol;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  std::vector<std::pair<std::string, oncemq::Bytes>> seeds;
  seeds.emplace_back("one_record_with_header", OneRecord());
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kSnappy, Compression::kLz4,
                        Compression::kZstd}) {
    BatchOptions o;
    o.compression = c;
    o.producer_id = 7;
    o.producer_epoch = 0;
    o.base_sequence = 0;
    seeds.emplace_back("four_records_" + std::string(CompressionName(c)), Build(o));
  }
  seeds.emplace_back("four_records_snappy_xerial", XerialSnappy());
  oncemq::Bytes two = OneRecord();
  BatchOptions second;
  second.base_offset = 6;
  second.compression = Compression::kLz4;
  oncemq::Bytes more = Build(second);
  two.insert(two.end(), more.begin(), more.end());
  seeds.emplace_back("two_batches", two);
  for (const auto& [name, bytes] : seeds) {
    if (!oncemq::fuzz::WriteSeed(argv[1], name, bytes)) {
      std::fprintf(stderr, "cannot write %s/%s\n", argv[1], name.c_str());
      return 1;
    }
  }
  return 0;
}
