// OffsetStore: opening and replaying the log, reads, closing. Appending and the sync thread are in
// offset_store_sync.cpp; the record format is offset_store_file.h.
#include "broker/groups/offset_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "broker/groups/offset_store_impl.h"

namespace oncemq::broker {

using offset_log::Kind;
using offset_log::Mutation;

namespace {

Result<Bytes> ReadWhole(int fd, const std::filesystem::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::Corruption("stat " + path.string() + ": " + std::strerror(errno));
  Bytes data(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Corruption("read " + path.string() + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return data;
}

}  // namespace

Status OffsetStore::Impl::Open() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::IoError("create " + dir_.string() + ": " + ec.message());
  std::filesystem::remove(dir_ / offset_log::kTempName,
                          ec);  // an unfinished rewrite; offsets.log is still whole
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return storage::ErrnoError("open", path_, errno);
  Status synced = storage::SyncDirectory(*ops_, dir_);  // a just-created file's entry must survive
  if (!synced.ok()) return synced;
  auto data = ReadWhole(fd_, path_);
  if (!data.ok()) return data.status();
  auto scan = offset_log::Scan(*data, [this](Mutation&& m) { image_.Apply(std::move(m)); });
  if (!scan.ok()) return Status(scan.status().code(), path_.string() + ": " + scan.status().message());
  if (scan->valid_bytes < data->size()) {
    bytes_dropped_on_open_ = data->size() - scan->valid_bytes;
    spdlog::warn("groups: {}: dropping {} bytes at byte {} ({}), keeping {} groups", path_.string(),
                 bytes_dropped_on_open_, scan->valid_bytes, scan->damage, image_.groups().size());
    Status cut = ops_->Truncate(fd_, scan->valid_bytes);
    if (cut.ok()) cut = ops_->SyncData(fd_);
    if (!cut.ok()) return cut;
  }
  end_ = durable_end_ = scan->valid_bytes;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void OffsetStore::Impl::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  append_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::optional<CommittedOffset> OffsetStore::Impl::Fetch(std::string_view group,
                                                        const TopicPartitionKey& key) const {
  std::lock_guard lock(state_mu_);
  const GroupOffsets* offsets = image_.Find(group);
  if (offsets == nullptr) return std::nullopt;
  auto it = offsets->find(key);
  if (it == offsets->end()) return std::nullopt;
  return it->second;
}

GroupOffsets OffsetStore::Impl::FetchGroup(std::string_view group) const {
  std::lock_guard lock(state_mu_);
  const GroupOffsets* offsets = image_.Find(group);
  return offsets == nullptr ? GroupOffsets{} : *offsets;
}

std::vector<std::string> OffsetStore::Impl::Groups() const {
  std::lock_guard lock(state_mu_);
  std::vector<std::string> groups;
  groups.reserve(image_.groups().size());
  for (const auto& [group, offsets] : image_.groups()) groups.push_back(group);
  return groups;
}

std::optional<int64_t> OffsetStore::Impl::LastCommitMs(std::string_view group) const {
  std::lock_guard lock(state_mu_);
  const GroupOffsets* offsets = image_.Find(group);
  if (offsets == nullptr || offsets->empty()) return std::nullopt;
  int64_t newest = offsets->begin()->second.commit_time_ms;
  for (const auto& [key, value] : *offsets) newest = std::max(newest, value.commit_time_ms);
  return newest;
}

Result<std::unique_ptr<OffsetStore>> OffsetStore::Open(const std::filesystem::path& dir) {
  return Open(dir, Options{});
}

Result<std::unique_ptr<OffsetStore>> OffsetStore::Open(const std::filesystem::path& dir,
                                                       std::shared_ptr<storage::FileOps> file_ops) {
  Options options;
  options.file_ops = std::move(file_ops);
  return Open(dir, std::move(options));
}

Result<std::unique_ptr<OffsetStore>> OffsetStore::Open(const std::filesystem::path& dir, Options options) {
  auto impl = std::make_unique<Impl>(dir, std::move(options));
  Status opened = impl->Open();
  if (!opened.ok()) return opened;
  return std::unique_ptr<OffsetStore>(new OffsetStore(std::move(impl)));
}

OffsetStore::OffsetStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OffsetStore::~OffsetStore() = default;  // Impl's destructor closes

void OffsetStore::Commit(std::string_view group, std::vector<OffsetCommitEntry> entries, Done done) {
  impl_->Append(Mutation{Kind::kCommit, std::string(group), std::move(entries)}, std::move(done));
}

void OffsetStore::DeleteGroup(std::string_view group, Done done) {
  impl_->Append(Mutation{Kind::kDeleteGroup, std::string(group), {}}, std::move(done));
}

std::optional<CommittedOffset> OffsetStore::Fetch(std::string_view group,
                                                  const TopicPartitionKey& key) const {
  return impl_->Fetch(group, key);
}
GroupOffsets OffsetStore::FetchGroup(std::string_view group) const {
  return impl_->FetchGroup(group);
}
std::vector<std::string> OffsetStore::Groups() const {
  return impl_->Groups();
}
std::optional<int64_t> OffsetStore::LastCommitMs(std::string_view group) const {
  return impl_->LastCommitMs(group);
}
uint64_t OffsetStore::bytes_dropped_on_open() const {
  return impl_->bytes_dropped_on_open();
}
uint64_t OffsetStore::file_bytes() const {
  return impl_->file_bytes();
}
uint64_t OffsetStore::rewrites() const {
  return impl_->rewrites();
}
void OffsetStore::Close() {
  impl_->Close();
}

}  // namespace oncemq::broker
