// A full disk against the real broker: the Produce that does not fit answers KAFKA_STORAGE_ERROR (56),
// the broker keeps serving every other request, nothing acknowledged is corrupted or dropped, writes
// work again once space is freed (at the next offset), and a SIGKILL + restart keeps everything
// acknowledged. docs/architecture.md "Failure handling", storage/partition_log.h.
//
// The broker's --data-dir is a small tmpfs mounted by the test (root or CAP_SYS_ADMIN needed; skipped
// otherwise). A ballast file written into it before the broker starts is deleted to free space.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/batch_maker.h"
#include "support/broker_process.h"
#include "support/kafka_wire.h"
#include "support/raw_client.h"

namespace oncemq::testing {
namespace {

constexpr size_t kDiskBytes = 6u << 20;     // the tmpfs
constexpr size_t kBallastBytes = 1u << 20;  // written before the broker starts, deleted to free space
constexpr int kSegmentBytes = 256 << 10;    // ~16 batches per segment: many rolls before the disk fills
constexpr int kRecordsPerBatch = 4;
constexpr int16_t kKafkaStorageError = 56;
constexpr int16_t kNoResponse = -999;  // sentinel error code: the call itself failed
const std::string kTopicA = "full-a";
const std::string kTopicB = "full-b";

using Clock = std::chrono::steady_clock;

// A tmpfs of a fixed size mounted on a directory; unmounted (lazily if still busy) on destruction.
class TmpfsMount {
 public:
  TmpfsMount() = default;
  ~TmpfsMount() { Unmount(); }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  // Creates `dir` if needed and mounts the tmpfs there. Returns "" or why it could not.
  std::string Mount(const std::string& dir, size_t bytes) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return "mkdir " + dir + ": " + std::strerror(errno);
    }
    std::string options = "size=" + std::to_string(bytes / 1024) + "k,mode=0755";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      int err = errno;
      return "mount -t tmpfs -o " + options + " tmpfs " + dir + " failed: " + std::strerror(err) + " (euid " +
             std::to_string(::geteuid()) + "; needs root or CAP_SYS_ADMIN)";
    }
    dir_ = dir;
    return "";
  }

  // Idempotent. Call after the broker is gone; a still-busy mount is detached lazily.
  void Unmount() {
    if (dir_.empty()) return;
    if (::umount2(dir_.c_str(), 0) != 0) {
      int err = errno;
      if (::umount2(dir_.c_str(), MNT_DETACH) != 0) {
        std::fprintf(stderr, "TmpfsMount: cannot unmount %s: %s / %s\n", dir_.c_str(), std::strerror(err),
                     std::strerror(errno));
      }
    }
    dir_.clear();
  }

 private:
  std::string dir_;
};

struct Acked {
  int64_t offset = 0;
  Bytes batch;  // the bytes produced
};

// A batch of kRecordsPerBatch values of `value_bytes` each that depend on `n`, so a batch served at the
// wrong offset is caught.
Bytes NumberedBatch(int n, size_t value_bytes) {
  std::vector<TestRecord> records;
  for (int r = 0; r < kRecordsPerBatch; ++r) {
    std::string value(value_bytes, '\0');
    uint32_t x = static_cast<uint32_t>(n) * 2654435761u + static_cast<uint32_t>(r) * 40503u + 1u;
    for (char& c : value) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      c = static_cast<char>('a' + x % 26);
    }
    records.push_back({"b" + std::to_string(n) + "-r" + std::to_string(r), value, {}});
  }
  return MakeBatch(records);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The parameter is the record value size: ~16 KiB batches (16 per segment, the disk fills mid-segment)
// and ~120 KiB batches (2 per segment, so the refused batch is often the first of a fresh segment).
class FullDiskTest : public ::testing::TestWithParam<size_t> {
 protected:
  size_t value_bytes() const { return GetParam(); }
  Bytes Batch(int n) const { return NumberedBatch(n, value_bytes()); }
  // Upper bound on produces before the disk must have filled: the whole disk in batches, plus slack.
  int max_produces() const { return static_cast<int>(kDiskBytes / (kRecordsPerBatch * value_bytes())) + 64; }

  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(std::vector<std::string>{
        "--segment-bytes", std::to_string(kSegmentBytes), "--flush", "always", "--partitions", "1"});
    std::string why = disk_.Mount(broker_->data_dir(), kDiskBytes);
    if (!why.empty()) GTEST_SKIP() << why;
    ballast_path_ = broker_->data_dir() + "/ballast";
    ASSERT_NO_FATAL_FAILURE(WriteBallast());
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
  }

  void TearDown() override {
    if (broker_ && HasFailure()) {
      std::fprintf(stderr, "--- broker log tail (%s) ---\n%s\n", broker_->log_path().c_str(),
                   broker_->LogTail(8000).c_str());
    }
    // The broker holds files on the tmpfs: it goes first, then the mount, then the work dir.
    if (broker_) broker_->Kill();
    disk_.Unmount();
    broker_.reset();
  }

  void WriteBallast() {
    int fd = ::open(ballast_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << "open " << ballast_path_ << ": " << std::strerror(errno);
    std::string chunk(64 << 10, 'B');
    size_t written = 0;
    while (written < kBallastBytes) {
      ssize_t n = ::write(fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    int err = errno;
    ::close(fd);
    ASSERT_EQ(written, kBallastBytes) << "writing the ballast: " << std::strerror(err);
  }

  std::unique_ptr<RawConnection> Connect() {
    std::string error;
    auto conn = RawConnection::Connect(broker_->host(), broker_->port(), &error);
    EXPECT_NE(conn, nullptr) << error;
    return conn;
  }

  void CreateTopic(RawConnection& conn, const std::string& topic) {
    CallResult r = Call(conn, api::kMetadata, 4, MetadataV4Body(std::vector<std::string>{topic}, true));
    ASSERT_EQ(r.outcome, ReadOutcome::kFrame) << r.Describe();
    MetadataResponse md;
    ASSERT_TRUE(ParseMetadataV4(r.body, &md)) << "Metadata v4 response does not parse";
    const auto* t = md.Find(topic);
    ASSERT_NE(t, nullptr) << "auto-created topic missing from Metadata";
    ASSERT_EQ(t->error_code, kerr::kNone);
    ASSERT_EQ(t->partitions.size(), 1u);
  }

  // One partition's Produce v7 answer (error kNoResponse if none came).
  ProducePartitionResponse Produce(RawConnection& conn, const std::string& topic, const Bytes& batch) {
    CallResult r = Call(conn, api::kProduce, 7, ProduceV7Body(-1, 10000, {{topic, 0, batch}}));
    ProducePartitionResponse none;
    none.error_code = kNoResponse;
    if (r.outcome != ReadOutcome::kFrame) {
      ADD_FAILURE() << "Produce v7 to " << topic << ": " << r.Describe();
      return none;
    }
    std::vector<ProducePartitionResponse> parts;
    if (!ParseProduceV7(r.body, &parts) || parts.size() != 1 || parts[0].topic != topic ||
        parts[0].partition != 0) {
      ADD_FAILURE() << "Produce v7 response does not parse or is not for " << topic << "/0";
      return none;
    }
    return parts[0];
  }

  FetchPartitionResponse Fetch(RawConnection& conn, const std::string& topic, int64_t offset,
                               int32_t max_bytes) {
    CallResult r = Call(conn, api::kFetch, 11, FetchV11Body(topic, 0, offset, 0, 0, max_bytes));
    FetchPartitionResponse none;
    none.error_code = kNoResponse;
    if (r.outcome != ReadOutcome::kFrame) {
      ADD_FAILURE() << "Fetch v11 " << topic << "@" << offset << ": " << r.Describe();
      return none;
    }
    FetchResponse fr;
    if (!ParseFetchV11(r.body, &fr) || fr.partitions.size() != 1) {
      ADD_FAILURE() << "Fetch v11 response does not parse or has not exactly one partition";
      return none;
    }
    return fr.partitions[0];
  }

  // Every acknowledged batch is served at its offset with the bytes produced (only baseOffset and
  // partitionLeaderEpoch may differ), and nothing unacknowledged is visible: high watermark = end.
  void ExpectAllAcked(const std::string& when) {
    SCOPED_TRACE(when);
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    int64_t end = acked_.empty() ? 0 : acked_.back().offset + kRecordsPerBatch;
    int bad = 0;
    for (const Acked& a : acked_) {
      // max_bytes 1: the first batch is returned whole and alone.
      FetchPartitionResponse f = Fetch(*conn, kTopicA, a.offset, 1);
      ASSERT_NE(f.error_code, kNoResponse);
      std::string what = "acknowledged batch at offset " + std::to_string(a.offset);
      if (f.error_code != kerr::kNone) {
        ADD_FAILURE() << what << ": Fetch error " << f.error_code;
        if (++bad > 5) break;
        continue;
      }
      EXPECT_EQ(f.high_watermark, end) << what;
      std::vector<DecodedBatch> batches;
      std::string error;
      ASSERT_TRUE(DecodeBatches(f.records, &batches, &error)) << what << ": " << error;
      if (batches.empty()) {
        ADD_FAILURE() << what << ": Fetch returned no batch";
        if (++bad > 5) break;
        continue;
      }
      const DecodedBatch& b = batches[0];
      bool same = b.base_offset == a.offset && b.crc_ok && b.bytes.size() == a.batch.size() &&
                  std::equal(a.batch.begin() + 8, a.batch.begin() + 12, b.bytes.begin() + 8) &&
                  std::equal(a.batch.begin() + 16, a.batch.end(), b.bytes.begin() + 16);
      if (!same) {
        ADD_FAILURE() << what << ": served batch differs (base " << b.base_offset << ", crc_ok " << b.crc_ok
                      << ", " << b.bytes.size() << " bytes, produced " << a.batch.size() << ")";
        if (++bad > 5) break;
      }
    }
    EXPECT_EQ(bad, 0) << "acknowledged data lost or corrupted (" << acked_.size() << " acknowledged batches)";
    FetchPartitionResponse tail = Fetch(*conn, kTopicA, end, 1 << 20);
    EXPECT_EQ(tail.error_code, kerr::kNone) << "Fetch at the end of the acknowledged log";
    EXPECT_EQ(tail.high_watermark, end) << "an unacknowledged batch is visible past the last acknowledged";
  }

  // Produces to A until it succeeds or `deadline`; every failure must be KAFKA_STORAGE_ERROR. The
  // successful batch must get the next offset. Returns true when it was acknowledged.
  bool ProduceUntilAcked(RawConnection& conn, int n, Clock::time_point deadline, int* attempts) {
    Bytes batch = Batch(n);
    int64_t next = acked_.empty() ? 0 : acked_.back().offset + kRecordsPerBatch;
    for (*attempts = 1;; ++*attempts) {
      ProducePartitionResponse r = Produce(conn, kTopicA, batch);
      if (r.error_code == kerr::kNone) {
        EXPECT_EQ(r.base_offset, next) << "the batch after the full disk must get the next offset";
        acked_.push_back({r.base_offset, batch});
        return true;
      }
      if (r.error_code != kKafkaStorageError) {
        ADD_FAILURE() << "while space is being freed Produce must answer 0 or KAFKA_STORAGE_ERROR (56); got "
                      << r.error_code;
        return false;
      }
      if (Clock::now() >= deadline) return false;
      // The log heals on its next flush, which a refused append requests: retry at a client's pace.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // "N segments of A, the newest B bytes", for the log of where the disk filled.
  std::string DescribeSegments() const {
    std::error_code ec;
    size_t count = 0;
    std::filesystem::path newest;
    for (auto it = std::filesystem::recursive_directory_iterator(broker_->data_dir(), ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const auto& p = it->path();
      if (p.extension() != ".log" || p.string().find(kTopicA) == std::string::npos) continue;
      ++count;
      if (newest.empty() || p.filename() > newest.filename()) newest = p;
    }
    if (count == 0) return "no segment files of " + kTopicA + " found";
    return std::to_string(count) + " segments of " + kTopicA + ", the newest " +
           std::to_string(std::filesystem::file_size(newest, ec)) + " bytes";
  }

  TmpfsMount disk_;
  std::unique_ptr<BrokerProcess> broker_;
  std::string ballast_path_;
  std::vector<Acked> acked_;
};

TEST_P(FullDiskTest, StorageErrorThenServesHealsAndKeepsEverythingAcknowledged) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, kTopicA));
  ASSERT_NO_FATAL_FAILURE(CreateTopic(*conn, kTopicB));
  // B holds a little data that must stay readable while A's disk is full.
  Bytes b_batch = MakeSimpleBatch(3, "topic-b-");
  ProducePartitionResponse b_first = Produce(*conn, kTopicB, b_batch);
  ASSERT_EQ(b_first.error_code, kerr::kNone);
  ASSERT_EQ(b_first.base_offset, 0);

  // --- fill the disk through A ---
  int16_t failure = kerr::kNone;
  int n = 0;
  for (; n < max_produces(); ++n) {
    Bytes batch = Batch(n);
    ProducePartitionResponse r = Produce(*conn, kTopicA, batch);
    if (r.error_code == kerr::kNone) {
      int64_t want = acked_.empty() ? 0 : acked_.back().offset + kRecordsPerBatch;
      ASSERT_EQ(r.base_offset, want) << "acknowledged offsets must be consecutive";
      acked_.push_back({r.base_offset, std::move(batch)});
      continue;
    }
    failure = r.error_code;
    break;
  }
  ASSERT_NE(failure, kNoResponse) << "no Produce answer after " << acked_.size()
                                  << " acknowledged batches; broker running: " << broker_->Running();
  ASSERT_EQ(failure, kKafkaStorageError)
      << "a Produce that does not fit on the disk must answer KAFKA_STORAGE_ERROR (56); got " << failure
      << (failure == kerr::kNone ? " (the disk never filled)" : "") << " after " << acked_.size()
      << " acknowledged batches";
  ASSERT_GT(acked_.size(), static_cast<size_t>(kSegmentBytes / (kRecordsPerBatch * value_bytes())))
      << "the disk filled before the first segment roll";
  std::fprintf(stderr, "[ info ] disk full after %zu acknowledged batches (%zu bytes each); %s\n",
               acked_.size(), acked_.back().batch.size(), DescribeSegments().c_str());

  // Still full: the same Produce is refused the same way, on the same connection.
  ProducePartitionResponse again = Produce(*conn, kTopicA, Batch(n));
  EXPECT_EQ(again.error_code, kKafkaStorageError) << "a second Produce to the full disk";

  // --- (1) the broker lives and serves everyone else ---
  ASSERT_TRUE(broker_->Running()) << "the broker died on a full disk";
  EXPECT_EQ(CheckBrokerServes(broker_->host(), broker_->port()), "");
  {
    auto other = Connect();
    ASSERT_NE(other, nullptr);
    CallResult md = Call(*other, api::kMetadata, 4, MetadataV4Body(std::nullopt, false));
    ASSERT_EQ(md.outcome, ReadOutcome::kFrame) << md.Describe();
    MetadataResponse metadata;
    ASSERT_TRUE(ParseMetadataV4(md.body, &metadata));
    for (const std::string& topic : {kTopicA, kTopicB}) {
      const auto* t = metadata.Find(topic);
      ASSERT_NE(t, nullptr) << topic << " missing from Metadata while the disk is full";
      EXPECT_EQ(t->error_code, kerr::kNone) << topic;
    }
    FetchPartitionResponse fb = Fetch(*other, kTopicB, 0, 1 << 20);
    EXPECT_EQ(fb.error_code, kerr::kNone) << "Fetch of topic B while the disk is full";
    EXPECT_EQ(fb.high_watermark, 3);
    std::vector<DecodedBatch> batches;
    std::string error;
    ASSERT_TRUE(DecodeBatches(fb.records, &batches, &error)) << error;
    ASSERT_EQ(batches.size(), 1u);
    EXPECT_TRUE(std::equal(b_batch.begin() + 16, b_batch.end(), batches[0].bytes.begin() + 16));
  }

  // --- (2) everything acknowledged is there, intact, and nothing else ---
  ASSERT_NO_FATAL_FAILURE(ExpectAllAcked("while the disk is full"));

  // --- (3) free space: writes work again, at the next offset ---
  ASSERT_EQ(::unlink(ballast_path_.c_str()), 0) << "unlink " << ballast_path_ << ": " << std::strerror(errno);
  int attempts = 0;
  ASSERT_TRUE(ProduceUntilAcked(*conn, n + 1, Clock::now() + std::chrono::seconds(20), &attempts))
      << "Produce to A still refused 20 s after space was freed (" << attempts << " attempts)";
  std::fprintf(stderr, "[ info ] Produce accepted again after %d attempt(s) once space was freed\n",
               attempts);
  ProducePartitionResponse more = Produce(*conn, kTopicA, Batch(n + 2));
  ASSERT_EQ(more.error_code, kerr::kNone);
  EXPECT_EQ(more.base_offset, acked_.back().offset + kRecordsPerBatch);
  acked_.push_back({more.base_offset, Batch(n + 2)});
  ASSERT_NO_FATAL_FAILURE(ExpectAllAcked("after space was freed"));

  // --- (4) SIGKILL + restart on the same disk: everything acknowledged survives ---
  conn.reset();
  ASSERT_TRUE(broker_->Kill());
  std::string error;
  ASSERT_TRUE(broker_->Restart(&error)) << error;
  ASSERT_NO_FATAL_FAILURE(ExpectAllAcked("after SIGKILL + restart"));
  conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(ProduceUntilAcked(*conn, n + 3, Clock::now(), &attempts)) << "Produce after restart";
  EXPECT_EQ(CheckBrokerServes(broker_->host(), broker_->port()), "");

  // The broker said what went wrong, in its log, in words an operator recognises.
  std::string log = ReadWholeFile(broker_->log_path());
  std::string disk_lines;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("No space left on device") != std::string::npos ||
        line.find("ENOSPC") != std::string::npos) {
      disk_lines += line + "\n";
    }
  }
  std::fprintf(stderr, "[ info ] broker log lines about the full disk:\n%s", disk_lines.c_str());
  EXPECT_FALSE(disk_lines.empty()) << "the broker log has no line naming the disk error (ENOSPC / \"No space "
                                      "left on device\")";

  // And it still shuts down cleanly (ASan/LSan reports would make the status non-zero).
  EXPECT_EQ(broker_->Terminate(), 0) << "SIGTERM must flush and exit 0";
}

INSTANTIATE_TEST_SUITE_P(BatchSizes, FullDiskTest, ::testing::Values(size_t{4000}, size_t{30000}),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return "Values" + std::to_string(info.param) + "Bytes";
                         });

}  // namespace
}  // namespace oncemq::testing
