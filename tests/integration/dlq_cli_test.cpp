// `oncemq dlq list|replay` and `oncemq dedup show` against the real broker, a real IdempotentConsumer and
// its SQLite store: a message whose handler fails is dead-lettered; the CLI lists it with its origin and
// error and shows its RELEASED dedup record; once the cause is fixed, replaying it by id makes the group
// handle it exactly once (its record becomes CONSUMED); unknown ids and --dry-run send nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/consumer/rdkafka_config.h"
#include "client/stores/open_dedup_store.h"
#include "oncemq/idempotent_consumer.h"
#include "support/broker_process.h"
#include "support/cli_process.h"
#include "support/produce_keyed.h"
#include "support/rdkafka_util.h"

extern char** environ;

namespace oncemq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kBound = seconds(60);  // the bound on every wait for a condition
constexpr char kGroup[] = "billing";
constexpr char kTopic[] = "orders";

bool WaitFor(const std::function<bool()>& done) {
  return testing::WaitFor(done, kBound);
}

// ---------------------------------------------------------------------------------------------------
// The broker side: topics, messages, offsets.

std::unique_ptr<RdKafka::Producer> MakeProducer(const std::string& address, std::string* error) {
  auto conf = MakeRdKafkaConf(
      {{"bootstrap.servers", address}, {"acks", "all"}, {"enable.idempotence", "true"}}, error);
  if (conf == nullptr) return nullptr;
  return std::unique_ptr<RdKafka::Producer>(RdKafka::Producer::create(conf.get(), *error));
}

std::string CreateTopic(const std::string& address, const std::string& topic) {
  std::string error;
  auto producer = MakeProducer(address, &error);
  if (producer == nullptr) return error;
  Status created = client::CreateMissingTopics(producer->c_ptr(), {topic}, 1, seconds(30));
  return created.ok() ? "" : created.ToString();
}

// Sends one message with record key `key` and oncemq-msg-id `msg_id`, and waits for its acknowledgement.
std::string SendOne(const std::string& address, const std::string& key, const std::string& msg_id,
                    const std::string& payload) {
  return ProduceKeyed(address, kTopic, {{.partition = 0, .key = key, .payload = payload, .msg_id = msg_id}},
                      {}, kBound);
}

// The log end of partition 0 of `topic`; -1 when it cannot be read.
int64_t LogEnd(const std::string& address, const std::string& topic) {
  std::string error;
  auto producer = MakeProducer(address, &error);
  int64_t low = -1, high = -1;
  if (producer == nullptr ||
      producer->query_watermark_offsets(topic, 0, &low, &high, 10'000) != RdKafka::ERR_NO_ERROR) {
    return -1;
  }
  return high;
}

// The group's committed offset on partition 0 of `topic`; negative when none.
int64_t Committed(const std::string& address, const std::string& topic) {
  std::string error;
  auto conf = MakeRdKafkaConf({{"bootstrap.servers", address}, {"group.id", kGroup}}, &error);
  if (conf == nullptr) return -1;
  ConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) return -1;
  std::vector<RdKafka::TopicPartition*> partitions = {RdKafka::TopicPartition::create(topic, 0)};
  int64_t offset = -1;
  if (consumer->committed(partitions, 10'000) == RdKafka::ERR_NO_ERROR) offset = partitions[0]->offset();
  RdKafka::TopicPartition::destroy(partitions);
  return offset;
}

// The headers (last value of each name) of the message at `offset` of partition 0 of `topic`, read without
// joining a group; empty when it could not be read within the bound.
std::map<std::string, std::string> HeadersAt(const std::string& address, const std::string& topic,
                                             int64_t offset) {
  std::map<std::string, std::string> found;
  std::string error;
  auto conf = MakeRdKafkaConf(
      {{"bootstrap.servers", address}, {"group.id", "dlq-cli-test-reader"}, {"enable.auto.commit", "false"}},
      &error);
  if (conf == nullptr) return found;
  ConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer || AssignPartitions(*consumer, topic, {{0, offset}}) != RdKafka::ERR_NO_ERROR) return found;
  const auto deadline = Clock::now() + kBound;
  while (found.empty() && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (!m || m->err() != RdKafka::ERR_NO_ERROR || m->offset() != offset) continue;
    RdKafka::Headers* headers = m->headers();
    if (headers == nullptr) break;
    for (const RdKafka::Headers::Header& h : headers->get_all()) {
      found[h.key()] =
          h.value() == nullptr ? "" : std::string(static_cast<const char*>(h.value()), h.value_size());
    }
    found.emplace("(key)", m->key() == nullptr ? "" : *m->key());
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------
// The consumer under test: its handler fails for key "poison" while `poisoned` is set.

class PoisonableConsumer {
 public:
  ~PoisonableConsumer() { Stop(); }

  std::string Start(const std::string& address, const std::string& store_uri) {
    auto store = client::OpenDedupStore(store_uri);
    if (!store.ok()) return store.status().ToString();
    IdempotentConsumerOptions options;
    options.bootstrap_servers = address;
    options.group = kGroup;
    options.topics = {kTopic};
    options.kafka_config = {{"session.timeout.ms", "3000"}, {"heartbeat.interval.ms", "300"}};
    options.key = BusinessKey::FromRecordKey();
    options.store = std::move(*store);
    options.retry.delays = {milliseconds(100), milliseconds(200)};
    options.retry.max_attempts = 3;
    options.max_store_backoff = milliseconds(500);
    auto consumer = IdempotentConsumer::Create(
        std::move(options), [this](const MessageView& m, HandlerContext&) { return Handle(m); });
    if (!consumer.ok()) return consumer.status().ToString();
    consumer_ = std::move(*consumer);
    thread_ = std::thread([this] { run_status_ = consumer_->Run(); });
    return "";
  }

  void Stop() {
    if (!consumer_) return;
    consumer_->Stop();
    if (thread_.joinable()) thread_.join();
  }

  void Cure() { poisoned_ = false; }
  int Successes(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = successes_.find(key);
    return it == successes_.end() ? 0 : it->second;
  }
  ConsumerStats stats() const { return consumer_->stats(); }
  const Status& run_status() const { return run_status_; }

 private:
  Status Handle(const MessageView& m) {
    const std::string key(m.key.value_or(""));
    if (key == "poison" && poisoned_) return Status::Unavailable("warehouse refused the poison order");
    std::lock_guard lock(mu_);
    ++successes_[key];
    return Status::Ok();
  }

  std::atomic<bool> poisoned_{true};
  mutable std::mutex mu_;
  std::map<std::string, int> successes_;
  std::unique_ptr<IdempotentConsumer> consumer_;
  std::thread thread_;
  Status run_status_;
};

class DlqCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> args = {"--group-initial-rebalance-delay-ms", "0",
                                     "--group-min-session-timeout-ms", "1000"};
    args.insert(args.end(), extra_broker_args_.begin(), extra_broker_args_.end());
    broker_ = std::make_unique<BrokerProcess>(args);
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
    address_ = broker_->address();
    store_uri_ = "sqlite://" + broker_->work_dir() + "/dedup.db";
    ASSERT_EQ(CreateTopic(address_, kTopic), "");
  }

  CliRun Cli(std::vector<std::string> args) { return RunCli(broker_->work_dir(), args); }

  std::string RetryTopic() const { return RetryTopicName(kGroup, 1); }

  std::vector<std::string> extra_broker_args_;
  std::unique_ptr<BrokerProcess> broker_;
  std::string address_;
  std::string store_uri_;
};

// A broker whose message-id window is on for every topic by default.
class DlqCliWindowedBrokerTest : public DlqCliTest {
 protected:
  void SetUp() override {
    extra_broker_args_ = {"--dedup-window-ms", "600000"};
    DlqCliTest::SetUp();
  }
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(DlqCliTest, ReplayedDeadLetterIsHandledOnceAndUnknownIdsSendNothing) {
  PoisonableConsumer consumer;
  ASSERT_EQ(consumer.Start(address_, store_uri_), "");
  ASSERT_EQ(SendOne(address_, "good", "msg-good", "fine order"), "");
  ASSERT_EQ(SendOne(address_, "poison", "msg-poison", "{\"order\":\"poison\"}"), "");
  ASSERT_TRUE(WaitFor([&] { return consumer.stats().dead_lettered == 1; }))
      << "dead-lettered " << consumer.stats().dead_lettered;
  EXPECT_EQ(consumer.Successes("good"), 1);
  EXPECT_EQ(consumer.Successes("poison"), 0);

  // The dead letter, with its id, its origin (orders/0, offset 1) and the handler's error.
  CliRun list = Cli({"dlq", "list", "--group", kGroup, "--bootstrap", address_});
  ASSERT_EQ(list.exit_code, 0) << Describe(list);
  EXPECT_TRUE(Contains(list.out, "0:0")) << Describe(list);
  EXPECT_TRUE(Contains(list.out, "msg-poison")) << Describe(list);
  EXPECT_TRUE(Contains(list.out, "orders/0@1")) << Describe(list);
  EXPECT_TRUE(Contains(list.out, "warehouse refused the poison order")) << Describe(list);

  CliRun json = Cli({"dlq", "list", "--group", kGroup, "--bootstrap", address_, "--json"});
  ASSERT_EQ(json.exit_code, 0) << Describe(json);
  EXPECT_TRUE(Contains(json.out, "\"id\": \"0:0\"")) << Describe(json);
  EXPECT_TRUE(Contains(json.out, "\"attempts\": 3")) << Describe(json);

  CliRun released = Cli({"dedup", "show", "--store", store_uri_, "--group", kGroup, "poison"});
  ASSERT_EQ(released.exit_code, 0) << Describe(released);
  EXPECT_TRUE(Contains(released.out, "RELEASED")) << Describe(released);
  EXPECT_TRUE(Contains(released.out, "attempts      3")) << Describe(released);
  EXPECT_TRUE(Contains(released.out, "warehouse refused the poison order")) << Describe(released);

  // Neither an unknown id nor a dry run sends anything.
  const int64_t retry_end = LogEnd(address_, RetryTopic());
  ASSERT_GE(retry_end, 1);
  CliRun unknown =
      Cli({"dlq", "replay", "--group", kGroup, "--id", "0:0", "--id", "0:99", "--bootstrap", address_});
  EXPECT_EQ(unknown.exit_code, 1) << Describe(unknown);
  EXPECT_TRUE(Contains(unknown.err, "no dead letter with id 0:99")) << Describe(unknown);
  CliRun malformed = Cli({"dlq", "replay", "--group", kGroup, "--id", "zero", "--bootstrap", address_});
  EXPECT_EQ(malformed.exit_code, 1) << Describe(malformed);
  EXPECT_TRUE(Contains(malformed.err, "PARTITION:OFFSET")) << Describe(malformed);
  CliRun dry = Cli({"dlq", "replay", "--group", kGroup, "--id", "0:0", "--dry-run", "--bootstrap", address_});
  EXPECT_EQ(dry.exit_code, 0) << Describe(dry);
  EXPECT_TRUE(Contains(dry.out, "dry run")) << Describe(dry);
  EXPECT_EQ(LogEnd(address_, RetryTopic()), retry_end);

  // Cause fixed: the replayed copy is handled once, and the key's record becomes CONSUMED.
  consumer.Cure();
  CliRun replay = Cli({"dlq", "replay", "--group", kGroup, "--id", "0:0", "--bootstrap", address_});
  ASSERT_EQ(replay.exit_code, 0) << Describe(replay);
  EXPECT_TRUE(Contains(replay.out, "re-sent as " + RetryTopic() + "/0@" + std::to_string(retry_end)))
      << Describe(replay);
  EXPECT_TRUE(Contains(replay.out, "stay listed")) << Describe(replay);
  EXPECT_EQ(LogEnd(address_, RetryTopic()), retry_end + 1);
  // The copy: same key and msg-id and origin, attempt 0, due now, no error.
  std::map<std::string, std::string> copy = HeadersAt(address_, RetryTopic(), retry_end);
  EXPECT_EQ(copy["(key)"], "poison");
  EXPECT_EQ(copy[std::string(headers::kMsgId)], "msg-poison");
  EXPECT_EQ(copy[std::string(headers::kOriginTopic)], kTopic);
  EXPECT_EQ(copy[std::string(headers::kOriginOffset)], "1");
  EXPECT_EQ(copy[std::string(headers::kAttempt)], "0");
  EXPECT_NE(copy[std::string(headers::kDeliverAt)], "");
  EXPECT_EQ(copy.count(std::string(headers::kError)), 0u);
  ASSERT_TRUE(WaitFor([&] { return consumer.Successes("poison") >= 1; }));
  // Once the group has committed past the copy, nothing of it is left to run again.
  ASSERT_TRUE(WaitFor([&] { return Committed(address_, RetryTopic()) == retry_end + 1; }))
      << "committed " << Committed(address_, RetryTopic());
  EXPECT_EQ(consumer.Successes("poison"), 1);
  EXPECT_EQ(consumer.Successes("good"), 1);
  EXPECT_EQ(consumer.stats().dead_lettered, 1u);

  CliRun consumed = Cli({"dedup", "show", "--store", store_uri_, "--group", kGroup, "poison", "nobody"});
  ASSERT_EQ(consumed.exit_code, 0) << Describe(consumed);
  EXPECT_TRUE(Contains(consumed.out, "CONSUMED")) << Describe(consumed);
  EXPECT_TRUE(Contains(consumed.out, "key nobody: no record")) << Describe(consumed);

  // The dead-letter topic is append-only: the replayed entry is still listed.
  CliRun after = Cli({"dlq", "list", "--group", kGroup, "--bootstrap", address_});
  ASSERT_EQ(after.exit_code, 0) << Describe(after);
  EXPECT_TRUE(Contains(after.out, "0:0")) << Describe(after);

  consumer.Stop();
  EXPECT_TRUE(consumer.run_status().ok()) << consumer.run_status().ToString();
}

// A replay copies the message into <group>.retry.1 a second time with its oncemq-msg-id: the consumer
// creates its retry topics with the window off, or the broker would drop the copy while acknowledging it.
TEST_F(DlqCliWindowedBrokerTest, ReplayLandsWhenTheBrokerWindowIsOnByDefault) {
  PoisonableConsumer consumer;
  ASSERT_EQ(consumer.Start(address_, store_uri_), "");
  ASSERT_EQ(SendOne(address_, "poison", "msg-poison", "{\"order\":\"poison\"}"), "");
  ASSERT_TRUE(WaitFor([&] { return consumer.stats().dead_lettered == 1; }))
      << "dead-lettered " << consumer.stats().dead_lettered;
  const int64_t retry_end = LogEnd(address_, RetryTopic());
  ASSERT_GE(retry_end, 1);

  consumer.Cure();
  CliRun replay = Cli({"dlq", "replay", "--group", kGroup, "--all", "--bootstrap", address_});
  ASSERT_EQ(replay.exit_code, 0) << Describe(replay);
  EXPECT_EQ(LogEnd(address_, RetryTopic()), retry_end + 1);
  ASSERT_TRUE(WaitFor([&] { return consumer.Successes("poison") == 1; }))
      << "handled " << consumer.Successes("poison");
}

TEST_F(DlqCliTest, GroupWithoutDeadLetterTopicHasNoDeadLetters) {
  CliRun list = Cli({"dlq", "list", "--group", "never-failed", "--bootstrap", address_});
  EXPECT_EQ(list.exit_code, 0) << Describe(list);
  EXPECT_TRUE(Contains(list.out, "no dead letters")) << Describe(list);
  CliRun replay = Cli({"dlq", "replay", "--group", "never-failed", "--id", "0:0", "--bootstrap", address_});
  EXPECT_EQ(replay.exit_code, 1) << Describe(replay);
  EXPECT_TRUE(Contains(replay.err, "no dead letters")) << Describe(replay);
}

TEST_F(DlqCliTest, DedupShowFailsPlainlyWhenTheStoreCannotBeReached) {
  CliRun missing = Cli({"dedup", "show", "--store", "sqlite://" + broker_->work_dir() + "/absent.db",
                        "--group", kGroup, "poison"});
  EXPECT_EQ(missing.exit_code, 1) << Describe(missing);
  EXPECT_TRUE(Contains(missing.err, "absent.db")) << Describe(missing);
  CliRun redis = Cli({"dedup", "show", "--store", "redis://127.0.0.1:1", "--group", kGroup, "poison"});
  EXPECT_EQ(redis.exit_code, 1) << Describe(redis);
  EXPECT_TRUE(Contains(redis.err, "oncemq dedup show: error:")) << Describe(redis);
}

TEST_F(DlqCliTest, DlqCommandsFailPlainlyWhenNoBrokerAnswers) {
  CliRun list = Cli({"dlq", "list", "--group", kGroup, "--bootstrap", "127.0.0.1:1", "--timeout-ms", "1500"});
  EXPECT_EQ(list.exit_code, 1) << Describe(list);
  EXPECT_TRUE(Contains(list.err, "no broker answered at 127.0.0.1:1")) << Describe(list);
}

}  // namespace
}  // namespace oncemq::testing
