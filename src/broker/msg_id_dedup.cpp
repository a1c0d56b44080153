#include "broker/msg_id_dedup.h"

#include <algorithm>
#include <unordered_set>

#include "protocol/compression.h"
#include "protocol/record_batch.h"

namespace oncemq::broker {

using protocol::BatchHeader;
using protocol::Compression;
namespace layout = protocol::batch_layout;

Result<MsgIdScan> ScanMsgIds(const BatchHeader& batch, const MsgIdWindow& window, int64_t now_ms,
                             Bytes& scratch) {
  auto records = protocol::RecordsSection(batch, scratch);
  if (!records.ok()) return records.status();
  MsgIdScan scan;
  std::unordered_set<std::string_view> in_batch;
  protocol::RecordIterator it(*records, batch.records_count());
  while (auto record = it.Next()) {
    ++scan.records;
    auto header = record->headers.Find(kMsgIdHeader);
    if (!header || !header->value) continue;
    std::string_view id = AsStringView(*header->value);
    auto original = window.Find(id, now_ms);
    if (original || !in_batch.insert(id).second) {
      scan.dropped.push_back(record->offset_delta);
      if (original) {
        if (!scan.first_original) scan.first_original = *original;
        scan.max_original = std::max(scan.max_original, *original);
      }
      continue;
    }
    scan.fresh.push_back({id, record->offset_delta});
  }
  if (!it.ok()) return it.status();
  return scan;
}

Result<Bytes> RewriteWithout(const BatchHeader& batch, const MsgIdScan& scan, Bytes& scratch) {
  auto records = protocol::RecordsSection(batch, scratch);
  if (!records.ok()) return records.status();
  Bytes kept;
  kept.reserve(records->size());
  int32_t kept_count = 0;
  protocol::RecordIterator it(*records, batch.records_count());
  while (auto record = it.Next()) {
    if (std::find(scan.dropped.begin(), scan.dropped.end(), record->offset_delta) != scan.dropped.end())
      continue;
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
