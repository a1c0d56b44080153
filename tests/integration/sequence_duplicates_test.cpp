// The broker counts the duplicates that producer sequence numbers catch: an exact re-send of an
// idempotent batch (same producer id, epoch and sequence range) is answered with the original's offset,
// nothing is appended, and oncemq_sequence_duplicates_total / oncemq_sequence_duplicate_records_total on
// /metrics go up by one batch and by its records. The next batch in sequence and a batch with a gap are
// not duplicates and leave both counters alone.
//
// Raw wire client (tests/support/raw_client.h): librdkafka re-sends only when an answer is lost, so the
// exact re-send is made by hand, twice the same bytes.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/batch_maker.h"
#include "support/broker_process.h"
#include "support/kafka_wire.h"
#include "support/raw_client.h"

namespace oncemq::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kTopic[] = "seq";
constexpr int64_t kProducerId = 4242;  // unknown to the broker: any first sequence is accepted (KIP-360)
constexpr int16_t kEpoch = 0;
constexpr int kRecords = 3;
constexpr char kMetricsLogLine[] = "metrics on http://127.0.0.1:";

std::vector<TestRecord> Records(int first, int n) {
  std::vector<TestRecord> records;
  for (int i = first; i < first + n; ++i)
    records.push_back({"k" + std::to_string(i), "v" + std::to_string(i), {}});
  return records;
}

Bytes IdempotentBatch(int first_sequence, int n) {
  return MakeBatch(Records(first_sequence, n),
                   {.producer_id = kProducerId, .producer_epoch = kEpoch, .base_sequence = first_sequence});
}

// Everything the peer sends until it closes, or nullopt at the deadline or on a socket error.
std::optional<std::string> ReadToClose(RawConnection& conn, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string out;
  char buf[4096];
  while (Clock::now() < deadline) {
    pollfd p{conn.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) < 0) return std::nullopt;
    if (p.revents == 0) continue;
    ssize_t n = ::recv(conn.fd(), buf, sizeof(buf), 0);
    if (n == 0) return out;
    if (n < 0) return std::nullopt;
    out.append(buf, static_cast<size_t>(n));
  }
  return std::nullopt;
}

class SequenceDuplicateMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(std::vector<std::string>{"--metrics-listen", "127.0.0.1:0"});
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
    // The broker logs the metrics port it bound before it writes its ready file.
    std::string log = broker_->LogTail(1 << 20);
    auto at = log.find(kMetricsLogLine);
    ASSERT_NE(at, std::string::npos) << "no metrics address in the broker log:\n" << log;
    metrics_port_ = static_cast<uint16_t>(std::stoi(log.substr(at + sizeof(kMetricsLogLine) - 1)));
    conn_ = Connect(broker_->port());
    ASSERT_NE(conn_, nullptr);
    CallResult r = Call(*conn_, api::kMetadata, 4, MetadataV4Body(std::vector<std::string>{kTopic}, true));
    MetadataResponse md;
    ASSERT_EQ(r.outcome, ReadOutcome::kFrame) << r.Describe();
    ASSERT_TRUE(ParseMetadataV4(r.body, &md));
    ASSERT_NE(md.Find(kTopic), nullptr) << "topic was not auto-created";
  }
  void TearDown() override {
    if (broker_ && HasFailure()) {
      std::fprintf(stderr, "--- broker log tail (%s) ---\n%s\n", broker_->log_path().c_str(),
                   broker_->LogTail(12000).c_str());
    }
  }

  std::unique_ptr<RawConnection> Connect(uint16_t port) {
    std::string error;
    auto conn = RawConnection::Connect(broker_->host(), port, &error);
    EXPECT_NE(conn, nullptr) << error;
    return conn;
  }

  // Produces `batch` to partition 0 with acks=all; the one partition answer (error code -1 if none).
  ProducePartitionResponse Produce(const Bytes& batch) {
    CallResult r = Call(*conn_, api::kProduce, 7, ProduceV7Body(-1, 10000, {{kTopic, 0, batch}}));
    std::vector<ProducePartitionResponse> parts;
    EXPECT_EQ(r.outcome, ReadOutcome::kFrame) << r.Describe();
    EXPECT_TRUE(ParseProduceV7(r.body, &parts));
    if (parts.size() != 1) {
      ADD_FAILURE() << "produce answered " << parts.size() << " partitions";
      ProducePartitionResponse none;
      none.error_code = -1;
      return none;
    }
    return parts[0];
  }

  // The value of `family` for partition 0 of kTopic on /metrics, or "" if the page has no such line.
  std::string Metric(const std::string& family) {
    auto conn = Connect(metrics_port_);
    if (conn == nullptr) return "";
    const std::string get = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    EXPECT_TRUE(conn->SendRaw(ByteView(reinterpret_cast<const uint8_t*>(get.data()), get.size())));
    auto page = ReadToClose(*conn, std::chrono::seconds(10));
    EXPECT_TRUE(page.has_value()) << "no complete /metrics answer";
    if (!page) return "";
    const std::string prefix = "\n" + family + "{topic=\"" + kTopic + "\",partition=\"0\"} ";
    auto at = page->find(prefix);
    if (at == std::string::npos) return "";
    at += prefix.size();
    return page->substr(at, page->find('\n', at) - at);
  }

  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<RawConnection> conn_;
  uint16_t metrics_port_ = 0;
};

TEST_F(SequenceDuplicateMetricsTest, ExactResendIsCountedOnceWithItsRecords) {
  EXPECT_EQ(Metric("oncemq_sequence_duplicates_total"), "0");
  EXPECT_EQ(Metric("oncemq_sequence_duplicate_records_total"), "0");

  const Bytes first = IdempotentBatch(0, kRecords);
  ProducePartitionResponse original = Produce(first);
  ASSERT_EQ(original.error_code, kerr::kNone);
  ASSERT_EQ(original.base_offset, 0);
  ProducePartitionResponse resend = Produce(first);
  ASSERT_EQ(resend.error_code, kerr::kNone) << "an exact re-send is a success";
  EXPECT_EQ(resend.base_offset, 0) << "an exact re-send is answered with the original's offset";

  EXPECT_EQ(Metric("oncemq_sequence_duplicates_total"), "1");
  EXPECT_EQ(Metric("oncemq_sequence_duplicate_records_total"), std::to_string(kRecords));
  EXPECT_EQ(Metric("oncemq_partition_log_end_offset"), std::to_string(kRecords))
      << "a re-send must append nothing";
}

TEST_F(SequenceDuplicateMetricsTest, NextSequenceAndGapAreNotCounted) {
  ASSERT_EQ(Produce(IdempotentBatch(0, kRecords)).error_code, kerr::kNone);
  ProducePartitionResponse next = Produce(IdempotentBatch(kRecords, 1));
  ASSERT_EQ(next.error_code, kerr::kNone);
  EXPECT_EQ(next.base_offset, kRecords);
  EXPECT_EQ(Produce(IdempotentBatch(kRecords + 5, 1)).error_code, kerr::kOutOfOrderSequenceNumber);

  EXPECT_EQ(Metric("oncemq_sequence_duplicates_total"), "0");
  EXPECT_EQ(Metric("oncemq_sequence_duplicate_records_total"), "0");
}

}  // namespace
}  // namespace oncemq::testing
