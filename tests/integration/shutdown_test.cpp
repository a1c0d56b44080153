// Clean shutdown and restart of the real broker: SIGTERM flushes and exits 0 whatever the clients are
// doing (a held Fetch long-poll, an open idle connection), and a restart on the same data dir serves
// the same topics, partitions and batches.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/batch_maker.h"
#include "support/broker_process.h"
#include "support/kafka_wire.h"
#include "support/raw_client.h"

namespace oncemq::testing {
namespace {

class ShutdownTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args) {
    broker_ = std::make_unique<BrokerProcess>(std::move(args));
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
  }
  void TearDown() override {
    if (broker_ && HasFailure()) {
      std::fprintf(stderr, "--- broker log tail (%s) ---\n%s\n", broker_->log_path().c_str(),
                   broker_->LogTail(12000).c_str());
    }
  }
  std::unique_ptr<RawConnection> Connect() {
    std::string error;
    auto conn = RawConnection::Connect(broker_->host(), broker_->port(), &error);
    EXPECT_NE(conn, nullptr) << error;
    return conn;
  }
  std::vector<ProducePartitionResponse> ProduceTo(RawConnection& conn, const std::string& topic,
                                                  int32_t partition, const Bytes& batch, int16_t acks) {
    CallResult r = Call(conn, api::kProduce, 7, ProduceV7Body(acks, 10000, {{topic, partition, batch}}));
    std::vector<ProducePartitionResponse> parts;
    EXPECT_EQ(r.outcome, ReadOutcome::kFrame) << r.Describe();
    EXPECT_TRUE(ParseProduceV7(r.body, &parts));
    return parts;
  }
  MetadataResponse Metadata(RawConnection& conn, const std::string& topic, bool auto_create) {
    CallResult r =
        Call(conn, api::kMetadata, 4, MetadataV4Body(std::vector<std::string>{topic}, auto_create));
    MetadataResponse md;
    EXPECT_EQ(r.outcome, ReadOutcome::kFrame) << r.Describe();
    EXPECT_TRUE(ParseMetadataV4(r.body, &md));
    return md;
  }

  std::unique_ptr<BrokerProcess> broker_;
};

// Held long-polls on connections spread over two I/O threads, all on one partition: shutdown must
// not free one thread's timers while the other thread's fetches still reference the partition.
TEST_F(ShutdownTest, SigtermWhileFetchLongPollsAreHeldExitsZero) {
  ASSERT_NO_FATAL_FAILURE(Start({"--io-threads", "2"}));
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  MetadataResponse md = Metadata(*conn, "poll", true);
  ASSERT_NE(md.Find("poll"), nullptr);
  auto parts = ProduceTo(*conn, "poll", 0, MakeSimpleBatch(2), -1);
  ASSERT_EQ(parts.size(), 1u);
  ASSERT_EQ(parts[0].error_code, kerr::kNone);

  // Fetches at the high watermark that may wait 30 s for one byte: the broker holds them.
  std::vector<std::unique_ptr<RawConnection>> pollers;
  for (int i = 0; i < 4; ++i) {
    auto c = Connect();
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->SendFrame(RequestPayload(api::kFetch, 11, 77 + i, FetchV11Body("poll", 0, 2, 30000, 1))));
    pollers.push_back(std::move(c));
  }
  for (auto& c : pollers) {
    Bytes frame;
    ASSERT_EQ(c->ReadFrame(&frame, milliseconds(300)), ReadOutcome::kTimeout)
        << "a fetch at the high watermark with min_bytes 1 must be held (long poll), not answered at once";
  }

  int status = broker_->Terminate(std::chrono::seconds(20));
  EXPECT_EQ(status, 0) << "SIGTERM with held long-polls must flush and exit 0 (-1 = did not exit in 20 s)";
}

TEST_F(ShutdownTest, RestartAfterSigtermServesTheSameTopicsAndBatches) {
  ASSERT_NO_FATAL_FAILURE(Start({"--partitions", "3", "--flush", "never"}));
  std::vector<Bytes> batches;
  {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    MetadataResponse md = Metadata(*conn, "durable", true);
    ASSERT_NE(md.Find("durable"), nullptr);
    ASSERT_EQ(md.Find("durable")->partitions.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      batches.push_back(MakeBatch({{"k" + std::to_string(i), "v" + std::to_string(i), {{"h", "x"}}},
                                   {std::nullopt, std::nullopt, {}}}));
      auto parts = ProduceTo(*conn, "durable", 1, batches.back(), 1);
      ASSERT_EQ(parts.size(), 1u);
      ASSERT_EQ(parts[0].error_code, kerr::kNone);
      EXPECT_EQ(parts[0].base_offset, 2 * i);
    }
  }
  ASSERT_EQ(broker_->Terminate(), 0) << "SIGTERM must flush and exit 0";
  std::string error;
  ASSERT_TRUE(broker_->Restart(&error)) << error;

  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  MetadataResponse md = Metadata(*conn, "durable", false);
  const auto* t = md.Find("durable");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->error_code, kerr::kNone) << "topic lost across a clean restart";
  EXPECT_EQ(t->partitions.size(), 3u) << "partition count changed across a restart";

  CallResult r = Call(*conn, api::kFetch, 11, FetchV11Body("durable", 1, 0));
  ASSERT_EQ(r.outcome, ReadOutcome::kFrame) << r.Describe();
  FetchResponse fr;
  ASSERT_TRUE(ParseFetchV11(r.body, &fr));
  ASSERT_EQ(fr.partitions.size(), 1u);
  EXPECT_EQ(fr.partitions[0].error_code, kerr::kNone);
  EXPECT_EQ(fr.partitions[0].high_watermark, 6);
  std::vector<DecodedBatch> got;
  ASSERT_TRUE(DecodeBatches(fr.partitions[0].records, &got, &error)) << error;
  ASSERT_EQ(got.size(), batches.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].base_offset, static_cast<int64_t>(2 * i));
    EXPECT_TRUE(got[i].crc_ok);
    ASSERT_EQ(got[i].bytes.size(), batches[i].size());
    EXPECT_TRUE(std::equal(batches[i].begin() + 16, batches[i].end(), got[i].bytes.begin() + 16))
        << "batch " << i << " changed across a restart";
  }

  // The next append continues after the recovered log.
  auto parts = ProduceTo(*conn, "durable", 1, MakeSimpleBatch(1), -1);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].error_code, kerr::kNone);
  EXPECT_EQ(parts[0].base_offset, 6);
  EXPECT_EQ(broker_->Terminate(), 0);
}

}  // namespace
}  // namespace oncemq::testing
