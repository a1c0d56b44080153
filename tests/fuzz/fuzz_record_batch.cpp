// libFuzzer target: a byte string read as a sequence of RecordBatch v2, the way a log segment or a
// Produce request holds them. Each batch goes through header parsing, the CRC check, decompression
// (bounded) and iteration over every record and header. When a batch reads cleanly it is rebuilt with
// RecordBatchBuilder and the copy must read back to the same records with a matching CRC.
#include <algorithm>
#include <cstdlib>

#include "protocol/batch_header.h"
#include "protocol/compression.h"
#include "protocol/record_batch.h"

namespace oncemq::protocol {
namespace {

constexpr size_t kMaxDecompressed = size_t{1} << 20;
volatile size_t g_sink;  // keeps the reads of every view from being optimised away

void Check(bool condition) {
  if (!condition) std::abort();
}

bool SameBytes(std::optional<ByteView> a, std::optional<ByteView> b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || std::equal(a->begin(), a->end(), b->begin(), b->end());
}

// Reads every header of every record; returns how many records read cleanly (-1 on a failed iterator).
int32_t ReadAll(ByteView records, int32_t count) {
  RecordIterator it(records, count);
  size_t sink = 0;
  while (auto r = it.Next()) {
    sink += r->key ? r->key->size() : 0;
    sink += r->value ? r->value->size() : 0;
    for (const RecordHeader& h : r->headers) sink += h.key.size() + (h.value ? h.value->size() : 0);
    if (auto id = r->headers.Find("oncemq-msg-id")) sink += id->key.size();
  }
  g_sink = sink;
  return it.ok() ? it.records_read() : -1;
}

BatchOptions OptionsOf(const BatchHeader& h) {
  BatchOptions o;
  o.base_offset = h.base_offset();
  o.producer_id = h.producer_id();
  o.producer_epoch = h.producer_epoch();
  o.base_sequence = h.base_sequence();
  o.compression = h.compression();
  o.attribute_flags = h.attributes();
  o.base_timestamp = h.base_timestamp();
  o.max_timestamp = h.max_timestamp();
  return o;
}

// Rebuilds a batch from the records read out of `records` and checks the copy says the same.
void CheckRebuild(const BatchHeader& h, ByteView records) {
  RecordBatchBuilder builder(OptionsOf(h));
  RecordIterator it(records, h.records_count());
  while (auto r = it.Next()) builder.Append(*r, h.base_timestamp());
  Result<Bytes> rebuilt = builder.Build();
  Check(rebuilt.ok());
  Result<BatchHeader> copy = BatchHeader::Parse(rebuilt.value());
  Check(copy.ok() && copy->CrcMatches() && copy->records_count() == h.records_count());
  Bytes scratch;
  Result<ByteView> copy_records = RecordsSection(*copy, scratch, SIZE_MAX);
  Check(copy_records.ok());
  RecordIterator a(records, h.records_count());
  RecordIterator b(*copy_records, copy->records_count());
  for (auto ra = a.Next(), rb = b.Next(); ra; ra = a.Next(), rb = b.Next()) {
    Check(rb && ra->timestamp_delta == rb->timestamp_delta && SameBytes(ra->key, rb->key) &&
          SameBytes(ra->value, rb->value) && ra->headers.size() == rb->headers.size());
    for (auto ha = ra->headers.begin(), hb = rb->headers.begin(); ha != ra->headers.end(); ++ha, ++hb) {
      Check(ha->key == hb->key && SameBytes(ha->value, hb->value));
    }
  }
  Check(a.ok() && !b.Next() && b.ok());
}

void FuzzOneBatch(const BatchHeader& h) {
  (void)h.CrcMatches();  // computed over arbitrary lengths; the fuzzer rarely gets CRCs right, so go on
  Bytes scratch;
  Result<ByteView> records = RecordsSection(h, scratch, kMaxDecompressed);
  if (!records.ok()) return;
  int32_t read = ReadAll(*records, h.records_count());
  if (read > 0 && h.compression() <= Compression::kZstd) CheckRebuild(h, *records);
}

}  // namespace
}  // namespace oncemq::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oncemq::protocol;
  oncemq::ByteView rest(data, size);
  while (!rest.empty()) {
    auto header = BatchHeader::Parse(rest);
    if (!header.ok()) break;
    FuzzOneBatch(*header);
    rest = rest.subspan(header->total_size());
  }
  return 0;
}
