// OffsetStore::Impl, shared by offset_store.cpp (opening, replay, reads, closing) and
// offset_store_sync.cpp (appending, the sync thread, cutting back after failures, rewriting).
// Internal to the store.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "broker/groups/offset_store.h"
#include "broker/groups/offset_store_file.h"
#include "storage/file_ops.h"

namespace oncemq::broker {

// Locking: mu_ guards the file and the append queue and is held across pwrite and ftruncate, never across
// the sync thread's fdatasync; state_mu_ guards the image and is taken inside mu_ or alone.
class OffsetStore::Impl {
 public:
  using Mutation = offset_log::Mutation;

  Impl(std::filesystem::path dir, Options options)
      : dir_(std::move(dir)),
        path_(dir_ / offset_log::kLogName),
        options_(std::move(options)),
        ops_(options_.file_ops ? options_.file_ops : storage::FileOps::Posix()) {}
  ~Impl() { Close(); }

  Status Open();
  void Append(Mutation m, Done done);
  void Close();

  std::optional<CommittedOffset> Fetch(std::string_view group, const TopicPartitionKey& key) const;
  GroupOffsets FetchGroup(std::string_view group) const;
  std::vector<std::string> Groups() const;
  std::optional<int64_t> LastCommitMs(std::string_view group) const;

  uint64_t bytes_dropped_on_open() const { return bytes_dropped_on_open_; }
  uint64_t file_bytes() const {
    std::lock_guard lock(mu_);
    return end_;
  }
  uint64_t rewrites() const { return rewrites_; }

 private:
  // A record appended (status Ok) or refused (its error), waiting for the sync thread to report it.
  struct Pending {
    Mutation mutation;
    Done done;
    Status status;
  };

  void Run();
  Status WriteLocked(ByteView record);
  Status PrepareForWriteLocked();
  void FailLocked(std::vector<Pending>& batch, const Status& error);
  void Acknowledge(std::vector<Pending>& batch);
  static void Report(std::vector<Pending>& batch);
  void MaybeRewriteLocked();
  void SetRewriteDueLocked(bool due);
  Status RewriteLocked(const Bytes& image);

  const std::filesystem::path dir_;
  const std::filesystem::path path_;
  const Options options_;
  const std::shared_ptr<storage::FileOps> ops_;
  uint64_t bytes_dropped_on_open_ = 0;  // set by Open()
  std::atomic<uint64_t> rewrites_{0};

  mutable std::mutex mu_;       // the file and the append queue; held across pwrite, never across fdatasync
  std::condition_variable cv_;  // wakes the sync thread
  std::condition_variable append_cv_;  // wakes appends waiting for a rewrite
  int fd_ = -1;                        // GUARDED_BY(mu_); replaced only by the sync thread
  uint64_t end_ = 0;                   // GUARDED_BY(mu_): bytes written, synced or not
  uint64_t durable_end_ = 0;           // GUARDED_BY(mu_): bytes known to be on stable storage
  bool needs_cut_ = false;             // GUARDED_BY(mu_): bytes past end_ may be garbage; ftruncate first
  bool cut_unsynced_ = false;          // GUARDED_BY(mu_): the cut after a failed fdatasync is not durable yet
  bool dir_unsynced_ = false;          // GUARDED_BY(mu_): a rename into place awaits its directory fsync
  bool closed_ = false;                // GUARDED_BY(mu_)
  bool rewrite_due_ = false;       // GUARDED_BY(mu_): appends wait so the sync thread can drain and rewrite
  uint64_t rewrite_retry_at_ = 0;  // GUARDED_BY(mu_): after a failed rewrite, the length to try again at
  std::vector<Pending> pending_;   // GUARDED_BY(mu_): in append order

  mutable std::mutex state_mu_;
  offset_log::OffsetImage image_;  // GUARDED_BY(state_mu_): durable records only

  std::mutex close_mu_;  // serialises Close()
  std::thread thread_;
};

}  // namespace oncemq::broker
