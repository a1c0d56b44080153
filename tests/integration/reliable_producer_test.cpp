// ReliableProducer against the real broker (issue 6): one confirmation per message — an ack with where it
// landed, or a nack with a reason that says whether sending again can help — and an oncemq-msg-id on every
// message, the caller's or a new time-ordered one; a re-send with the same id into a topic with a message-id
// window is acknowledged with the original's offset and stored once.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "oncemq/reliable_producer.h"
#include "support/broker_process.h"
#include "support/rdkafka_util.h"

namespace oncemq::testing {
namespace {

using std::chrono::seconds;

class ReliableProducerTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args) {
    broker_ = std::make_unique<BrokerProcess>(std::move(args));
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
    ReliableProducerOptions options;
    options.bootstrap_servers = broker_->address();
    options.ack_timeout = seconds(10);
    auto producer = ReliableProducer::Create(options);
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(*producer);
  }

  // Sends and waits for the confirmation.
  Confirmation SendAndWait(OutgoingMessage message) {
    Confirmation got;
    int calls = 0;
    producer_->Send(std::move(message), [&](const Confirmation& c) {
      got = c;
      ++calls;
    });
    EXPECT_TRUE(producer_->Flush(seconds(30)).ok());
    EXPECT_EQ(calls, 1) << "a message gets exactly one confirmation";
    EXPECT_EQ(producer_->pending(), 0u);
    return got;
  }

  // The msg-id headers of partition 0 of `topic`, in offset order, read to its end.
  std::vector<std::string> MsgIds(const std::string& topic) {
    std::string error;
    auto conf = MakeRdKafkaConf(
        {{"bootstrap.servers", broker_->address()}, {"group.id", "check"}, {"enable.partition.eof", "true"}},
        &error);
    ConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
    EXPECT_EQ(AssignPartitions(*consumer, topic, {{0, RdKafka::Topic::OFFSET_BEGINNING}}),
              RdKafka::ERR_NO_ERROR);
    std::vector<std::string> ids;
    for (int i = 0; i < 300; ++i) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
      if (m->err() == RdKafka::ERR__PARTITION_EOF) return ids;
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      for (const auto& h : m->headers()->get_all()) {
        if (h.key() == "oncemq-msg-id") ids.emplace_back(static_cast<const char*>(h.value()), h.value_size());
      }
    }
    ADD_FAILURE() << topic << " not read to its end";
    return ids;
  }

  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<ReliableProducer> producer_;
};

TEST_F(ReliableProducerTest, AckCarriesWhereTheMessageLandedAndItsNewMsgId) {
  ASSERT_NO_FATAL_FAILURE(Start({}));
  Confirmation first = SendAndWait(OutgoingMessage{"orders", "k", "one", {}, ""});
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  EXPECT_EQ(first.partition, 0);
  EXPECT_EQ(first.offset, 0);
  EXPECT_EQ(first.msg_id.size(), 26u);
  Confirmation second = SendAndWait(OutgoingMessage{"orders", "k", "two", {{"trace", "t1"}}, "caller-id-7"});
  ASSERT_TRUE(second.status.ok());
  EXPECT_EQ(second.offset, 1);
  EXPECT_EQ(second.msg_id, "caller-id-7");
  EXPECT_EQ(MsgIds("orders"), (std::vector<std::string>{first.msg_id, "caller-id-7"}));
}

TEST_F(ReliableProducerTest, NewMsgIdsAreUniqueAndSortByCreationTime) {
  std::set<std::string> ids;
  std::string previous;
  for (int i = 0; i < 10'000; ++i) {
    std::string id = NewMessageId();
    ASSERT_EQ(id.size(), 26u);
    ids.insert(id);
    if (i % 1000 == 0) {
      EXPECT_LE(previous.substr(0, 10), id.substr(0, 10)) << "the time part never goes back";
      previous = id;
    }
  }
  EXPECT_EQ(ids.size(), 10'000u);
}

TEST_F(ReliableProducerTest, ResendWithTheSameMsgIdIsAckedAtTheOriginalOffsetAndStoredOnce) {
  ASSERT_NO_FATAL_FAILURE(Start({"--dedup-window-ms", "600000"}));
  Confirmation original = SendAndWait(OutgoingMessage{"payments", "p", "pay 10", {}, "pay-10"});
  Confirmation other = SendAndWait(OutgoingMessage{"payments", "p", "pay 11", {}, "pay-11"});
  Confirmation resend = SendAndWait(OutgoingMessage{"payments", "p", "pay 10", {}, "pay-10"});
  ASSERT_TRUE(original.status.ok() && other.status.ok() && resend.status.ok());
  EXPECT_EQ(resend.offset, original.offset);
  EXPECT_EQ(MsgIds("payments"), (std::vector<std::string>{"pay-10", "pay-11"}));
}

TEST_F(ReliableProducerTest, TooLargeIsANackThatSendingAgainCannotCure) {
  ASSERT_NO_FATAL_FAILURE(Start({"--max-message-bytes", "20000"}));
  ASSERT_TRUE(SendAndWait(OutgoingMessage{"big", "k", "small", {}, ""}).status.ok());
  Confirmation too_large = SendAndWait(OutgoingMessage{"big", "k", std::string(100'000, 'x'), {}, ""});
  EXPECT_EQ(too_large.status.code(), StatusCode::kInvalidArgument) << too_large.status.ToString();
  EXPECT_EQ(too_large.offset, -1);
  ASSERT_TRUE(SendAndWait(OutgoingMessage{"big", "k", "after", {}, ""}).status.ok())
      << "the producer goes on";
}

TEST_F(ReliableProducerTest, UnknownTopicIsANackThatMaySucceedLater) {
  ASSERT_NO_FATAL_FAILURE(Start({"--auto-create", "false"}));
  Confirmation unknown = SendAndWait(OutgoingMessage{"nowhere", "k", "x", {}, ""});
  EXPECT_EQ(unknown.status.code(), StatusCode::kUnavailable) << unknown.status.ToString();
  EXPECT_EQ(unknown.offset, -1);
}

}  // namespace
}  // namespace oncemq::testing
