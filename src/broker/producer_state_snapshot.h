// Producer-state snapshots: the byte format of ProducerStateTable::Serialize and the files that hold it.
//
// Unlike Kafka (which snapshots only each producer's last batch, kafka-protocol.md §6.7), a snapshot
// holds every cached batch, so after a restart an exact re-send of any of a producer's last five batches
// is still answered with its original offset.
//
// Byte grammar, version 1 (big-endian, no padding):
//   Snapshot  := crc u32 | version i16 = 1 | producer_count i32 | Producer{producer_count}
//                crc = CRC-32C of every byte after the crc field (version included); nothing follows
//                the last Producer. Producers are ordered least recently recorded first.
//   Producer  := producer_id i64 (>= 0, unique) | epoch i16 | last_record_ms i64 (>= 0, broker
//                clock of its last Record) | batch_count i8 (1..5) | Batch{batch_count}   (19 + 16n bytes)
//   Batch     := first_seq i32 (>= 0) | base_offset i64 (>= 0) | last_offset_delta i32 (>= 0)
//                Oldest first; each base_offset is above the previous batch's last offset. The last
//                sequence is not stored: it is first_seq + last_offset_delta, wrapped past INT32_MAX.
//
// File: <partition_dir>/<covers_until as 20 zero-padded digits>.producer_snapshot, where covers_until
// is the log end offset the table reflects (the next offset after the last batch Record()ed). Written
// as <name>.tmp, fdatasync'ed, renamed into place, directory fsync'ed. The partition log ignores these
// files (it only opens *.log and *.index).
//
// Neither function is thread-safe for the same directory; the partition calls them under its lock.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "broker/producer_state.h"
#include "common/status.h"
#include "common/types.h"
#include "storage/file_ops.h"

namespace oncemq::broker {

namespace producer_snapshot_layout {
constexpr int16_t kVersion = 1;
constexpr size_t kCrc = 0;
constexpr size_t kVersionAt = 4;
constexpr size_t kProducerCount = 6;
constexpr size_t kHeaderSize = 10;
constexpr size_t kProducerHeaderSize = 19;  // id, epoch, last_record_ms, batch_count
constexpr size_t kBatchSize = 16;           // first_seq, base_offset, last_offset_delta
}  // namespace producer_snapshot_layout

// "00000000000000001234.producer_snapshot" for 1234. REQUIRES: covers_until >= 0.
std::string MakeProducerSnapshotFileName(Offset covers_until);
// The offset a snapshot file name carries, or nullopt for any other name (including the .tmp files).
std::optional<Offset> ParseProducerSnapshotFileName(std::string_view name);

// Durably writes `table` as the snapshot covering the log up to `covers_until`, then deletes every other
// snapshot (and leftover .tmp file) in `partition_dir`, so only this one remains. On error the previous
// snapshots are untouched and no temporary file is left behind; the caller may retry or carry on (a
// missing snapshot only costs a longer replay at the next start). `ops` is for fault-injection tests.
Status WriteProducerSnapshot(const std::filesystem::path& partition_dir, const ProducerStateTable& table,
                             Offset covers_until, storage::FileOps& ops = *storage::FileOps::Posix());

// Deletes every snapshot above `end` (and leftover .tmp files). Call it when the log is cut back below
// a snapshot and no new snapshot is written at once: otherwise, once the log grows past that offset
// again, the stale snapshot would look valid at the next start.
Status DeleteProducerSnapshotsAbove(const std::filesystem::path& dir, Offset end,
                                    storage::FileOps& ops = *storage::FileOps::Posix());

// The newest usable snapshot in `dir` and the offset it covers until. Snapshots above `log_end` (the log
// was cut back after they were written) are deleted; a corrupt one is deleted and the next older one
// tried; leftover .tmp files are deleted. The loaded table has RemoveBelow(log_start) applied, so a
// snapshot older than log_start is still usable. nullopt when none is usable.
// The caller then replays every batch with a producer id from max(covers_until, log_start) to log_end
// through Record() and calls ExpireIdle(now). An I/O error (other than a corrupt file) is returned
// as is, and nothing is deleted for it.
Result<std::optional<std::pair<ProducerStateTable, Offset>>> LoadNewestProducerSnapshot(
    const std::filesystem::path& dir, Offset log_start, Offset log_end, ProducerStateConfig config);

}  // namespace oncemq::broker
