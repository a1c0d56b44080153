// A librdkafka producer (acks=all) sends 100,000 messages with keys, some headers and some null
// values over three partitions; an assign-based KafkaConsumer (explicit offsets, no group subscribe)
// reads them back. Every delivery report must be a success, the reported offsets per partition must
// be dense and in send order, and the message consumed at each reported offset must be exactly the
// one sent.
#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "support/broker_process.h"
#include "support/rdkafka_util.h"

namespace oncemq::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMessages = 100000;
constexpr int kPartitions = 3;
constexpr auto kProduceDeadline = std::chrono::seconds(240);
constexpr auto kConsumeDeadline = std::chrono::seconds(240);
const std::string kTopic = "roundtrip";

struct Message {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Message i, reproducible from i alone.
Message MakeMessage(int i) {
  Message m;
  if (i % 13 != 0) m.key = "key-" + std::to_string(i);
  if (i % 97 != 0) {
    std::string v = "value-" + std::to_string(i) + "-";
    size_t filler = static_cast<size_t>(i * 7919 % 300);
    for (size_t j = 0; j < filler; ++j) v.push_back(static_cast<char>((i + j) & 0xff));
    m.value = std::move(v);
  }
  if (i % 10 == 0) m.headers = {{"idx", std::to_string(i)}, {"kind", i % 20 == 0 ? "even" : ""}};
  return m;
}

int32_t PartitionOf(int i) {
  return i % kPartitions;
}

struct Delivery {
  RdKafka::ErrorCode err = RdKafka::ERR__STATE;  // until the report arrives
  int32_t partition = -1;
  int64_t offset = -1;
  bool reported = false;
};

class DeliveryRecorder : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryRecorder(std::vector<Delivery>* out) : out_(out) {}
  void dr_cb(RdKafka::Message& m) override {
    auto i = reinterpret_cast<intptr_t>(m.msg_opaque());
    Delivery& d = (*out_)[static_cast<size_t>(i)];
    d.err = m.err();
    d.partition = m.partition();
    d.offset = m.offset();
    d.reported = true;
  }

 private:
  std::vector<Delivery>* out_;
};

class RoundTripTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(
        std::vector<std::string>{"--partitions", std::to_string(kPartitions)});
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "--- broker log tail ---\n%s\n", broker_->LogTail().c_str());
    if (broker_->Running()) {
      EXPECT_EQ(broker_->Terminate(), 0) << "SIGTERM must flush and exit 0";
    }
  }
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(RoundTripTest, HundredThousandMessagesWithAcksAllComeBackAtTheirReportedOffsets) {
  std::vector<Delivery> deliveries(kMessages);
  DeliveryRecorder recorder(&deliveries);
  std::string error;
  auto pconf = MakeRdKafkaConf({{"bootstrap.servers", broker_->address()},
                                {"acks", "all"},
                                {"enable.idempotence", "false"},
                                {"linger.ms", "5"},
                                {"message.timeout.ms", "120000"}},
                               &error);
  ASSERT_NE(pconf, nullptr) << error;
  ASSERT_EQ(pconf->set("dr_cb", &recorder, error), RdKafka::Conf::CONF_OK) << error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), error));
  ASSERT_NE(producer, nullptr) << error;

  // --- produce ---
  auto produce_deadline = Clock::now() + kProduceDeadline;
  for (int i = 0; i < kMessages; ++i) {
    Message m = MakeMessage(i);
    for (;;) {
      RdKafka::Headers* headers = nullptr;
      if (!m.headers.empty()) {
        headers = RdKafka::Headers::create();
        for (const auto& [k, v] : m.headers) headers->add(k, v);
      }
      RdKafka::ErrorCode err = producer->produce(
          kTopic, PartitionOf(i), RdKafka::Producer::RK_MSG_COPY,
          m.value ? const_cast<char*>(m.value->data()) : nullptr, m.value ? m.value->size() : 0,
          m.key ? m.key->data() : nullptr, m.key ? m.key->size() : 0, 0, headers,
          reinterpret_cast<void*>(static_cast<intptr_t>(i)));
      if (err == RdKafka::ERR_NO_ERROR) break;
      delete headers;  // not taken over on failure
      ASSERT_EQ(err, RdKafka::ERR__QUEUE_FULL) << "produce(" << i << "): " << RdKafka::err2str(err);
      ASSERT_LT(Clock::now(), produce_deadline) << "producer queue stayed full; broker too slow or stuck";
      producer->poll(50);
    }
    producer->poll(0);
  }
  while (producer->outq_len() > 0 && Clock::now() < produce_deadline) producer->flush(500);
  ASSERT_EQ(producer->outq_len(), 0)
      << "messages still unacknowledged after "
      << std::chrono::duration_cast<std::chrono::seconds>(kProduceDeadline).count() << " s";

  // --- delivery reports: all succeeded, dense offsets per partition, in send order ---
  std::vector<std::vector<int>> by_offset(kPartitions);  // [partition][offset] = message index
  int failures = 0;
  for (int i = 0; i < kMessages; ++i) {
    const Delivery& d = deliveries[static_cast<size_t>(i)];
    if (!d.reported || d.err != RdKafka::ERR_NO_ERROR) {
      if (failures++ < 5) {
        ADD_FAILURE() << "message " << i << " not delivered: "
                      << (d.reported ? RdKafka::err2str(d.err) : std::string("no report"));
      }
      continue;
    }
    ASSERT_EQ(d.partition, PartitionOf(i)) << "message " << i;
    auto& slots = by_offset[static_cast<size_t>(d.partition)];
    ASSERT_EQ(d.offset, static_cast<int64_t>(slots.size()))
        << "message " << i << " on partition " << d.partition << " reported offset " << d.offset
        << "; offsets must be dense from 0 and follow send order";
    slots.push_back(i);
  }
  ASSERT_EQ(failures, 0) << failures << " messages failed delivery";

  // --- consume with assign from offset 0 ---
  auto cconf = MakeRdKafkaConf({{"bootstrap.servers", broker_->address()},
                                {"group.id", "roundtrip-" + std::to_string(::getpid())},
                                {"enable.auto.commit", "false"},
                                {"enable.auto.offset.store", "false"},
                                {"enable.partition.eof", "false"},
                                {"auto.offset.reset", "error"}},
                               &error);
  ASSERT_NE(cconf, nullptr) << error;
  ConsumerPtr consumer(RdKafka::KafkaConsumer::create(cconf.get(), error));
  ASSERT_NE(consumer, nullptr) << error;
  std::vector<std::pair<int32_t, int64_t>> starts;
  for (int32_t p = 0; p < kPartitions; ++p) starts.emplace_back(p, 0);
  ASSERT_EQ(AssignPartitions(*consumer, kTopic, starts), RdKafka::ERR_NO_ERROR);

  std::vector<int64_t> next(kPartitions, 0);
  int consumed = 0;
  int mismatches = 0;
  auto consume_deadline = Clock::now() + kConsumeDeadline;
  while (consumed < kMessages && Clock::now() < consume_deadline) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(500));
    if (msg->err() == RdKafka::ERR__TIMED_OUT) continue;
    ASSERT_EQ(msg->err(), RdKafka::ERR_NO_ERROR) << "consume: " << msg->errstr();
    int32_t p = msg->partition();
    ASSERT_TRUE(p >= 0 && p < kPartitions) << "partition " << p;
    ASSERT_EQ(msg->offset(), next[static_cast<size_t>(p)])
        << "partition " << p << ": offsets must arrive dense and in order";
    const auto& slots = by_offset[static_cast<size_t>(p)];
    ASSERT_LT(msg->offset(), static_cast<int64_t>(slots.size())) << "message beyond what was produced";
    int i = slots[static_cast<size_t>(msg->offset())];
    Message want = MakeMessage(i);
    std::optional<std::string> key;
    if (msg->key_pointer() != nullptr)
      key.emplace(static_cast<const char*>(msg->key_pointer()), msg->key_len());
    std::optional<std::string> value;
    if (msg->payload() != nullptr) value.emplace(static_cast<const char*>(msg->payload()), msg->len());
    std::vector<std::pair<std::string, std::string>> headers;
    if (RdKafka::Headers* h = msg->headers(); h != nullptr) {
      for (const auto& hdr : h->get_all())
        headers.emplace_back(hdr.key(),
                             std::string(hdr.value_string() ? hdr.value_string() : "", hdr.value_size()));
    }
    if (key != want.key || value != want.value || headers != want.headers) {
      if (mismatches++ < 5) {
        ADD_FAILURE() << "partition " << p << " offset " << msg->offset() << " (message " << i
                      << "): key/value/headers differ from what was sent";
      }
    }
    ++next[static_cast<size_t>(p)];
    ++consumed;
  }
  for (int32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(next[static_cast<size_t>(p)], static_cast<int64_t>(by_offset[static_cast<size_t>(p)].size()))
        << "partition " << p << ": consumed up to this offset only";
  }
  EXPECT_EQ(consumed, kMessages);
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace oncemq::testing
