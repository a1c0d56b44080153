#include "support/batch_maker.h"

#include "common/crc32c.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace oncemq::testing {

namespace {

constexpr size_t kBatchLengthAt = 8;
constexpr size_t kMagicAt = 16;
constexpr size_t kCrcAt = 17;
constexpr size_t kAttributesAt = 21;
constexpr size_t kLastOffsetDeltaAt = 23;
constexpr size_t kRecordsCountAt = 57;
constexpr size_t kHeaderSize = 61;
constexpr size_t kLogOverhead = 12;

void WriteVarBytes(protocol::Writer& w, const std::optional<std::string>& s) {
  if (!s) return w.Varint(-1);
  w.Varint(static_cast<int32_t>(s->size()));
  w.Raw(AsBytes(*s));
}

Bytes EncodeRecord(const TestRecord& r, int32_t offset_delta, int64_t timestamp_delta) {
  protocol::Writer body;
  body.Int8(0);  // attributes
  body.Varlong(timestamp_delta);
  body.Varint(offset_delta);
  WriteVarBytes(body, r.key);
  WriteVarBytes(body, r.value);
  body.Varint(static_cast<int32_t>(r.headers.size()));
  for (const auto& h : r.headers) {
    WriteVarBytes(body, h.key);
    WriteVarBytes(body, h.value);
  }
  protocol::Writer out;
  out.Varint(static_cast<int32_t>(body.size()));
  out.Raw(body.bytes());
  return out.Take();
}

std::optional<std::string> ReadVarBytes(protocol::Reader& r) {
  int32_t len = r.Varint();
  if (len < 0) return std::nullopt;
  ByteView b = r.Raw(static_cast<size_t>(len));
  return std::string(AsStringView(b));
}

}  // namespace

Bytes MakeBatch(const std::vector<TestRecord>& records, const BatchOptions& o) {
  protocol::Writer w;
  w.Int64(0);   // baseOffset
  w.Int32(0);   // batchLength, patched below
  w.Int32(-1);  // partitionLeaderEpoch
  w.Int8(2);    // magic
  w.Uint32(0);  // crc, patched below
  w.Int16(o.attributes);
  w.Int32(static_cast<int32_t>(records.size()) - 1);  // lastOffsetDelta
  w.Int64(o.base_timestamp_ms);
  w.Int64(o.base_timestamp_ms + static_cast<int64_t>(records.empty() ? 0 : records.size() - 1));
  w.Int64(o.producer_id);
  w.Int16(o.producer_epoch);
  w.Int32(o.base_sequence);
  w.Int32(static_cast<int32_t>(records.size()));
  for (size_t i = 0; i < records.size(); ++i) {
    w.Raw(EncodeRecord(records[i], static_cast<int32_t>(i), static_cast<int64_t>(i)));
  }
  Bytes batch = w.Take();
  PokeInt32(batch, kBatchLengthAt, static_cast<int32_t>(batch.size() - kLogOverhead));
  RecomputeCrc(batch);
  return batch;
}

Bytes MakeSimpleBatch(int n, const std::string& prefix) {
  std::vector<TestRecord> records;
  for (int i = 0; i < n; ++i) {
    records.push_back({"k" + std::to_string(i), prefix + std::to_string(i), {}});
  }
  return MakeBatch(records);
}

void RecomputeCrc(Bytes& batch) {
  uint32_t crc = crc32c::Value(batch.data() + kAttributesAt, batch.size() - kAttributesAt);
  StoreBe32(batch.data() + kCrcAt, crc);
}

void PokeInt32(Bytes& batch, size_t at, int32_t v) {
  StoreBe32(batch.data() + at, static_cast<uint32_t>(v));
}
void PokeInt64(Bytes& batch, size_t at, int64_t v) {
  StoreBe64(batch.data() + at, static_cast<uint64_t>(v));
}

bool DecodeBatches(ByteView blob, std::vector<DecodedBatch>* out, std::string* error) {
  size_t pos = 0;
  while (blob.size() - pos >= kLogOverhead) {
    int32_t batch_length = static_cast<int32_t>(LoadBe32(blob.data() + pos + kBatchLengthAt));
    if (batch_length < static_cast<int32_t>(kHeaderSize - kLogOverhead)) {
      *error = "batch at " + std::to_string(pos) + " has batchLength " + std::to_string(batch_length);
      return false;
    }
    size_t total = static_cast<size_t>(batch_length) + kLogOverhead;
    if (blob.size() - pos < total) break;  // partial trailing batch
    ByteView b = blob.subspan(pos, total);
    DecodedBatch d;
    d.bytes.assign(b.begin(), b.end());
    if (b[kMagicAt] != 2) {
      *error = "batch at " + std::to_string(pos) + " has magic " + std::to_string(b[kMagicAt]);
      return false;
    }
    d.base_offset = static_cast<int64_t>(LoadBe64(b.data()));
    d.last_offset_delta = static_cast<int32_t>(LoadBe32(b.data() + kLastOffsetDeltaAt));
    d.crc_ok = crc32c::Value(b.data() + kAttributesAt, total - kAttributesAt) == LoadBe32(b.data() + kCrcAt);
    int16_t attributes = static_cast<int16_t>(LoadBe16(b.data() + kAttributesAt));
    int32_t count = static_cast<int32_t>(LoadBe32(b.data() + kRecordsCountAt));
    if ((attributes & 0x7) != 0) {
      *error = "compressed batch (attributes " + std::to_string(attributes) + ") not supported by the test";
      return false;
    }
    protocol::Reader r(b.subspan(kHeaderSize));
    for (int32_t i = 0; i < count && r.ok(); ++i) {
      int32_t len = r.Varint();
      size_t start = r.position();
      r.Int8();
      r.Varlong();
      d.offset_deltas.push_back(r.Varint());
      TestRecord rec;
      rec.key = ReadVarBytes(r);
      rec.value = ReadVarBytes(r);
      int32_t nh = r.Varint();
      for (int32_t h = 0; h < nh && r.ok(); ++h) {
        TestHeader th;
        th.key = ReadVarBytes(r).value_or("");
        th.value = ReadVarBytes(r);
        rec.headers.push_back(std::move(th));
      }
      if (r.ok() && r.position() - start != static_cast<size_t>(len)) r.Fail();
      d.records.push_back(std::move(rec));
    }
    if (!r.ok() || r.remaining() != 0) {
      *error = "records of batch at " + std::to_string(pos) + " do not decode";
      return false;
    }
    out->push_back(std::move(d));
    pos += total;
  }
  return true;
}

}  // namespace oncemq::testing
