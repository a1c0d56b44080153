// OffsetStore: appending under a mutex, group commit on the sync thread, cutting back after a failed
// write or fdatasync, and rewriting the log to its live state.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

#include <spdlog/spdlog.h>

#include "broker/groups/offset_store_impl.h"

namespace oncemq::broker {

void OffsetStore::Impl::Append(Mutation m, Done done) {
  Bytes record;
  offset_log::AppendRecord(m, record);
  std::unique_lock lock(mu_);
  append_cv_.wait(lock, [this] { return !rewrite_due_ || closed_; });
  if (closed_) {
    lock.unlock();
    done(Status::Unavailable("offset store " + dir_.string() + " is closed"));
    return;
  }
  Status written = m.group.empty() ? Status::InvalidArgument("empty group id") : PrepareForWriteLocked();
  if (written.ok()) written = WriteLocked(record);
  pending_.push_back({std::move(m), std::move(done), std::move(written)});
  lock.unlock();
  cv_.notify_one();
}

Status OffsetStore::Impl::WriteLocked(ByteView record) {
  Status written = ops_->WriteAt(fd_, end_, record);
  if (written.ok()) {
    end_ += record.size();
    return written;
  }
  std::string what = path_.string() + ": " + written.message();
  // A torn record at end_ would only be cut on the next open, but a later, shorter record written over
  // its start would make its remains look like records: cut it now or before the next write.
  Status cut = ops_->Truncate(fd_, end_);
  if (!cut.ok()) {
    needs_cut_ = true;
    what += "; cutting back failed: " + cut.message();
  }
  spdlog::error("groups: commit not written: {}", what);
  return Status(written.code(), what);
}

Status OffsetStore::Impl::PrepareForWriteLocked() {
  if (needs_cut_) {
    Status cut = ops_->Truncate(fd_, end_);
    if (!cut.ok())
      return Status::IoError(path_.string() + ": cannot cut back a failed write: " + cut.message());
    needs_cut_ = false;
  }
  if (cut_unsynced_) {
    Status synced = ops_->SyncData(fd_);
    if (!synced.ok()) return Status::IoError(path_.string() + ": cannot sync the cut: " + synced.message());
    cut_unsynced_ = false;
  }
  return Status::Ok();
}

void OffsetStore::Impl::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return closed_ || !pending_.empty(); });
    if (pending_.empty()) return;  // closed and drained
    std::vector<Pending> batch = std::exchange(pending_, {});
    const uint64_t target = end_;
    const bool sync_file = target > durable_end_;
    const bool sync_dir = dir_unsynced_;
    const int fd = fd_;  // only this thread replaces it
    lock.unlock();
    // Group commit: this one fdatasync covers every record written before `target` was read.
    Status synced = sync_file ? ops_->SyncData(fd) : Status::Ok();
    if (synced.ok() && sync_dir) synced = storage::SyncDirectory(*ops_, dir_);
    lock.lock();
    if (!synced.ok()) {
      FailLocked(batch, synced);
      lock.unlock();
      Report(batch);
      lock.lock();
      continue;
    }
    durable_end_ = target;
    if (sync_dir) dir_unsynced_ = false;
    lock.unlock();
    Acknowledge(batch);
    lock.lock();
    MaybeRewriteLocked();
  }
}

void OffsetStore::Impl::FailLocked(std::vector<Pending>& batch, const Status& error) {
  // After a failed fdatasync the kernel may have dropped dirty pages without saying so again: nothing past
  // durable_end_ can be trusted, including records written while the sync ran. Cut them all off.
  const size_t undurable = batch.size() + pending_.size();
  std::move(pending_.begin(), pending_.end(), std::back_inserter(batch));
  pending_.clear();
  SetRewriteDueLocked(false);
  end_ = durable_end_;
  needs_cut_ = cut_unsynced_ = true;
  Status healed = PrepareForWriteLocked();
  spdlog::error("groups: {}: sync failed, {} records not durable, log cut back to byte {}: {}{}",
                path_.string(), undurable, durable_end_, error.message(),
                healed.ok() ? "" : "; cut failed, retried before the next write: " + healed.message());
  for (auto& p : batch) {
    if (p.status.ok()) p.status = Status(error.code(), path_.string() + ": " + error.message());
  }
}

void OffsetStore::Impl::Acknowledge(std::vector<Pending>& batch) {
  {
    std::lock_guard lock(state_mu_);
    for (auto& p : batch) {
      if (p.status.ok()) image_.Apply(std::move(p.mutation));
    }
  }
  Report(batch);
}

void OffsetStore::Impl::Report(std::vector<Pending>& batch) {
  for (auto& p : batch) p.done(std::move(p.status));
}

void OffsetStore::Impl::SetRewriteDueLocked(bool due) {
  rewrite_due_ = due;
  if (!due) append_cv_.notify_all();
}

void OffsetStore::Impl::MaybeRewriteLocked() {
  uint64_t live = 0;
  {
    std::lock_guard lock(state_mu_);
    live = image_.encoded_bytes();
  }
  const bool due = end_ > std::max({options_.rewrite_min_bytes, 4 * live, rewrite_retry_at_});
  if (!due || needs_cut_ || cut_unsynced_ || dir_unsynced_) return SetRewriteDueLocked(false);
  // The image must be exactly the old file's content: every byte durable and applied. Under steady load
  // records keep arriving during each sync, so stop appends until the next sync has drained them.
  if (!pending_.empty() || end_ != durable_end_) return SetRewriteDueLocked(true);
  SetRewriteDueLocked(false);
  Bytes image;
  {
    std::lock_guard lock(state_mu_);
    image = image_.Encode();
  }
  const uint64_t before = end_;
  Status rewritten = RewriteLocked(image);
  if (!rewritten.ok()) {
    rewrite_retry_at_ = end_ + options_.rewrite_min_bytes;  // not after every sync while the disk is full
    spdlog::warn("groups: {}: rewrite failed, keeping the {}-byte log: {}", path_.string(), before,
                 rewritten.message());
    return;
  }
  rewrite_retry_at_ = 0;
  spdlog::info("groups: {}: rewrote the log to its live state, {} -> {} bytes", path_.string(), before, end_);
}

Status OffsetStore::Impl::RewriteLocked(const Bytes& image) {
  const std::filesystem::path temp = dir_ / offset_log::kTempName;
  int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return storage::ErrnoError("open", temp, errno);
  Status s = ops_->WriteAt(fd, 0, image);
  if (s.ok()) s = ops_->SyncData(fd);
  if (s.ok() && ::rename(temp.c_str(), path_.c_str()) != 0) s = storage::ErrnoError("rename", temp, errno);
  if (!s.ok()) {
    ::close(fd);
    std::error_code ec;
    std::filesystem::remove(temp, ec);
    return s;
  }
  ::close(fd_);
  fd_ = fd;
  end_ = durable_end_ = image.size();
  ++rewrites_;
  Status dir = storage::SyncDirectory(*ops_, dir_);
  if (!dir.ok()) {
    // Until the rename is durable a crash may bring back the old file, which holds the same state; the
    // next sync retries the directory fsync before acknowledging anything written to the new one.
    dir_unsynced_ = true;
    spdlog::warn("groups: {}: directory fsync after rewrite failed: {}", dir_.string(), dir.message());
  }
  return Status::Ok();
}

}  // namespace oncemq::broker
