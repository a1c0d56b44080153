// OffsetStore: durable committed offsets, group commit, damaged tails, failed writes and syncs, rewrites.
#include "broker/groups/offset_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "common/crc32c.h"
#include "storage/testing_file_ops.h"
#include "storage_test_util.h"

namespace oncemq::broker {
namespace {

using storage::test::ReadFile;
using storage::test::TempDir;
using storage::test::WriteFile;
using State = std::map<std::string, GroupOffsets>;

OffsetCommitEntry Entry(std::string topic, int32_t partition, int64_t offset, int64_t time_ms = 1000,
                        std::string metadata = "", int32_t epoch = 3) {
  return {{std::move(topic), partition}, {offset, epoch, std::move(metadata), time_ms}};
}

// Receives one `done`; tells whether it has been called without waiting, or waits for it.
class DoneProbe {
 public:
  OffsetStore::Done callback() {
    return [this](Status s) { promise_.set_value(std::move(s)); };
  }
  bool called() const { return future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
  Status Wait() const { return future_.get(); }

 private:
  std::promise<Status> promise_;
  std::shared_future<Status> future_ = promise_.get_future().share();
};

Status Commit(OffsetStore& store, std::string_view group, std::vector<OffsetCommitEntry> entries) {
  DoneProbe probe;
  store.Commit(group, std::move(entries), probe.callback());
  return probe.Wait();
}

Status DeleteGroup(OffsetStore& store, std::string_view group) {
  DoneProbe probe;
  store.DeleteGroup(group, probe.callback());
  return probe.Wait();
}

State Dump(const OffsetStore& store) {
  State state;
  for (const auto& group : store.Groups()) state[group] = store.FetchGroup(group);
  return state;
}

std::optional<int64_t> OffsetOf(const OffsetStore& store, std::string_view group, std::string topic,
                                int32_t partition) {
  auto committed = store.Fetch(group, {std::move(topic), partition});
  return committed ? std::optional<int64_t>(committed->offset) : std::nullopt;
}

// Forwards to a FaultInjectingFileOps; while held, every fdatasync waits until released.
class GatedFileOps final : public storage::FileOps {
 public:
  explicit GatedFileOps(std::shared_ptr<storage::testing::FaultInjectingFileOps> inner)
      : inner_(std::move(inner)) {}

  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  void WaitUntilASyncIsBlocked() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return blocked_ > 0; });
  }

  Status WriteAt(int fd, uint64_t position, ByteView data) override {
    return inner_->WriteAt(fd, position, data);
  }
  Status SyncData(int fd) override {
    {
      std::unique_lock lock(mu_);
      ++blocked_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !held_; });
      --blocked_;
    }
    return inner_->SyncData(fd);
  }
  Status SyncDirectory(int dir_fd) override { return inner_->SyncDirectory(dir_fd); }
  Status Truncate(int fd, uint64_t size) override { return inner_->Truncate(fd, size); }

 private:
  std::shared_ptr<storage::testing::FaultInjectingFileOps> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  int blocked_ = 0;
};

class OffsetStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<OffsetStore> Open(uint64_t rewrite_min_bytes = uint64_t{1} << 20) {
    OffsetStore::Options options;
    options.file_ops = gate_;
    options.rewrite_min_bytes = rewrite_min_bytes;
    auto store = OffsetStore::Open(dir_.path(), options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  std::filesystem::path LogPath() const { return dir_.path() / "offsets.log"; }
  uint64_t SizeOnDisk() const { return std::filesystem::file_size(LogPath()); }

  TempDir dir_;
  std::shared_ptr<storage::testing::FaultInjectingFileOps> faults_ =
      std::make_shared<storage::testing::FaultInjectingFileOps>();
  std::shared_ptr<GatedFileOps> gate_ = std::make_shared<GatedFileOps>(faults_);
};

TEST_F(OffsetStoreTest, CommitThenFetchReturnsTheCommittedOffsets) {
  auto store = Open();
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 0, 42, 1500, "meta", 7), Entry("t", 1, 9, 1700)}).ok());
  auto got = store->Fetch("g", {"t", 0});
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->offset, 42);
  EXPECT_EQ(got->leader_epoch, 7);
  EXPECT_EQ(got->metadata, "meta");
  EXPECT_EQ(got->commit_time_ms, 1500);
  EXPECT_EQ(OffsetOf(*store, "g", "t", 1), 9);
  EXPECT_EQ(store->Fetch("g", {"t", 2}), std::nullopt);
  EXPECT_EQ(store->Fetch("other", {"t", 0}), std::nullopt);
  EXPECT_EQ(store->FetchGroup("g").size(), 2u);
  EXPECT_TRUE(store->FetchGroup("other").empty());
  EXPECT_EQ(store->Groups(), std::vector<std::string>{"g"});
  EXPECT_EQ(store->LastCommitMs("g"), 1700);
  EXPECT_EQ(store->LastCommitMs("other"), std::nullopt);
}

TEST_F(OffsetStoreTest, LaterCommitReplacesEarlierOfTheSamePartition) {
  auto store = Open();
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 0, 10, 1000, "a"), Entry("t", 1, 11)}).ok());
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 0, 20, 2000, "b")}).ok());
  auto got = store->Fetch("g", {"t", 0});
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->offset, 20);
  EXPECT_EQ(got->metadata, "b");
  EXPECT_EQ(OffsetOf(*store, "g", "t", 1), 11);  // untouched
  EXPECT_EQ(store->LastCommitMs("g"), 2000);
}

TEST_F(OffsetStoreTest, ManyGroupsAreKeptApart) {
  auto store = Open();
  for (int i = 9; i >= 0; --i) {
    ASSERT_TRUE(Commit(*store, "group-" + std::to_string(i), {Entry("t", 0, i * 100)}).ok());
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) {
    expected.push_back("group-" + std::to_string(i));
    EXPECT_EQ(OffsetOf(*store, expected.back(), "t", 0), i * 100);
  }
  EXPECT_EQ(store->Groups(), expected);
}

TEST_F(OffsetStoreTest, DeleteGroupForgetsOnlyThatGroup) {
  auto store = Open();
  ASSERT_TRUE(Commit(*store, "a", {Entry("t", 0, 1), Entry("u", 3, 2)}).ok());
  ASSERT_TRUE(Commit(*store, "b", {Entry("t", 0, 5)}).ok());
  ASSERT_TRUE(DeleteGroup(*store, "a").ok());
  EXPECT_EQ(store->Fetch("a", {"t", 0}), std::nullopt);
  EXPECT_TRUE(store->FetchGroup("a").empty());
  EXPECT_EQ(store->LastCommitMs("a"), std::nullopt);
  EXPECT_EQ(store->Groups(), std::vector<std::string>{"b"});
  EXPECT_EQ(OffsetOf(*store, "b", "t", 0), 5);
  EXPECT_TRUE(DeleteGroup(*store, "never-seen").ok());
  ASSERT_TRUE(Commit(*store, "a", {Entry("t", 0, 7)}).ok());  // a deleted group can come back
  EXPECT_EQ(store->FetchGroup("a").size(), 1u);
}

TEST_F(OffsetStoreTest, ReopenRestoresExactlyTheDurableState) {
  State before;
  {
    auto store = Open();
    ASSERT_TRUE(Commit(*store, "a", {Entry("t", 0, 1, 10, "x", 1), Entry("t", 1, 2)}).ok());
    ASSERT_TRUE(Commit(*store, "b", {Entry("u", 0, 3, 20, std::string(300, 'm'))}).ok());
    ASSERT_TRUE(Commit(*store, "a", {Entry("t", 0, 4, 30, "y", 2)}).ok());
    ASSERT_TRUE(Commit(*store, "c", {Entry("t", 0, 5)}).ok());
    ASSERT_TRUE(DeleteGroup(*store, "c").ok());
    before = Dump(*store);
  }
  ASSERT_EQ(before.size(), 2u);
  auto reopened = Open();
  EXPECT_EQ(Dump(*reopened), before);
  EXPECT_EQ(reopened->bytes_dropped_on_open(), 0u);
  EXPECT_EQ(reopened->file_bytes(), SizeOnDisk());
}

TEST_F(OffsetStoreTest, DoneAndFetchWaitForTheSync) {
  auto store = Open();
  gate_->Hold();
  DoneProbe probe;
  store->Commit("g", {Entry("t", 0, 42)}, probe.callback());
  gate_->WaitUntilASyncIsBlocked();
  EXPECT_FALSE(probe.called());
  EXPECT_EQ(store->Fetch("g", {"t", 0}), std::nullopt);
  EXPECT_TRUE(store->Groups().empty());
  gate_->Release();
  EXPECT_TRUE(probe.Wait().ok());
  EXPECT_EQ(OffsetOf(*store, "g", "t", 0), 42);
}

TEST_F(OffsetStoreTest, ConcurrentCommitsShareOneSync) {
  auto store = Open();
  const int syncs_before = faults_->syncs();
  gate_->Hold();
  DoneProbe first;
  store->Commit("g", {Entry("t", 0, 0)}, first.callback());
  gate_->WaitUntilASyncIsBlocked();
  // While the first sync is held, 20 commits from 4 threads are written and wait for the next one.
  constexpr int kThreads = 4, kPerThread = 5;
  std::vector<DoneProbe> probes(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        store->Commit("g" + std::to_string(t), {Entry("t", i, i + 1)}, probes[t * kPerThread + i].callback());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  gate_->Release();
  EXPECT_TRUE(first.Wait().ok());
  for (const auto& probe : probes) EXPECT_TRUE(probe.Wait().ok());
  const int commits = 1 + kThreads * kPerThread;
  EXPECT_LT(faults_->syncs() - syncs_before, commits);
  EXPECT_EQ(faults_->syncs() - syncs_before, 2);  // the held one, then one for all 20
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(store->FetchGroup("g" + std::to_string(t)).size(), 5u);
}

// Writes three commits; returns the file and the length before the last record, with the state then.
struct ThreeCommits {
  Bytes file;
  uint64_t before_second = 0;
  uint64_t before_last = 0;
  State first_only;
  State first_two;
};

ThreeCommits WriteThreeCommits(const std::filesystem::path& dir) {
  ThreeCommits out;
  auto store = OffsetStore::Open(dir);
  EXPECT_TRUE(store.ok());
  EXPECT_TRUE(Commit(**store, "a", {Entry("t", 0, 1, 100, "one")}).ok());
  out.first_only = Dump(**store);
  out.before_second = (*store)->file_bytes();
  EXPECT_TRUE(Commit(**store, "b", {Entry("t", 0, 2)}).ok());
  out.first_two = Dump(**store);
  out.before_last = (*store)->file_bytes();
  EXPECT_TRUE(Commit(**store, "a", {Entry("t", 0, 3, 300, "three"), Entry("topic-two", 5, 4, 300)}).ok());
  (*store)->Close();
  out.file = ReadFile(dir / "offsets.log");
  return out;
}

TEST_F(OffsetStoreTest, TornTailAtEveryByteOfTheLastRecordIsCut) {
  TempDir source;
  const ThreeCommits written = WriteThreeCommits(source.path());
  ASSERT_GT(written.file.size(), written.before_last);
  for (uint64_t cut = written.before_last + 1; cut < written.file.size(); ++cut) {
    SCOPED_TRACE("file cut to " + std::to_string(cut) + " bytes");
    WriteFile(LogPath(), Bytes(written.file.begin(), written.file.begin() + static_cast<ptrdiff_t>(cut)));
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(Dump(*store), written.first_two);
    EXPECT_EQ(store->bytes_dropped_on_open(), cut - written.before_last);
    EXPECT_EQ(store->file_bytes(), written.before_last);
    EXPECT_EQ(SizeOnDisk(), written.before_last);
  }
}

TEST_F(OffsetStoreTest, CommitsAfterACutTailSurviveReopen) {
  TempDir source;
  const ThreeCommits written = WriteThreeCommits(source.path());
  WriteFile(LogPath(), Bytes(written.file.begin(), written.file.end() - 3));
  {
    auto store = Open();
    ASSERT_TRUE(Commit(*store, "c", {Entry("t", 0, 9)}).ok());
  }
  auto reopened = Open();
  State expected = written.first_two;
  expected["c"] = {{{"t", 0}, Entry("t", 0, 9).value}};
  EXPECT_EQ(Dump(*reopened), expected);
  EXPECT_EQ(reopened->bytes_dropped_on_open(), 0u);
}

TEST_F(OffsetStoreTest, BitFlipAnywhereInTheLastRecordCutsIt) {
  TempDir source;
  const ThreeCommits written = WriteThreeCommits(source.path());
  for (uint64_t at = written.before_last; at < written.file.size(); ++at) {
    SCOPED_TRACE("bit flipped at byte " + std::to_string(at));
    Bytes damaged = written.file;
    damaged[at] ^= static_cast<uint8_t>(1u << (at % 8));
    WriteFile(LogPath(), damaged);
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(Dump(*store), written.first_two);
    EXPECT_EQ(store->bytes_dropped_on_open(), written.file.size() - written.before_last);
    EXPECT_EQ(SizeOnDisk(), written.before_last);
  }
}

TEST_F(OffsetStoreTest, DamageInTheMiddleKeepsOnlyThePrefixBeforeIt) {
  TempDir source;
  const ThreeCommits written = WriteThreeCommits(source.path());
  Bytes damaged = written.file;
  damaged[written.before_second + 10] ^= 0x40;
  WriteFile(LogPath(), damaged);
  auto store = Open();
  EXPECT_EQ(Dump(*store), written.first_only);
  EXPECT_EQ(store->bytes_dropped_on_open(), written.file.size() - written.before_second);
}

TEST_F(OffsetStoreTest, RecordOfAnUnknownVersionRefusesToOpenAndIsKept) {
  Bytes body = {2, 1, 0, 0, 0, 1, 'g'};  // version 2
  Bytes file(8);
  StoreBe32(file.data(), static_cast<uint32_t>(body.size()));
  StoreBe32(file.data() + 4, crc32c::Value(body.data(), body.size()));
  file.insert(file.end(), body.begin(), body.end());
  WriteFile(LogPath(), file);
  auto store = OffsetStore::Open(dir_.path());
  EXPECT_EQ(store.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(ReadFile(LogPath()), file);
}

TEST_F(OffsetStoreTest, FailedWriteFailsThatCommitAndLaterCommitsSucceed) {
  auto store = Open();
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 0, 10)}).ok());
  const uint64_t before = store->file_bytes();
  faults_->FailNextWrites(1, /*partial_bytes=*/5);
  EXPECT_EQ(Commit(*store, "g", {Entry("t", 0, 20), Entry("t", 1, 21)}).code(), StatusCode::kIoError);
  EXPECT_EQ(OffsetOf(*store, "g", "t", 0), 10);
  EXPECT_EQ(store->Fetch("g", {"t", 1}), std::nullopt);
  EXPECT_EQ(store->file_bytes(), before);
  EXPECT_EQ(SizeOnDisk(), before);
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 2, 30)}).ok());
  const State after = Dump(*store);
  store.reset();
  auto reopened = Open();
  EXPECT_EQ(Dump(*reopened), after);
  EXPECT_EQ(OffsetOf(*reopened, "g", "t", 0), 10);
  EXPECT_EQ(reopened->Fetch("g", {"t", 1}), std::nullopt);
  EXPECT_EQ(reopened->bytes_dropped_on_open(), 0u);
}

TEST_F(OffsetStoreTest, FailedWriteWhoseCutFailsIsCutBeforeTheNextWrite) {
  auto store = Open();
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 0, 10)}).ok());
  const uint64_t before = store->file_bytes();
  faults_->FailNextWrites(1, /*partial_bytes=*/400);
  faults_->FailNextTruncates(1);
  EXPECT_FALSE(Commit(*store, "g", {Entry("t", 0, 20, 0, std::string(600, 'x'))}).ok());
  EXPECT_EQ(SizeOnDisk(), before + 400);  // the torn bytes are still there
  // A record shorter than the torn bytes: without the cut, their remains would follow it.
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 1, 30)}).ok());
  EXPECT_EQ(SizeOnDisk(), store->file_bytes());
  const State after = Dump(*store);
  store.reset();
  auto reopened = Open();
  EXPECT_EQ(Dump(*reopened), after);
  EXPECT_EQ(OffsetOf(*reopened, "g", "t", 0), 10);
  EXPECT_EQ(reopened->bytes_dropped_on_open(), 0u);
}

TEST_F(OffsetStoreTest, FailedSyncFailsTheCommitAndCutsTheLogBack) {
  auto store = Open();
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 0, 10)}).ok());
  const uint64_t durable = store->file_bytes();
  faults_->FailNextSyncs(1);
  EXPECT_EQ(Commit(*store, "g", {Entry("t", 0, 20), Entry("t", 1, 21)}).code(), StatusCode::kIoError);
  EXPECT_EQ(OffsetOf(*store, "g", "t", 0), 10);
  EXPECT_EQ(store->Fetch("g", {"t", 1}), std::nullopt);
  EXPECT_EQ(store->file_bytes(), durable);
  EXPECT_EQ(SizeOnDisk(), durable);
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 2, 30)}).ok());
  const State after = Dump(*store);
  store.reset();
  auto reopened = Open();
  EXPECT_EQ(Dump(*reopened), after);
  EXPECT_EQ(reopened->Fetch("g", {"t", 1}), std::nullopt);
  EXPECT_EQ(OffsetOf(*reopened, "g", "t", 2), 30);
  EXPECT_EQ(reopened->bytes_dropped_on_open(), 0u);
}

TEST_F(OffsetStoreTest, FailedSyncAlsoFailsCommitsWrittenWhileItRan) {
  auto store = Open();
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 0, 10)}).ok());
  const uint64_t durable = store->file_bytes();
  faults_->FailNextSyncs(1);
  gate_->Hold();
  DoneProbe failing, later1, later2;
  store->Commit("g", {Entry("t", 0, 20)}, failing.callback());
  gate_->WaitUntilASyncIsBlocked();
  store->Commit("h", {Entry("t", 0, 1)}, later1.callback());
  store->DeleteGroup("g", later2.callback());
  gate_->Release();
  EXPECT_EQ(failing.Wait().code(), StatusCode::kIoError);
  EXPECT_EQ(later1.Wait().code(), StatusCode::kIoError);
  EXPECT_EQ(later2.Wait().code(), StatusCode::kIoError);
  EXPECT_EQ(OffsetOf(*store, "g", "t", 0), 10);
  EXPECT_EQ(store->Groups(), std::vector<std::string>{"g"});
  EXPECT_EQ(SizeOnDisk(), durable);
  ASSERT_TRUE(Commit(*store, "h", {Entry("t", 0, 2)}).ok());
  const State after = Dump(*store);
  store.reset();
  auto reopened = Open();
  EXPECT_EQ(Dump(*reopened), after);
  EXPECT_EQ(OffsetOf(*reopened, "h", "t", 0), 2);
}

TEST_F(OffsetStoreTest, RewriteKeepsTheStateAndShrinksTheLog) {
  constexpr uint64_t kMinBytes = 4096;
  constexpr int kThreads = 4, kCommits = 150;
  auto store = Open(kMinBytes);
  ASSERT_TRUE(Commit(*store, "gone", {Entry("t", 0, 1)}).ok());
  ASSERT_TRUE(DeleteGroup(*store, "gone").ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCommits; ++i) {
        EXPECT_TRUE(Commit(*store, "g" + std::to_string(t), {Entry("t", 0, i), Entry("t", 1, i, i)}).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_GE(store->rewrites(), 1u);
  EXPECT_LE(store->file_bytes(), 2 * kMinBytes);  // never far past the threshold
  const State before = Dump(*store);
  ASSERT_EQ(before.size(), static_cast<size_t>(kThreads));
  for (const auto& [group, offsets] : before) {
    EXPECT_EQ(offsets.at({"t", 0}).offset, kCommits - 1) << group;
  }
  store.reset();
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "offsets.log.tmp"));
  auto reopened = Open(kMinBytes);
  EXPECT_EQ(Dump(*reopened), before);
  EXPECT_EQ(reopened->bytes_dropped_on_open(), 0u);
  EXPECT_EQ(reopened->file_bytes(), SizeOnDisk());
}

TEST_F(OffsetStoreTest, CloseMakesPendingCommitsDurableFirst) {
  auto store = Open();
  DoneProbe probe;
  store->Commit("g", {Entry("t", 0, 5)}, probe.callback());
  store->Close();
  ASSERT_TRUE(probe.called());
  EXPECT_TRUE(probe.Wait().ok());
  store.reset();
  auto reopened = Open();
  EXPECT_EQ(OffsetOf(*reopened, "g", "t", 0), 5);
}

TEST_F(OffsetStoreTest, CommitAfterCloseIsUnavailable) {
  auto store = Open();
  ASSERT_TRUE(Commit(*store, "g", {Entry("t", 0, 5)}).ok());
  store->Close();
  store->Close();  // idempotent
  EXPECT_EQ(Commit(*store, "g", {Entry("t", 0, 6)}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(DeleteGroup(*store, "g").code(), StatusCode::kUnavailable);
  EXPECT_EQ(OffsetOf(*store, "g", "t", 0), 5);
}

}  // namespace
}  // namespace oncemq::broker
