// OffsetStore: the consumer groups' committed offsets, durable before a commit is acknowledged
// (DESIGN.md §1, kafka-protocol.md §7.6).
//
// Guarantees. Commit() and DeleteGroup() append a CRC-framed record to <dir>/offsets.log; a sync thread
// fdatasyncs everything appended so far at once (group commit, as the partition flusher does) and only
// then applies the records to the in-memory state and calls each `done` with Ok, in append order. So every
// read (Fetch, FetchGroup, Groups) sees durable state only, and a commit acknowledged after `done` survives
// SIGKILL and power loss. If a write or fdatasync fails, `done` gets the error, nothing of the failed records
// is applied, the file is cut back to its last durable length, and later commits are tried afresh (a full
// disk heals when space returns). Open() replays the log, cutting a torn or corrupt tail (logged, counted
// in bytes_dropped_on_open()). The log is rewritten to just the live state (temp file, fsync, rename, fsync
// of the directory) once it grows past a few times the live size, so it stays small however many commits
// it has seen.
//
// Thread safety: every method may be called from any thread. `done` runs on the sync thread (or, once the
// store is closed, inline with kUnavailable), must not block and must not call back into the store.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace oncemq::storage {
class FileOps;
}

namespace oncemq::broker {

struct CommittedOffset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_time_ms = 0;  // broker wall clock at commit
  bool operator==(const CommittedOffset&) const = default;
};

struct TopicPartitionKey {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartitionKey&) const = default;
};

using GroupOffsets = std::map<TopicPartitionKey, CommittedOffset>;

struct OffsetCommitEntry {
  TopicPartitionKey key;
  CommittedOffset value;
};

class OffsetStore {
 public:
  using Done = std::function<void(Status)>;

  // Opens (creating when missing) the store in `dir` and replays it. kCorruption only when the file cannot
  // be read at all; a damaged tail is cut, not an error. kUnsupported, leaving the file alone, when it holds
  // an intact record of a format version this build does not know (written by a newer broker).
  static Result<std::unique_ptr<OffsetStore>> Open(const std::filesystem::path& dir);
  // The same with every write, fdatasync and ftruncate going through `file_ops` (fault injection in tests).
  static Result<std::unique_ptr<OffsetStore>> Open(const std::filesystem::path& dir,
                                                   std::shared_ptr<storage::FileOps> file_ops);

  struct Options {
    std::shared_ptr<storage::FileOps> file_ops;  // nullptr: POSIX
    // The log is rewritten once it is longer than max(rewrite_min_bytes, 4 × the live state's size).
    uint64_t rewrite_min_bytes = uint64_t{1} << 20;
  };
  static Result<std::unique_ptr<OffsetStore>> Open(const std::filesystem::path& dir, Options options);

  ~OffsetStore();  // Close()s

  OffsetStore(const OffsetStore&) = delete;
  OffsetStore& operator=(const OffsetStore&) = delete;

  // Records these offsets for `group` (replacing earlier ones of the same partitions); `done` once durable.
  // REQUIRES: group is not empty.
  void Commit(std::string_view group, std::vector<OffsetCommitEntry> entries, Done done);
  // Forgets every offset of `group`; `done` once durable. Deleting an unknown group is Ok.
  void DeleteGroup(std::string_view group, Done done);

  std::optional<CommittedOffset> Fetch(std::string_view group, const TopicPartitionKey& key) const;
  GroupOffsets FetchGroup(std::string_view group) const;  // empty when the group has none
  std::vector<std::string> Groups() const;                // groups holding at least one offset, sorted
  // The newest commit_time_ms among the group's offsets, or nullopt when it holds none.
  std::optional<int64_t> LastCommitMs(std::string_view group) const;

  uint64_t bytes_dropped_on_open() const;
  uint64_t file_bytes() const;  // the log's current length
  uint64_t rewrites() const;    // how many times the log was rewritten to its live state

  // Makes everything appended durable (calling the pending `done`s) and stops the sync thread. Later
  // Commit/DeleteGroup calls get kUnavailable in `done`. Idempotent.
  void Close();

 private:
  class Impl;
  explicit OffsetStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace oncemq::broker
