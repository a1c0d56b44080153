#include "broker/groups/offset_store_file.h"

#include "common/crc32c.h"

namespace oncemq::broker::offset_log {
namespace {

constexpr size_t kStringOverhead = 4;                          // u32 length
constexpr size_t kFixedEntryBytes = 4 + 8 + 4 + 8;             // partition, offset, epoch, commit time
constexpr size_t kCommitFixedBytes = 2 + kStringOverhead + 4;  // version, kind, group length, count

uint64_t EntryBytes(const TopicPartitionKey& key, const CommittedOffset& value) {
  return kStringOverhead + key.topic.size() + kFixedEntryBytes + kStringOverhead + value.metadata.size();
}

uint64_t CommitRecordBytes(std::string_view group) {
  return kHeaderSize + kCommitFixedBytes + group.size();
}

void Put8(Bytes& out, uint8_t v) {
  out.push_back(v);
}
void Put32(Bytes& out, uint32_t v) {
  out.resize(out.size() + 4);
  StoreBe32(out.data() + out.size() - 4, v);
}
void Put64(Bytes& out, uint64_t v) {
  out.resize(out.size() + 8);
  StoreBe64(out.data() + out.size() - 8, v);
}
void PutString(Bytes& out, std::string_view s) {
  Put32(out, static_cast<uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

// Reads fields from a record body; any read past the end marks the reader failed and yields zeros.
class Reader {
 public:
  explicit Reader(ByteView body) : body_(body) {}
  bool ok() const { return ok_; }
  bool at_end() const { return at_ == body_.size(); }

  uint8_t U8() { return Take(1) ? body_[at_ - 1] : 0; }
  uint32_t U32() { return Take(4) ? LoadBe32(&body_[at_ - 4]) : 0; }
  uint64_t U64() { return Take(8) ? LoadBe64(&body_[at_ - 8]) : 0; }
  std::string String() {
    uint32_t n = U32();
    if (!Take(n)) return {};
    return std::string(AsStringView(body_.subspan(at_ - n, n)));
  }

 private:
  bool Take(size_t n) {
    if (!ok_ || body_.size() - at_ < n) {
      ok_ = false;
      return false;
    }
    at_ += n;
    return true;
  }

  ByteView body_;
  size_t at_ = 0;
  bool ok_ = true;
};

// Parses a CRC-checked body. kCorruption when it does not parse, kUnsupported for an unknown version.
Result<Mutation> ParseBody(ByteView body) {
  Reader in(body);
  uint8_t version = in.U8();
  uint8_t kind = in.U8();
  if (!in.ok()) return Status::Corruption("record body shorter than its version and kind");
  if (version != kVersion || (kind != uint8_t(Kind::kCommit) && kind != uint8_t(Kind::kDeleteGroup))) {
    return Status::Unsupported("record version " + std::to_string(version) + " kind " + std::to_string(kind) +
                               " is unknown to this build");
  }
  Mutation m;
  m.kind = Kind(kind);
  m.group = in.String();
  if (m.kind == Kind::kCommit) {
    uint32_t count = in.U32();
    // Each entry takes at least kFixedEntryBytes, so a count beyond that is damage, not a huge alloc.
    if (count > body.size() / kFixedEntryBytes) return Status::Corruption("entry count exceeds record");
    m.entries.resize(count);
    for (auto& e : m.entries) {
      e.key.topic = in.String();
      e.key.partition = static_cast<int32_t>(in.U32());
      e.value.offset = static_cast<int64_t>(in.U64());
      e.value.leader_epoch = static_cast<int32_t>(in.U32());
      e.value.commit_time_ms = static_cast<int64_t>(in.U64());
      e.value.metadata = in.String();
    }
  }
  if (!in.ok() || !in.at_end()) return Status::Corruption("record body does not parse");
  if (m.group.empty()) return Status::Corruption("record names no group");
  return m;
}

}  // namespace

void AppendRecord(const Mutation& m, Bytes& out) {
  const size_t start = out.size();
  out.resize(start + kHeaderSize);
  Put8(out, kVersion);
  Put8(out, static_cast<uint8_t>(m.kind));
  PutString(out, m.group);
  if (m.kind == Kind::kCommit) {
    Put32(out, static_cast<uint32_t>(m.entries.size()));
    for (const auto& e : m.entries) {
      PutString(out, e.key.topic);
      Put32(out, static_cast<uint32_t>(e.key.partition));
      Put64(out, static_cast<uint64_t>(e.value.offset));
      Put32(out, static_cast<uint32_t>(e.value.leader_epoch));
      Put64(out, static_cast<uint64_t>(e.value.commit_time_ms));
      PutString(out, e.value.metadata);
    }
  }
  const size_t body = start + kHeaderSize;
  StoreBe32(&out[start], static_cast<uint32_t>(out.size() - body));
  StoreBe32(&out[start + 4], crc32c::Value(&out[body], out.size() - body));
}

Result<ScanResult> Scan(ByteView file, const std::function<void(Mutation&&)>& apply) {
  ScanResult scan;
  while (scan.valid_bytes < file.size()) {
    ByteView rest = file.subspan(scan.valid_bytes);
    if (rest.size() < kHeaderSize) {
      scan.damage = "torn record header";
      break;
    }
    const uint32_t length = LoadBe32(rest.data());
    if (length > rest.size() - kHeaderSize) {
      scan.damage = "torn record: length " + std::to_string(length) + " runs past the end";
      break;
    }
    ByteView body = rest.subspan(kHeaderSize, length);
    if (crc32c::Value(body.data(), body.size()) != LoadBe32(rest.data() + 4)) {
      scan.damage = "record CRC mismatch";
      break;
    }
    auto parsed = ParseBody(body);
    if (parsed.status().code() == StatusCode::kUnsupported) {
      return Status::Unsupported("record at byte " + std::to_string(scan.valid_bytes) + ": " +
                                 parsed.status().message());
    }
    if (!parsed.ok()) {
      scan.damage = parsed.status().message();
      break;
    }
    apply(std::move(parsed).value());
    scan.valid_bytes += kHeaderSize + length;
  }
  return scan;
}

void OffsetImage::Apply(Mutation&& m) {
  auto it = groups_.find(m.group);
  if (m.kind == Kind::kDeleteGroup) {
    if (it == groups_.end()) return;
    encoded_bytes_ -= CommitRecordBytes(it->first);
    for (const auto& [key, value] : it->second) encoded_bytes_ -= EntryBytes(key, value);
    groups_.erase(it);
    return;
  }
  if (m.entries.empty()) return;  // a group exists only while it holds an offset
  if (it == groups_.end()) {
    it = groups_.emplace(std::move(m.group), GroupOffsets{}).first;
    encoded_bytes_ += CommitRecordBytes(it->first);
  }
  for (auto& e : m.entries) {
    encoded_bytes_ += EntryBytes(e.key, e.value);
    auto [slot, inserted] = it->second.try_emplace(std::move(e.key));
    if (!inserted) encoded_bytes_ -= EntryBytes(slot->first, slot->second);
    slot->second = std::move(e.value);
  }
}

const GroupOffsets* OffsetImage::Find(std::string_view group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? nullptr : &it->second;
}

Bytes OffsetImage::Encode() const {
  Bytes out;
  out.reserve(encoded_bytes_);
  for (const auto& [group, offsets] : groups_) {
    Mutation m{Kind::kCommit, group, {}};
    m.entries.reserve(offsets.size());
    for (const auto& [key, value] : offsets) m.entries.push_back({key, value});
    AppendRecord(m, out);
  }
  return out;
}

}  // namespace oncemq::broker::offset_log
