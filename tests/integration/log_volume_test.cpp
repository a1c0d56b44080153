// Logs are one line per event, never one per message, at the default level (docs/operations.md, Logs):
//   1. the real broker at its default --log-level, with 2,000 messages produced by an idempotent producer
//      in batches of 10 and consumed by a consumer group committing after each one: its log grows by a
//      few lines;
//   2. the idempotent consumer at spdlog's default level (what an application gets unless it changes it)
//      over 2,000 messages, with duplicates and failed handlers going through a retry topic: the SDK logs
//      a few lines, and so does the broker.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/stores/open_dedup_store.h"
#include "oncemq/idempotent_consumer.h"
#include "support/broker_process.h"
#include "support/captured_log.h"
#include "support/produce_keyed.h"
#include "support/rdkafka_util.h"

namespace oncemq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kBound = seconds(120);
constexpr int kMessages = 2'000;
constexpr int kPartitions = 2;
// Far below one per message, well above what start-up, topic creation and rebalances log.
constexpr size_t kBrokerLinesAllowed = 50;
constexpr size_t kSdkLinesAllowed = 10;

bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = Clock::now() + kBound;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

std::vector<std::string> BrokerArgs() {  // no --log-level: the default is under test
  return {"--partitions", std::to_string(kPartitions), "--group-initial-rebalance-delay-ms", "0"};
}

size_t LineCount(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `count` messages to `topic`, message i with oncemq-msg-id and record key `key(i)`; "" or an error.
// Batches of at most `batch` messages, so that a line logged per batch or per request shows too.
std::string Produce(const std::string& address, const std::string& topic, int count, int batch,
                    const std::function<std::string(int)>& key) {
  std::vector<KeyedMessage> messages;
  for (int i = 0; i < count; ++i) {
    messages.push_back({.key = key(i), .payload = "payload-" + std::to_string(i)});
  }
  return ProduceKeyed(address, topic, messages,
                      {{"linger.ms", "5"}, {"batch.num.messages", std::to_string(batch)}}, kBound);
}

class LogVolumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(BrokerArgs());
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
    broker_lines_at_start_ = LineCount(ReadFile(broker_->log_path()));
  }

  // The broker's log since SetUp, checked against the allowance.
  void ExpectBrokerLogShort() {
    const std::string log = ReadFile(broker_->log_path());
    const size_t grown = LineCount(log) - broker_lines_at_start_;
    EXPECT_LT(grown, kBrokerLinesAllowed)
        << "the broker logged " << grown << " lines for " << kMessages << " messages:\n"
        << broker_->LogTail(8'000);
  }

  std::unique_ptr<BrokerProcess> broker_;
  size_t broker_lines_at_start_ = 0;
};

TEST_F(LogVolumeTest, BrokerLogsEventsNotMessages) {
  ASSERT_EQ(
      Produce(broker_->address(), "events", kMessages, 10, [](int i) { return "m" + std::to_string(i); }),
      "");
  std::string error;
  auto conf = MakeRdKafkaConf({{"bootstrap.servers", broker_->address()},
                               {"group.id", "readers"},
                               {"enable.auto.commit", "false"},
                               {"auto.offset.reset", "earliest"}},
                              &error);
  ASSERT_NE(conf, nullptr) << error;
  ConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  ASSERT_NE(consumer, nullptr) << error;
  ASSERT_EQ(consumer->subscribe({"events"}), RdKafka::ERR_NO_ERROR);
  int consumed = 0;
  const auto deadline = Clock::now() + kBound;
  while (consumed < kMessages && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (!m || m->err() != RdKafka::ERR_NO_ERROR) continue;
    ++consumed;
    ASSERT_EQ(consumer->commitAsync(m.get()), RdKafka::ERR_NO_ERROR);  // one commit request per message
  }
  ASSERT_EQ(consumed, kMessages);
  consumer.reset();  // closes: commits flushed, the group left
  ExpectBrokerLogShort();
}

TEST_F(LogVolumeTest, IdempotentConsumerLogsEventsNotMessages) {
  constexpr int kKeys = 1'600;    // messages kKeys… repeat keys from the start: 400 duplicates
  constexpr int kFailEvery = 20;  // these keys fail once and come back through retry level 1: 80 retries
  CapturedLog log;
  ASSERT_EQ(spdlog::default_logger()->level(), spdlog::level::info) << "not the default level";
  ASSERT_EQ(Produce(broker_->address(), "orders", kMessages, 500,
                    [](int i) { return "order-" + std::to_string(i % kKeys); }),
            "");

  IdempotentConsumerOptions options;
  options.bootstrap_servers = broker_->address();
  options.group = "billing";
  options.topics = {"orders"};
  options.retry.delays = {milliseconds(100)};
  // Consumer-only settings, as a real service sets them: the SDK's retry producer must not be handed
  // them, or librdkafka warns about each (CONFWARN) on every start.
  options.kafka_config = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  auto store = client::OpenDedupStore("sqlite://" + broker_->work_dir() + "/dedup.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  options.store = std::shared_ptr<DedupStore>(std::move(*store));
  auto consumer = IdempotentConsumer::Create(options, [](const MessageView&, HandlerContext& context) {
    const int key = std::stoi(std::string(context.key.substr(context.key.find('-') + 1)));
    if (key % kFailEvery == 0 && context.attempt == 1) return Status::Unavailable("fails once");
    return Status::Ok();
  });
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  std::thread runner([&] { EXPECT_TRUE((*consumer)->Run().ok()); });
  const bool settled = WaitFor([&] {
    const ConsumerStats stats = (*consumer)->stats();
    return stats.handled == kKeys && stats.duplicates == kMessages - kKeys;
  });
  (*consumer)->Stop();
  runner.join();
  const ConsumerStats stats = (*consumer)->stats();
  ASSERT_TRUE(settled) << "handled " << stats.handled << ", duplicates " << stats.duplicates;
  EXPECT_EQ(stats.handler_failures, static_cast<uint64_t>(kKeys / kFailEvery));
  // Every failure went through the retry topic (and any copy met while its key was running).
  EXPECT_EQ(stats.retried, stats.handler_failures + stats.delayed_in_progress);
  consumer->reset();

  const std::string sdk_log = log.Text();
  EXPECT_EQ(sdk_log.find("CONFWARN"), std::string::npos) << sdk_log.substr(0, 8'000);
  EXPECT_LT(LineCount(sdk_log), kSdkLinesAllowed)
      << "the SDK logged " << LineCount(sdk_log) << " lines for " << kMessages << " messages:\n"
      << sdk_log.substr(0, 8'000);
  ExpectBrokerLogShort();
}

}  // namespace
}  // namespace oncemq::testing
