#include "broker/producer_state_snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <functional>
#include <limits>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "common/bytes.h"
#include "common/crc32c.h"

namespace oncemq::broker {
namespace {

namespace layout = producer_snapshot_layout;
constexpr size_t kDigits = 20;
constexpr std::string_view kSuffix = ".producer_snapshot";
constexpr std::string_view kTmpSuffix = ".producer_snapshot.tmp";

// Appends big-endian fields to a buffer sized up front.
class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  void U8(uint8_t v) { out_.push_back(v); }
  void I16(int16_t v) { Put(2, static_cast<uint64_t>(static_cast<uint16_t>(v))); }
  void I32(int32_t v) { Put(4, static_cast<uint64_t>(static_cast<uint32_t>(v))); }
  void I64(int64_t v) { Put(8, static_cast<uint64_t>(v)); }

 private:
  void Put(int bytes, uint64_t v) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8)
      out_.push_back(static_cast<uint8_t>(v >> shift));
  }
  Bytes& out_;
};

// Reads big-endian fields; any read past the end makes ok() false for good and returns 0.
class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}
  uint8_t U8() { return Has(1) ? in_[pos_++] : 0; }
  int16_t I16() { return Has(2) ? static_cast<int16_t>(LoadBe16(Take(2))) : 0; }
  int32_t I32() { return Has(4) ? static_cast<int32_t>(LoadBe32(Take(4))) : 0; }
  int64_t I64() { return Has(8) ? static_cast<int64_t>(LoadBe64(Take(8))) : 0; }
  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  bool Has(size_t n) { return ok_ = ok_ && remaining() >= n; }
  const uint8_t* Take(size_t n) {
    const uint8_t* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  ByteView in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

Status Corrupt(const std::string& why) {
  return Status::Corruption("producer state snapshot: " + why);
}

}  // namespace

Bytes ProducerStateTable::Serialize() const {
  Bytes out;
  out.reserve(layout::kHeaderSize +
              entries_.size() * (layout::kProducerHeaderSize + kMaxCachedBatches * layout::kBatchSize));
  Writer w(out);
  w.I32(0);  // CRC placeholder, filled in last
  w.I16(layout::kVersion);
  w.I32(static_cast<int32_t>(entries_.size()));
  for (ProducerId id : recency_) {  // least recent first, so Deserialize rebuilds the same order
    const Entry& entry = entries_.at(id);
    w.I64(id.value());
    w.I16(entry.epoch.value());
    w.I64(entry.last_record_ms);
    w.U8(entry.count);
    for (size_t i = 0; i < entry.count; ++i) {
      w.I32(entry.batches[i].first_seq.value());
      w.I64(entry.batches[i].base_offset.value());
      w.I32(entry.batches[i].last_offset_delta);
    }
  }
  StoreBe32(out.data(), crc32c::Value(out.data() + layout::kVersionAt, out.size() - layout::kVersionAt));
  return out;
}

Result<ProducerStateTable> ProducerStateTable::Deserialize(ByteView bytes, ProducerStateConfig config) {
  if (bytes.size() < layout::kHeaderSize) return Corrupt(fmt::format("{} bytes is too short", bytes.size()));
  const uint32_t crc = crc32c::Value(bytes.data() + layout::kVersionAt, bytes.size() - layout::kVersionAt);
  if (crc != LoadBe32(bytes.data() + layout::kCrc)) return Corrupt("CRC mismatch");
  Reader r(bytes.subspan(layout::kVersionAt));
  if (int16_t version = r.I16(); version != layout::kVersion) {
    return Corrupt(fmt::format("unknown version {}", version));
  }
  const int32_t producers = r.I32();
  // Checked before the loop, so a damaged count cannot make it spin: every producer needs its header.
  if (producers < 0 || r.remaining() / layout::kProducerHeaderSize < static_cast<size_t>(producers)) {
    return Corrupt(fmt::format("producer count {} does not fit {} bytes", producers, r.remaining()));
  }
  ProducerStateTable table(config);
  std::unordered_set<int64_t> seen;
  for (int32_t p = 0; p < producers; ++p) {
    const int64_t id = r.I64();
    const int16_t epoch = r.I16();
    const int64_t last_record_ms = r.I64();
    const uint8_t count = r.U8();
    if (!r.ok()) return Corrupt("truncated producer");
    // Any epoch is taken: batch validation does not refuse a negative one, and one odd batch must not
    // make the whole snapshot unreadable.
    if (id < 0 || last_record_ms < 0 || count == 0 || count > kMaxCachedBatches || !seen.insert(id).second) {
      return Corrupt(fmt::format("invalid producer {} (epoch {}, {} batches)", id, epoch, count));
    }
    int64_t previous_last_offset = -1;
    for (uint8_t b = 0; b < count; ++b) {
      const int32_t first_seq = r.I32();
      const int64_t base_offset = r.I64();
      const int32_t delta = r.I32();
      if (!r.ok()) return Corrupt("truncated batch");
      if (first_seq < 0 || delta < 0 || base_offset <= previous_last_offset ||
          base_offset > std::numeric_limits<int64_t>::max() - delta) {
        return Corrupt(fmt::format("invalid batch of producer {} at offset {}", id, base_offset));
      }
      previous_last_offset = base_offset + delta;
      // Record() rebuilds exactly what Serialize() wrote: same epoch, batches oldest first, and the
      // producers in recency order, evicting the oldest if the bound has since been lowered.
      table.Record({ProducerId(id), ProducerEpoch(epoch), Sequence(first_seq), delta}, Offset(base_offset),
                   last_record_ms);
    }
  }
  if (r.remaining() != 0) return Corrupt(fmt::format("{} bytes after the last producer", r.remaining()));
  return table;
}

std::string MakeProducerSnapshotFileName(Offset covers_until) {
  return fmt::format("{:020d}{}", covers_until.value(), kSuffix);
}

std::optional<Offset> ParseProducerSnapshotFileName(std::string_view name) {
  if (name.size() != kDigits + kSuffix.size() || name.substr(kDigits) != kSuffix) return std::nullopt;
  if (name[0] == '+' || name[0] == '-') return std::nullopt;
  int64_t offset = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + kDigits, offset);
  if (ec != std::errc() || ptr != name.data() + kDigits) return std::nullopt;
  return Offset(offset);
}

namespace {

bool IsTmpFile(std::string_view name) {
  return name.size() > kTmpSuffix.size() && name.substr(name.size() - kTmpSuffix.size()) == kTmpSuffix;
}

// Removes every snapshot for which `doomed(offset)` holds, and every leftover .tmp file, then syncs the
// directory if anything went: a stale snapshot that came back after a crash could be loaded as valid.
Status RemoveSnapshotsIf(const std::filesystem::path& dir, storage::FileOps& ops,
                         const std::function<bool(Offset)>& doomed) {
  std::error_code ec;
  std::vector<std::filesystem::path> victims;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    auto offset = ParseProducerSnapshotFileName(name);
    if ((offset && doomed(*offset)) || IsTmpFile(name)) victims.push_back(entry.path());
  }
  if (ec) return storage::ErrnoError("list", dir, ec.value());
  for (const auto& path : victims) {
    if (!std::filesystem::remove(path, ec) && ec) return storage::ErrnoError("remove", path, ec.value());
  }
  return victims.empty() ? Status::Ok() : storage::SyncDirectory(ops, dir);
}

Status WriteFile(const std::filesystem::path& path, ByteView data, storage::FileOps& ops) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return storage::ErrnoError("create", path, errno);
  Status s = ops.WriteAt(fd, 0, data);
  if (s.ok()) s = ops.SyncData(fd);
  if (::close(fd) != 0 && s.ok()) s = storage::ErrnoError("close", path, errno);
  return s;
}

Result<Bytes> ReadFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return storage::ErrnoError("open", path, errno);
  Bytes data;
  uint8_t buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = storage::ErrnoError("read", path, errno);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    data.insert(data.end(), buf, buf + n);
  }
  ::close(fd);
  return data;
}

// Snapshot offsets in `dir`, newest first.
Result<std::vector<Offset>> ListSnapshots(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<Offset> offsets;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (auto offset = ParseProducerSnapshotFileName(entry.path().filename().string()))
      offsets.push_back(*offset);
  }
  if (ec) return storage::ErrnoError("list", dir, ec.value());
  std::sort(offsets.rbegin(), offsets.rend());
  return offsets;
}

}  // namespace

Status WriteProducerSnapshot(const std::filesystem::path& partition_dir, const ProducerStateTable& table,
                             Offset covers_until, storage::FileOps& ops) {
  const std::filesystem::path final_path = partition_dir / MakeProducerSnapshotFileName(covers_until);
  const std::filesystem::path tmp_path = final_path.string() + ".tmp";
  const Bytes bytes = table.Serialize();
  if (Status s = WriteFile(tmp_path, bytes, ops); !s.ok()) {
    std::error_code ignored;
    std::filesystem::remove(tmp_path, ignored);
    return s;
  }
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    Status s = storage::ErrnoError("rename", tmp_path, errno);
    std::error_code ignored;
    std::filesystem::remove(tmp_path, ignored);
    return s;
  }
  // Others are deleted only once this one is durable, so a crash in between leaves at least one.
  if (Status s = storage::SyncDirectory(ops, partition_dir); !s.ok()) return s;
  return RemoveSnapshotsIf(partition_dir, ops, [covers_until](Offset o) { return o != covers_until; });
}

Status DeleteProducerSnapshotsAbove(const std::filesystem::path& dir, Offset end, storage::FileOps& ops) {
  return RemoveSnapshotsIf(dir, ops, [end](Offset o) { return o > end; });
}

Result<std::optional<std::pair<ProducerStateTable, Offset>>> LoadNewestProducerSnapshot(
    const std::filesystem::path& dir, Offset log_start, Offset log_end, ProducerStateConfig config) {
  storage::FileOps& ops = *storage::FileOps::Posix();
  if (Status s = DeleteProducerSnapshotsAbove(dir, log_end, ops); !s.ok()) return s;
  auto offsets = ListSnapshots(dir);
  if (!offsets.ok()) return offsets.status();
  for (Offset offset : *offsets) {
    const std::filesystem::path path = dir / MakeProducerSnapshotFileName(offset);
    auto bytes = ReadFile(path);
    if (!bytes.ok()) return bytes.status();
    auto table = ProducerStateTable::Deserialize(*bytes, config);
    if (table.ok()) {
      table->RemoveBelow(log_start);
      return std::optional<std::pair<ProducerStateTable, Offset>>(std::in_place, std::move(*table), offset);
    }
    // Corrupt: delete it so the next start does not trip over it again, and try the next older one.
    if (Status s = RemoveSnapshotsIf(dir, ops, [offset](Offset o) { return o == offset; }); !s.ok()) return s;
  }
  return std::optional<std::pair<ProducerStateTable, Offset>>();
}

}  // namespace oncemq::broker
