#include "broker/msg_id_dedup.h"

#include <algorithm>
#include <bit>

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
  originals_in_order = true;
  records = 0;
  kept_set.clear();
}

namespace {

// Empties scan.kept_set and sizes it for `ids` ids at load <= 1/2.
void ResetKeptSet(MsgIdScan& scan, size_t ids) {
  scan.kept_set.assign(std::bit_ceil(2 * ids), 0);
}

// Whether `id` repeats an id kept earlier in this batch (scan.fresh[0, kept)); if not, remembers it as
// scan.fresh[kept]. Equal ids have equal hashes, so only slots with an equal hash compare bytes.
bool RepeatsKeptId(MsgIdScan& scan, size_t kept, const MsgIdScan::Id& id) {
  const size_t mask = scan.kept_set.size() - 1;
  for (size_t i = static_cast<size_t>(id.hash.hi) & mask;; i = (i + 1) & mask) {
    uint32_t slot = scan.kept_set[i];
    if (slot == 0) {
      scan.kept_set[i] = static_cast<uint32_t>(kept + 1);
      return false;
    }
    const MsgIdScan::Id& other = scan.fresh[slot - 1];
    if (other.hash == id.hash && other.msg_id == id.msg_id) return true;
  }
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
    MsgIdWindow::Hash hash = window.HashOf(id);
    window.Prefetch(hash);
    scan.fresh.push_back({id, hash, record->offset_delta});
  }
  if (!it.ok()) return it.status();
  // A record is a duplicate if its id was appended within the window or repeats an id kept earlier in the
  // batch; the first occurrence of an id new to the window is kept.
  ResetKeptSet(scan, scan.fresh.size());
  size_t kept = 0;
  int32_t first_delta = 0;  // of the first duplicate
  for (size_t k = 0; k < scan.fresh.size(); ++k) {
    const MsgIdScan::Id id = scan.fresh[k];
    if (auto original = window.Find(id.hash, now_ms)) {
      scan.dropped.push_back(id.offset_delta);
      if (!scan.first_original) {
        scan.first_original = *original;
        first_delta = id.offset_delta;
      }
      if (original->value() - scan.first_original->value() != id.offset_delta - first_delta) {
        scan.originals_in_order = false;
      }
      scan.max_original = std::max(scan.max_original, *original);
    } else if (RepeatsKeptId(scan, kept, id)) {
      scan.dropped.push_back(id.offset_delta);
      scan.originals_in_order = false;
    } else {
      scan.fresh[kept++] = id;
      scan.originals_in_order = false;
    }
  }
  scan.fresh.resize(kept);
  std::sort(scan.dropped.begin(), scan.dropped.end());  // RewriteWithout looks deltas up by binary search
  return Status::Ok();
}

void InsertFresh(const MsgIdScan& scan, Offset base, int64_t now_ms, MsgIdWindow& window) {
  // The ids' slots were loaded by the scan but the append may have evicted them since: load them again, all
  // at once, before the inserts probe them one by one.
  for (const MsgIdScan::Id& id : scan.fresh) window.Prefetch(id.hash);
  for (const MsgIdScan::Id& id : scan.fresh) {
    window.Insert(id.hash, Offset(base.value() + id.offset_delta), now_ms);
  }
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
