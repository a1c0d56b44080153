#include "protocol/record_batch.h"

#include <algorithm>
#include <climits>
#include <string>

#include "protocol/reader.h"

namespace oncemq::protocol {
namespace {

// Reads a varint length and that many bytes; -1 = null. A length below -1 fails the reader.
std::optional<ByteView> NullableVarBytes(Reader& r) {
  int32_t len = r.Varint();
  if (len == -1) return std::nullopt;
  if (len < -1) {
    r.Fail();
    return std::nullopt;
  }
  return r.Raw(static_cast<size_t>(len));
}

std::string_view VarString(Reader& r) {
  int32_t len = r.Varint();
  if (len < 0) {
    r.Fail();
    return {};
  }
  return AsStringView(r.Raw(static_cast<size_t>(len)));
}

// Validates the headers of one record; leaves `r` failed if any is malformed.
void SkipHeaders(Reader& r, int32_t count) {
  for (int32_t i = 0; i < count && r.ok(); ++i) {
    VarString(r);
    NullableVarBytes(r);
  }
}

// Decodes a record body (everything after its length prefix). Returns why it is malformed, or nullptr.
const char* DecodeBody(ByteView body, Record& rec, ByteView& headers, int32_t& header_count) {
  Reader r(body);
  rec.attributes = r.Int8();
  rec.timestamp_delta = r.Varlong();
  rec.offset_delta = r.Varint();
  rec.key = NullableVarBytes(r);
  rec.value = NullableVarBytes(r);
  header_count = r.Varint();
  if (!r.ok()) return "malformed or truncated field";
  if (header_count < 0) return "negative header count";
  size_t start = r.position();
  SkipHeaders(r, header_count);
  if (!r.ok()) return "malformed or truncated header";
  if (r.remaining() != 0) return "bytes left over inside the record";
  headers = body.subspan(start, r.position() - start);
  return nullptr;
}

// Timestamps wrap on overflow, as Kafka's Java longs do, instead of being undefined behaviour.
int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t WrappingSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

size_t VarintSize(int64_t v) {
  size_t n = 1;
  for (uint64_t u = ZigZag(v); u >= 0x80; u >>= 7) ++n;
  return n;
}

size_t FieldSize(std::optional<ByteView> b) {
  return b ? VarintSize(static_cast<int64_t>(b->size())) + b->size() : VarintSize(-1);
}

void WriteField(Writer& w, std::optional<ByteView> b) {
  if (!b) return w.Varint(-1);
  w.Varint(static_cast<int32_t>(b->size()));
  w.Raw(*b);
}

}  // namespace

// ---- Headers ----

Headers::Iterator::Iterator(ByteView rest, int32_t left) : rest_(rest), left_(left) {
  if (left_ > 0) Decode();
}

Headers::Iterator& Headers::Iterator::operator++() {
  if (--left_ > 0) Decode();
  return *this;
}

void Headers::Iterator::Decode() {
  Reader r(rest_);  // validated by RecordIterator: cannot fail
  current_.key = VarString(r);
  current_.value = NullableVarBytes(r);
  rest_ = rest_.subspan(r.position());
}

std::optional<RecordHeader> Headers::Find(std::string_view key) const {
  for (const RecordHeader& h : *this) {
    if (h.key == key) return h;
  }
  return std::nullopt;
}

// ---- RecordIterator ----

RecordIterator::RecordIterator(ByteView records, int32_t records_count)
    : rest_(records), expected_(records_count) {
  if (records_count < 0) Fail("negative record count " + std::to_string(records_count));
}

RecordIterator::RecordIterator(const BatchHeader& batch)
    : RecordIterator(batch.bytes().subspan(batch_layout::kHeaderSize), batch.records_count()) {
  if (batch.compression() != Compression::kNone && !done_) {
    status_ = Status::InvalidArgument("batch is compressed; iterate over RecordsSection() instead");
    done_ = true;
  }
}

std::optional<Record> RecordIterator::Fail(std::string message) {
  if (!done_) status_ = Status::Corruption(std::move(message));
  done_ = true;
  return std::nullopt;
}

void RecordIterator::CheckEnd() {
  if (!rest_.empty()) {
    Fail(std::to_string(rest_.size()) + " bytes left after the last of " + std::to_string(expected_) +
         " records");
  }
  done_ = true;
}

std::optional<Record> RecordIterator::Next() {
  if (done_) return std::nullopt;
  if (read_ == expected_) {
    CheckEnd();
    return std::nullopt;
  }
  if (rest_.empty()) {
    return Fail("batch says " + std::to_string(expected_) + " records, found " + std::to_string(read_));
  }
  Reader r(rest_);
  int32_t length = r.Varint();
  if (!r.ok() || length < 0 || static_cast<size_t>(length) > r.remaining()) {
    return Fail("record " + std::to_string(read_) + ": bad length");
  }
  size_t prefix = r.position();
  Record rec;
  ByteView headers;
  int32_t header_count = 0;
  if (const char* why =
          DecodeBody(rest_.subspan(prefix, static_cast<size_t>(length)), rec, headers, header_count)) {
    return Fail("record " + std::to_string(read_) + ": " + why);
  }
  rec.headers = Headers(headers, header_count);
  rec.encoded = rest_.first(prefix + static_cast<size_t>(length));
  rest_ = rest_.subspan(rec.encoded.size());
  ++read_;
  return rec;
}

// ---- RecordsSection ----

Result<ByteView> RecordsSection(const BatchHeader& batch, Bytes& scratch, size_t max_decompressed) {
  ByteView raw = batch.bytes().subspan(batch_layout::kHeaderSize);
  Compression codec = batch.compression();
  if (codec == Compression::kNone) return raw;
  if (static_cast<int>(codec) > static_cast<int>(Compression::kZstd)) {
    return Status::Corruption("unknown compression codec " + std::to_string(static_cast<int>(codec)));
  }
  Status s = DecompressInto(codec, raw, scratch, max_decompressed);
  if (!s.ok()) return s;
  return ByteView(scratch);
}

// ---- RecordBatchBuilder ----

RecordBatchBuilder::RecordBatchBuilder(BatchOptions options) : options_(options) {}

template <typename HeaderRange>
void RecordBatchBuilder::AppendRecord(int64_t timestamp, std::optional<ByteView> key,
                                      std::optional<ByteView> value, const HeaderRange& headers) {
  if (count_ == 0) {
    base_timestamp_ = options_.base_timestamp.value_or(timestamp);
    max_timestamp_ = timestamp;
  }
  max_timestamp_ = std::max(max_timestamp_, timestamp);
  int64_t timestamp_delta = WrappingSub(timestamp, base_timestamp_);
  int32_t header_count = 0;
  size_t headers_size = 0;
  for (const RecordHeader& h : headers) {
    ++header_count;
    headers_size += FieldSize(AsBytes(h.key)) + FieldSize(h.value);
  }
  size_t body = 1 + VarintSize(timestamp_delta) + VarintSize(count_) + FieldSize(key) + FieldSize(value) +
                VarintSize(header_count) + headers_size;
  records_.Varint(static_cast<int32_t>(body));
  records_.Int8(0);  // record attributes: unused
  records_.Varlong(timestamp_delta);
  records_.Varint(count_);
  WriteField(records_, key);
  WriteField(records_, value);
  records_.Varint(header_count);
  for (const RecordHeader& h : headers) {
    WriteField(records_, AsBytes(h.key));
    WriteField(records_, h.value);
  }
  ++count_;
}

void RecordBatchBuilder::Append(int64_t timestamp, std::optional<ByteView> key, std::optional<ByteView> value,
                                std::span<const RecordHeader> headers) {
  AppendRecord(timestamp, key, value, headers);
}

void RecordBatchBuilder::Append(const Record& record, int64_t source_base_timestamp) {
  AppendRecord(WrappingAdd(source_base_timestamp, record.timestamp_delta), record.key, record.value,
               record.headers);
}

Result<Bytes> RecordBatchBuilder::Build() const {
  using namespace batch_layout;
  if (count_ == 0) return Status::InvalidArgument("a record batch needs at least one record");
  ByteView body = records_.bytes();
  Bytes compressed;
  if (options_.compression != Compression::kNone) {
    Result<Bytes> c = Compress(options_.compression, body);
    if (!c.ok()) return c.status();
    compressed = std::move(c).value();
    body = compressed;
  }
  if (body.size() > static_cast<size_t>(INT32_MAX) - (kHeaderSize - kLogOverhead)) {
    return Status::InvalidArgument("record batch larger than 2 GiB");
  }
  Bytes buffer;
  buffer.reserve(kHeaderSize + body.size());
  Writer w(std::move(buffer));
  w.Int64(options_.base_offset);
  w.Int32(static_cast<int32_t>(kHeaderSize - kLogOverhead + body.size()));
  w.Int32(options_.partition_leader_epoch);
  w.Int8(2);    // magic
  w.Uint32(0);  // CRC, written last
  w.Int16(static_cast<int16_t>((options_.attribute_flags & ~0x7) | static_cast<int>(options_.compression)));
  w.Int32(count_ - 1);
  w.Int64(base_timestamp_);
  w.Int64(options_.max_timestamp.value_or(max_timestamp_));
  w.Int64(options_.producer_id);
  w.Int16(options_.producer_epoch);
  w.Int32(options_.base_sequence);
  w.Int32(count_);
  w.Raw(body);
  Bytes batch = w.Take();
  RewriteCrc(batch);
  return batch;
}

}  // namespace oncemq::protocol
