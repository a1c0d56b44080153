#include "broker/msg_id_dedup.h"

#include <algorithm>

#include "protocol/compression.h"
#include "protocol/record_batch.h"

namespace oncemq::broker {

using protocol::BatchHeader;
using protocol::Compression;
namespace layout = protocol::batch_layout;

void MsgIdScan::Clear() {
  fresh.clear();
  dropped.clear();
  first_original.reset();
  max_original = Offset(-1);
  records = 0;
  by_hash.clear();
}

namespace {

// Moves every record that repeats an id earlier in the same batch from `fresh` to `dropped`.
// Sorting (hash, position) pairs finds repeats without a per-record allocation.
void DropRepeatsWithinBatch(MsgIdScan& scan) {
  if (scan.fresh.size() < 2) return;
  for (size_t i = 0; i < scan.fresh.size(); ++i) {
    scan.by_hash.emplace_back(std::hash<std::string_view>{}(scan.fresh[i].msg_id), i);
  }
  std::sort(scan.by_hash.begin(), scan.by_hash.end());
  std::vector<bool> repeat;  // allocated only when a batch repeats an id
  for (size_t k = 1; k < scan.by_hash.size(); ++k) {
    // Equal hashes sort by position, so an id's first occurrence leads its run and is kept.
    for (size_t prev = k; prev > 0 && scan.by_hash[prev - 1].first == scan.by_hash[k].first; --prev) {
      if (scan.fresh[scan.by_hash[prev - 1].second].msg_id != scan.fresh[scan.by_hash[k].second].msg_id)
        continue;
      if (repeat.empty()) repeat.assign(scan.fresh.size(), false);
      repeat[scan.by_hash[k].second] = true;
      break;
    }
  }
  if (repeat.empty()) return;
  size_t kept = 0;
  for (size_t i = 0; i < scan.fresh.size(); ++i) {
    if (repeat[i]) {
      scan.dropped.push_back(scan.fresh[i].offset_delta);
    } else {
      scan.fresh[kept++] = scan.fresh[i];
    }
  }
  scan.fresh.resize(kept);
}

}  // namespace

Status ScanMsgIds(const BatchHeader& batch, const MsgIdWindow& window, int64_t now_ms, Bytes& scratch,
                  MsgIdScan& scan) {
  scan.Clear();
  auto records = protocol::RecordsSection(batch, scratch);
  if (!records.ok()) return records.status();
  // Pass 1 collects every id and starts loading its table slot; pass 2 probes, by then mostly cached.
  protocol::RecordIterator it(*records, batch.records_count());
  while (auto record = it.Next()) {
    ++scan.records;
    auto header = record->headers.Find(kMsgIdHeader);
    if (!header || !header->value) continue;
    std::string_view id = AsStringView(*header->value);
    window.Prefetch(id);
    scan.fresh.push_back({id, record->offset_delta});
  }
  size_t kept = 0;
  for (const MsgIdScan::Id& id : scan.fresh) {
    if (auto original = window.Find(id.msg_id, now_ms)) {
      scan.dropped.push_back(id.offset_delta);
      if (!scan.first_original) scan.first_original = *original;
      scan.max_original = std::max(scan.max_original, *original);
    } else {
      scan.fresh[kept++] = id;
    }
  }
  scan.fresh.resize(kept);
  if (!it.ok()) return it.status();
  DropRepeatsWithinBatch(scan);
  std::sort(scan.dropped.begin(), scan.dropped.end());  // RewriteWithout looks deltas up by binary search
  return Status::Ok();
}

Result<Bytes> RewriteWithout(const BatchHeader& batch, const MsgIdScan& scan, Bytes& scratch) {
  auto records = protocol::RecordsSection(batch, scratch);
  if (!records.ok()) return records.status();
  Bytes kept;
  kept.reserve(records->size());
  int32_t kept_count = 0;
  protocol::RecordIterator it(*records, batch.records_count());
  while (auto record = it.Next()) {
    if (std::binary_search(scan.dropped.begin(), scan.dropped.end(), record->offset_delta)) continue;
    kept.insert(kept.end(), record->encoded.begin(), record->encoded.end());
    ++kept_count;
  }
  if (!it.ok()) return it.status();
  if (batch.compression() != Compression::kNone && kept_count > 0) {
    auto compressed = protocol::Compress(batch.compression(), kept);
    if (!compressed.ok()) return compressed.status();
    kept = std::move(*compressed);
  }
  Bytes out(batch.bytes().begin(), batch.bytes().begin() + layout::kHeaderSize);
  out.insert(out.end(), kept.begin(), kept.end());
  StoreBe32(out.data() + layout::kBatchLength, static_cast<uint32_t>(out.size() - layout::kLogOverhead));
  StoreBe32(out.data() + layout::kRecordsCount, static_cast<uint32_t>(kept_count));
  if (kept_count == 0) {
    // No records, nothing to compress: clear the codec bits so readers do not try to inflate nothing.
    StoreBe16(out.data() + layout::kAttributes, static_cast<uint16_t>(batch.attributes() & ~0x7));
  }
  protocol::RewriteCrc(out);
  return out;
}

}  // namespace oncemq::broker
