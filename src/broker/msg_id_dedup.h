// Message-id dedup of one produced batch against a partition's MsgIdWindow (DESIGN.md §2, issue 3).
//
// A record whose `oncemq-msg-id` header was appended within the window — or that repeats an id earlier in
// the same batch — is a duplicate. A batch without duplicates is appended as it came. A batch with some
// is rewritten without them: the header keeps its base sequence and lastOffsetDelta, so the dropped
// records leave offset gaps (as compaction does) and an idempotent producer's sequence range stays whole;
// compressed records are re-compressed with the same codec; the CRC is recomputed. When every record is
// a duplicate, an idempotent batch still becomes a record-less batch (it carries the sequence range that
// the producer state must replay after a restart); a plain batch appends nothing.
// Records without the header pass untouched. Not thread-safe: called under the partition's append lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "broker/msg_id_window.h"
#include "common/bytes.h"
#include "common/status.h"
#include "common/types.h"
#include "protocol/batch_header.h"

namespace oncemq::broker {

inline constexpr std::string_view kMsgIdHeader = "oncemq-msg-id";

struct MsgIdScan {
  struct Id {
    std::string_view msg_id;  // views the scanned records (the batch, or `scratch` when compressed)
    MsgIdWindow::Hash hash;   // the window's HashOf(msg_id), computed once per record
    int32_t offset_delta;
  };
  std::vector<Id> fresh;                 // ids to Insert once the batch is appended
  std::vector<int32_t> dropped;          // offset deltas of duplicate records
  std::optional<Offset> first_original;  // where the first duplicate's original lives
  Offset max_original{-1};               // the newest original of any duplicate (its durability is awaited)
  // True while every record so far is a window duplicate whose original sits at first_original + its offset
  // delta — a re-send that repeats a run of originals, so that base + index names each record's original.
  bool originals_in_order = true;
  int32_t records = 0;
  bool any_duplicate() const { return !dropped.empty(); }
  // Keeps the vectors' capacity: a partition reuses one scan for every batch.
  void Clear();

  // Scratch for the in-batch check: an open-addressing set of the ids kept so far, each slot an index into
  // `fresh` plus one (0 is empty), sized to at least twice the batch's ids.
  std::vector<uint32_t> kept_set;
};

// Looks at every record of `batch`, filling `scan` (cleared first). `scratch` receives decompressed records;
// it and the batch must outlive the scan's msg_id views. Hashes each id once, and costs O(1) expected per
// record: one window look-up and one probe of a per-batch set. Allocates nothing per record once the vectors
// have grown. kCorruption when the records cannot be read.
Status ScanMsgIds(const protocol::BatchHeader& batch, const MsgIdWindow& window, int64_t now_ms,
                  Bytes& scratch, MsgIdScan& scan);

// Records scan.fresh in the window once the batch they came in is appended at `base` at now_ms, reusing the
// scan's hashes (the records themselves need not be alive any more).
// REQUIRES: scan came from ScanMsgIds against this window.
void InsertFresh(const MsgIdScan& scan, Offset base, int64_t now_ms, MsgIdWindow& window);

// The batch without the records whose offset deltas are in scan.dropped (see the header comment).
// REQUIRES: scan came from ScanMsgIds over this batch with the same scratch contents.
Result<Bytes> RewriteWithout(const protocol::BatchHeader& batch, const MsgIdScan& scan, Bytes& scratch);

}  // namespace oncemq::broker
