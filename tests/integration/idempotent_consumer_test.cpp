// The idempotent consumer (include/oncemq/idempotent_consumer.h) against the real broker, real librdkafka
// and real stores (SQLite files, and redis-server, PostgreSQL and MariaDB servers started here):
//   1. two consumers in one group, every business key sent twice — at the same moment to two partitions,
//      and again after the first copy was consumed: each key's effect happens exactly once, per store;
//   2. a handler that always fails: the message walks the retry levels in order with the attempt header
//      counting, and lands in the dead-letter topic with its headers; a non-retryable error goes straight
//      there;
//   3. a consumer SIGKILLed inside its handler: lease mode handles the message again only once the lease
//      has run out (store clock), transactional mode leaves no trace of the killed attempt;
//   4. the store goes away mid-run: no handler runs without protection while it is down, processing resumes
//      when it is back, nothing is lost.
// The helper process of case 3 is this binary re-run with --killed-consumer-helper.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/consumer/rdkafka_config.h"
#include "client/stores/open_dedup_store.h"
#include "oncemq/idempotent_consumer.h"
#include "support/broker_process.h"
#include "support/captured_log.h"
#include "support/produce_keyed.h"
#include "support/rdkafka_util.h"
#include "support/servers/mariadb_server.h"
#include "support/servers/postgres_server.h"
#include "support/servers/redis_server.h"

namespace oncemq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kBound = seconds(90);  // the bound on every wait for a condition
constexpr char kHelperFlag[] = "--killed-consumer-helper";
// The killed helper's lease: long enough that the survivor (which joins only once the broker has expired
// the helper's session) meets it alive even on a starved machine.
constexpr auto kHelperLease = seconds(20);
constexpr int kPartitions = 4;

bool WaitFor(const std::function<bool()>& done, Clock::duration bound = kBound) {
  const auto deadline = Clock::now() + bound;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::vector<std::string> BrokerArgs() {
  return {"--partitions",
          std::to_string(kPartitions),
          "--group-initial-rebalance-delay-ms",
          "0",
          "--group-min-session-timeout-ms",
          "1000"};
}

// ---------------------------------------------------------------------------------------------------
// Sending messages that carry a business key in oncemq-msg-id.

struct Outgoing {
  int32_t partition;
  std::string key;  // also its oncemq-msg-id
  std::string payload;
};

std::string Send(const std::string& address, const std::string& topic,
                 const std::vector<Outgoing>& messages) {
  std::vector<KeyedMessage> keyed;
  for (const Outgoing& m : messages)
    keyed.push_back({.partition = m.partition, .key = m.key, .payload = m.payload});
  return ProduceKeyed(address, topic, keyed, {{"linger.ms", "2"}}, kBound);
}

std::string CreateTopic(const std::string& address, const std::string& topic, int partitions) {
  std::string error;
  auto conf = MakeRdKafkaConf({{"bootstrap.servers", address}}, &error);
  if (conf == nullptr) return error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (producer == nullptr) return error;
  Status created = client::CreateMissingTopics(producer->c_ptr(), {topic}, partitions, seconds(30));
  return created.ok() ? "" : created.ToString();
}

// A message read back, copied out (librdkafka does not let a consumer close while its messages live).
struct ReadMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string payload;
  std::map<std::string, std::string> headers;  // the last value of each name
  std::optional<std::string> Header(std::string_view name) const {
    auto it = headers.find(std::string(name));
    return it == headers.end() ? std::nullopt : std::optional(it->second);
  }
};

ReadMessage CopyOut(RdKafka::Message& m) {
  ReadMessage out{.partition = m.partition(),
                  .offset = m.offset(),
                  .payload = std::string(static_cast<const char*>(m.payload()), m.len()),
                  .headers = {}};
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m.c_ptr(), &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    out.headers[name] = std::string(static_cast<const char*>(value), size);
  }
  return out;
}

// Every message of a topic (all partitions, from the start to the current end), read without a group.
std::vector<ReadMessage> ReadAll(const std::string& address, const std::string& topic, int partitions,
                                 std::string* error) {
  std::vector<ReadMessage> out;
  auto conf = MakeRdKafkaConf(
      {{"bootstrap.servers", address}, {"group.id", "reader-unused"}, {"enable.auto.commit", "false"}},
      error);
  if (conf == nullptr) return out;
  ConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), *error));
  if (!consumer) return out;
  std::map<int32_t, int64_t> ends;
  std::vector<std::pair<int32_t, int64_t>> starts;
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    if (consumer->query_watermark_offsets(topic, p, &low, &high, 10'000) != RdKafka::ERR_NO_ERROR) {
      *error = "watermarks of " + topic;
      return out;
    }
    ends[p] = high;
    starts.emplace_back(p, low);
  }
  AssignPartitions(*consumer, topic, starts);
  std::map<int32_t, int64_t> next;
  for (auto& [p, low] : starts) next[p] = low;
  auto finished = [&] {
    for (auto& [p, end] : ends) {
      if (next[p] < end) return false;
    }
    return true;
  };
  const auto deadline = Clock::now() + kBound;
  while (!finished() && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (!m || m->err() != RdKafka::ERR_NO_ERROR) continue;
    next[m->partition()] = m->offset() + 1;
    out.push_back(CopyOut(*m));
  }
  if (!finished()) *error = "could not read " + topic + " to its end";
  return out;
}

// The group's committed offset and the end offset of each partition of `topic`.
struct Progress {
  std::map<int32_t, int64_t> committed, end;
};
Progress ProgressOf(const std::string& address, const std::string& group, const std::string& topic,
                    int partitions, std::string* error) {
  Progress progress;
  auto conf = MakeRdKafkaConf({{"bootstrap.servers", address}, {"group.id", group}}, error);
  if (conf == nullptr) return progress;
  ConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), *error));
  if (!consumer) return progress;
  std::vector<RdKafka::TopicPartition*> tps;
  for (int32_t p = 0; p < partitions; ++p) tps.push_back(RdKafka::TopicPartition::create(topic, p));
  if (consumer->committed(tps, 10'000) != RdKafka::ERR_NO_ERROR) *error = "committed() failed";
  for (RdKafka::TopicPartition* tp : tps) {
    progress.committed[tp->partition()] = tp->offset();
    int64_t low = 0, high = 0;
    consumer->query_watermark_offsets(topic, tp->partition(), &low, &high, 10'000);
    progress.end[tp->partition()] = high;
  }
  RdKafka::TopicPartition::destroy(tps);
  return progress;
}

// ---------------------------------------------------------------------------------------------------
// What handlers did.

class Ledger {
 public:
  void Effect(const std::string& key, const std::string& by) {
    std::lock_guard lock(mu_);
    ++effects_[key];
    by_[key].insert(by);
  }
  size_t Keys() const {
    std::lock_guard lock(mu_);
    return effects_.size();
  }
  std::map<std::string, int> Effects() const {
    std::lock_guard lock(mu_);
    return effects_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> effects_;
  std::map<std::string, std::set<std::string>> by_;
};

// What a lease-mode handler saw of each key: how often it ran, and the store's clock and the fencing token
// at its last run.
class KeyRuns {
 public:
  struct Run {
    int count = 0;
    int64_t store_time = 0;
    int64_t token = 0;
  };
  // A handler that records each run and succeeds. `store` must outlive it.
  MessageHandler Recorder(std::shared_ptr<DedupStore> store) {
    return [this, store](const MessageView&, HandlerContext& context) {
      const int64_t now = store->NowMs().value();
      std::lock_guard lock(mu_);
      Run& run = runs_[std::string(context.key)];
      ++run.count;
      run.store_time = now;
      run.token = context.fencing_token;
      return Status::Ok();
    };
  }
  size_t Keys() const {
    std::lock_guard lock(mu_);
    return runs_.size();
  }
  Run Of(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = runs_.find(key);
    return it == runs_.end() ? Run{} : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Run> runs_;
};

// A consumer running Run() on a thread of its own.
class RunningConsumer {
 public:
  ~RunningConsumer() { StopAndJoin(); }
  std::string Start(IdempotentConsumerOptions options, MessageHandler handler) {
    auto consumer = IdempotentConsumer::Create(std::move(options), std::move(handler));
    if (!consumer.ok()) return consumer.status().ToString();
    consumer_ = std::move(*consumer);
    thread_ = std::thread([this] {
      run_status_ = consumer_->Run();
      returned_ = true;
    });
    return "";
  }
  // Stop() must make Run() return within kStopBound; a consumer stuck in shutdown fails the whole program
  // at once (its thread cannot be joined or abandoned safely) instead of hanging until ctest's timeout.
  void StopAndJoin() {
    if (!consumer_) return;
    consumer_->Stop();
    if (!thread_.joinable()) return;
    const auto deadline = Clock::now() + kStopBound;
    while (!returned_.load() && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(20));
    if (!returned_.load()) {
      std::fprintf(stderr, "FAILED: IdempotentConsumer::Run() did not return within %lld s of Stop()\n",
                   static_cast<long long>(std::chrono::duration_cast<seconds>(kStopBound).count()));
      std::fflush(stderr);
      std::_Exit(1);
    }
    thread_.join();
  }
  ConsumerStats stats() const { return consumer_ ? consumer_->stats() : ConsumerStats{}; }
  const Status& run_status() const { return run_status_; }

 private:
  static constexpr auto kStopBound = seconds(60);
  std::unique_ptr<IdempotentConsumer> consumer_;
  std::thread thread_;
  std::atomic<bool> returned_{false};
  Status run_status_;
};

IdempotentConsumerOptions BaseOptions(const std::string& address, const std::string& group,
                                      const std::string& topic) {
  IdempotentConsumerOptions options;
  options.bootstrap_servers = address;
  options.group = group;
  options.topics = {topic};
  // A session a starved machine cannot outlive by accident; the member killed on purpose (HelperMain) gets a
  // short one of its own, so that the survivor takes over soon.
  options.kafka_config = {{"session.timeout.ms", "10000"}, {"heartbeat.interval.ms", "300"}};
  options.retry.delays = {milliseconds(200), milliseconds(400), milliseconds(800)};
  options.max_store_backoff = milliseconds(500);
  options.lease = seconds(10);
  return options;
}

// ---------------------------------------------------------------------------------------------------
// Stores under test, each reachable by a URI.

class StoreServers {
 public:
  static std::string RedisUri(std::string* error) {
    if (!redis_) {
      auto server = std::make_unique<RedisServer>();
      if (!server->Start(error)) return "";
      redis_ = std::move(server);
    }
    return redis_->uri();
  }
  // A fresh database per call, on one server for the whole program.
  static std::string PostgresUri(std::string* error) {
    if (!postgres_) {
      auto server = std::make_unique<PostgresServer>();
      if (!server->Start(error)) return "";
      postgres_ = std::move(server);
    }
    const std::string database = "oncemq_t" + std::to_string(++databases_);
    if (!postgres_->CreateDatabase(database, error)) return "";
    return postgres_->uri(database);
  }
  static std::string MariadbUri(std::string* error) {
    if (!mariadb_) {
      auto server = std::make_unique<MariadbServer>();
      if (!server->Start(error)) return "";
      mariadb_ = std::move(server);
    }
    const std::string database = "oncemq_t" + std::to_string(++databases_);
    if (!mariadb_->CreateDatabase(database, error)) return "";
    return mariadb_->uri(database);
  }
  static PostgresServer* postgres() { return postgres_.get(); }
  static MariadbServer* mariadb() { return mariadb_.get(); }
  static void StopAll() {
    redis_.reset();
    postgres_.reset();
    mariadb_.reset();
  }

 private:
  static inline std::unique_ptr<RedisServer> redis_;
  static inline std::unique_ptr<PostgresServer> postgres_;
  static inline std::unique_ptr<MariadbServer> mariadb_;
  static inline int databases_ = 0;
};

struct StoreKind {
  const char* name;
  // A fresh store location for one test: a URI every consumer of the test opens.
  std::function<std::string(const std::string& work_dir, std::string* error)> uri;
};

void PrintTo(const StoreKind& kind, std::ostream* os) {
  *os << kind.name;
}

std::vector<StoreKind> LeaseStores() {
  return {
      StoreKind{"Sqlite",
                [](const std::string& dir, std::string*) { return "sqlite://" + dir + "/dedup.db"; }},
      StoreKind{"Redis",
                [](const std::string&, std::string* error) { return StoreServers::RedisUri(error); }},
      StoreKind{"Postgres",
                [](const std::string&, std::string* error) { return StoreServers::PostgresUri(error); }},
      StoreKind{"Mariadb",
                [](const std::string&, std::string* error) { return StoreServers::MariadbUri(error); }},
  };
}

std::shared_ptr<DedupStore> OpenStore(const std::string& uri) {
  auto store = client::OpenDedupStore(uri);
  EXPECT_TRUE(store.ok()) << uri << ": " << store.status().ToString();
  return store.ok() ? std::shared_ptr<DedupStore>(std::move(*store)) : nullptr;
}

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(BrokerArgs());
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
    ASSERT_EQ(CreateTopic(broker_->address(), "orders", kPartitions), "");
  }
  static void TearDownTestSuite() { StoreServers::StopAll(); }

  void ExpectAllCommitted(const std::string& group, const std::string& topic, int partitions) {
    std::string error;
    Progress progress = ProgressOf(broker_->address(), group, topic, partitions, &error);
    ASSERT_EQ(error, "");
    for (int32_t p = 0; p < partitions; ++p) {
      if (progress.end[p] == 0) continue;  // an empty partition has nothing to commit
      EXPECT_EQ(progress.committed[p], progress.end[p]) << topic << "/" << p << " not committed to its end";
    }
  }

  // Starts `consumer` in group "billing" on "orders" with the lease store at `store_uri`; its handler records
  // each key's effect in `ledger`. "" or what went wrong.
  std::string StartLedgerConsumer(RunningConsumer& consumer, Ledger& ledger, const std::string& store_uri) {
    IdempotentConsumerOptions options = BaseOptions(broker_->address(), "billing", "orders");
    options.store = OpenStore(store_uri);
    if (options.store == nullptr) return "cannot open " + store_uri;
    return consumer.Start(options, [&ledger](const MessageView&, HandlerContext& context) {
      ledger.Effect(std::string(context.key), "c");
      return Status::Ok();
    });
  }

  std::unique_ptr<BrokerProcess> broker_;
};

class ConsumerStoreTest : public ConsumerTest, public ::testing::WithParamInterface<StoreKind> {};

// ---------------------------------------------------------------------------------------------------
// 1. Every key twice (and some a third time), two consumers: one effect per key.

TEST_P(ConsumerStoreTest, EveryKeySentTwiceTakesEffectOnceAcrossTwoConsumers) {
  std::string error;
  const std::string uri = GetParam().uri(broker_->work_dir(), &error);
  ASSERT_NE(uri, "") << error;
  constexpr int kKeys = 300;
  constexpr int kLateCopies = 60;
  Ledger ledger;
  RunningConsumer a, b;
  for (auto [consumer, name] : {std::pair{&a, "a"}, std::pair{&b, "b"}}) {
    IdempotentConsumerOptions options = BaseOptions(broker_->address(), "billing", "orders");
    options.store = OpenStore(uri);
    ASSERT_NE(options.store, nullptr);
    options.owner = name;
    options.max_batch = 64;
    ASSERT_EQ(
        consumer->Start(options,
                        [&ledger, name = std::string(name)](const MessageView&, HandlerContext& context) {
                          ledger.Effect(std::string(context.key), name);
                          return Status::Ok();
                        }),
        "");
  }
  // Both members own partitions before anything is sent (4 of orders, 3 retry levels).
  ASSERT_TRUE(WaitFor([&] {
    const uint64_t owned_a = a.stats().assigned_partitions, owned_b = b.stats().assigned_partitions;
    return owned_a > 0 && owned_b > 0 && owned_a + owned_b == kPartitions + 3;
  }));
  // Both copies at the same moment, on two partitions the two members split.
  std::vector<Outgoing> wave;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "order-" + std::to_string(k);
    wave.push_back({k % kPartitions, key, "amount=" + std::to_string(k)});
    wave.push_back({(k + 1) % kPartitions, key, "amount=" + std::to_string(k)});
  }
  ASSERT_EQ(Send(broker_->address(), "orders", wave), "");
  ASSERT_TRUE(WaitFor([&] { return ledger.Keys() == kKeys; })) << ledger.Keys() << " keys took effect";

  // Late copies, after the first was consumed.
  std::vector<Outgoing> late;
  for (int k = 0; k < kLateCopies; ++k) {
    late.push_back({(k + 2) % kPartitions, "order-" + std::to_string(k), "amount=" + std::to_string(k)});
  }
  ASSERT_EQ(Send(broker_->address(), "orders", late), "");
  auto duplicates = [&] { return a.stats().duplicates + b.stats().duplicates; };
  ASSERT_TRUE(WaitFor([&] { return duplicates() == kKeys + kLateCopies; }))
      << duplicates() << " duplicates seen, want " << kKeys + kLateCopies;
  a.StopAndJoin();
  b.StopAndJoin();

  for (const auto& [key, effects] : ledger.Effects()) EXPECT_EQ(effects, 1) << key;
  EXPECT_EQ(a.stats().handled + b.stats().handled, static_cast<uint64_t>(kKeys));
  // One claim per key; the copies that found their key running or done were never claimed.
  EXPECT_EQ(a.stats().claimed + b.stats().claimed, static_cast<uint64_t>(kKeys));
  for (const RunningConsumer* consumer : {&a, &b}) {
    const ConsumerStats stats = consumer->stats();
    ASSERT_EQ(stats.retried_by_level.size(), 4u);  // [0] and three levels
    EXPECT_EQ(stats.retried_by_level[1], stats.retried) << "a concurrent copy goes to level 1 only";
    EXPECT_EQ(stats.retried, stats.delayed_in_progress);
  }
  EXPECT_GT(a.stats().handled, 0u);
  EXPECT_GT(b.stats().handled, 0u);
  EXPECT_EQ(a.stats().store_failures + b.stats().store_failures, 0u);
  ExpectAllCommitted("billing", "orders", kPartitions);
  ExpectAllCommitted("billing", "billing.retry.1", 1);
}

INSTANTIATE_TEST_SUITE_P(Stores, ConsumerStoreTest, ::testing::ValuesIn(LeaseStores()),
                         [](const ::testing::TestParamInfo<StoreKind>& info) { return info.param.name; });

// Members that join and leave while their group rebalances. Their shutdown used to be able to wait for ever
// (a revoke served inside librdkafka's close() asked it for its rebalance protocol, an answer its main thread
// never gave once the group was terminating: seen about once in a hundred loaded runs) or abort there
// (librdkafka issue 4027). Every Stop() returns (RunningConsumer bounds it), and every key takes effect
// once, whoever held its partition.
TEST_F(ConsumerTest, MembersStoppedWhileTheirGroupRebalancesStopAndLoseNothing) {
  constexpr int kRounds = 8;
  constexpr int kPerRound = 12;
  const std::string uri = "sqlite://" + broker_->work_dir() + "/dedup.db";
  Ledger ledger;
  RunningConsumer steady;
  ASSERT_EQ(StartLedgerConsumer(steady, ledger, uri), "");
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Outgoing> messages;
    for (int i = 0; i < kPerRound; ++i)
      messages.push_back({i % kPartitions, "r" + std::to_string(round) + "-" + std::to_string(i), "p"});
    ASSERT_EQ(Send(broker_->address(), "orders", messages), "");
    RunningConsumer joining, leaving;
    ASSERT_EQ(StartLedgerConsumer(leaving, ledger, uri), "");
    ASSERT_TRUE(WaitFor([&] { return leaving.stats().assigned_partitions > 0; }));
    // A third member joins, and the second leaves while that rebalance is under way.
    ASSERT_EQ(StartLedgerConsumer(joining, ledger, uri), "");
    ASSERT_TRUE(WaitFor([&] { return leaving.stats().rebalances >= 2 || joining.stats().rebalances >= 1; }));
    leaving.StopAndJoin();
    joining.StopAndJoin();
  }
  const size_t keys = static_cast<size_t>(kRounds) * kPerRound;
  ASSERT_TRUE(WaitFor([&] { return ledger.Keys() == keys; })) << ledger.Keys() << " of " << keys;
  steady.StopAndJoin();
  for (const auto& [key, effects] : ledger.Effects()) EXPECT_EQ(effects, 1) << key;
  ExpectAllCommitted("billing", "orders", kPartitions);
}

// ---------------------------------------------------------------------------------------------------
// 2. Retry levels and the dead-letter topic.

bool TopicListed(RdKafka::Producer& client, const std::string& topic) {
  RdKafka::Metadata* raw = nullptr;
  if (client.metadata(/*all_topics=*/true, nullptr, &raw, 10'000) != RdKafka::ERR_NO_ERROR) return false;
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->topic() == topic && t->err() == RdKafka::ERR_NO_ERROR) return true;
  }
  return false;
}

// Retry topics are created with oncemq's dedup.window.ms=0, which Kafka refuses as INVALID_CONFIG: such a
// refusal must still leave the topics created (here oncemq refuses a setting it does not know).
TEST_F(ConsumerTest, TopicsAreCreatedWithoutASettingTheClusterRefuses) {
  std::string error;
  auto conf = MakeRdKafkaConf({{"bootstrap.servers", broker_->address()}}, &error);
  ASSERT_NE(conf, nullptr) << error;
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), error));
  ASSERT_NE(client, nullptr) << error;
  Status created = client::CreateMissingTopics(client->c_ptr(), {"shipments.retry.1", "shipments.dlq"}, 2,
                                               seconds(30), {{"no.such.setting", "1"}});
  ASSERT_TRUE(created.ok()) << created.ToString();
  EXPECT_TRUE(TopicListed(*client, "shipments.retry.1"));
  EXPECT_TRUE(TopicListed(*client, "shipments.dlq"));
  // A setting the cluster knows is applied.
  created = client::CreateMissingTopics(client->c_ptr(), {"shipments.windowless"}, 1, seconds(30),
                                        {{"dedup.window.ms", "0"}});
  ASSERT_TRUE(created.ok()) << created.ToString();
  EXPECT_TRUE(TopicListed(*client, "shipments.windowless"));
}

// A consumer started before its topic exists begins once the topic appears — not at librdkafka's next
// periodic metadata refresh (topic.metadata.refresh.interval.ms, 5 minutes by default).
TEST_F(ConsumerTest, ConsumerStartedBeforeItsTopicExistsConsumesOnceTheTopicAppears) {
  constexpr int kMessages = 5;
  std::atomic<int> handled{0};
  IdempotentConsumerOptions options = BaseOptions(broker_->address(), "late-readers", "late-orders");
  options.store = OpenStore("sqlite://" + broker_->work_dir() + "/late.db");
  RunningConsumer consumer;
  ASSERT_EQ(consumer.Start(options,
                           [&](const MessageView&, HandlerContext&) {
                             ++handled;
                             return Status::Ok();
                           }),
            "");
  // Joined (its retry topics are assigned) while its own topic was missing.
  ASSERT_TRUE(WaitFor([&] { return consumer.stats().assigned_partitions > 0; }));
  std::vector<Outgoing> messages;
  for (int i = 0; i < kMessages; ++i) messages.push_back({i % kPartitions, "late-" + std::to_string(i), "x"});
  ASSERT_EQ(Send(broker_->address(), "late-orders", messages), "");  // the broker creates the topic
  EXPECT_TRUE(WaitFor([&] { return handled.load() == kMessages; }, seconds(60)))
      << handled.load() << " of " << kMessages << " handled";
}

// A pattern subscription ("^…", as librdkafka reads one) started before any topic matches it: reported as
// a pattern nothing matches yet, not as a missing topic, and consumed once a matching topic appears — at the
// consumer's next look, not at librdkafka's periodic refresh (5 minutes by default).
TEST_F(ConsumerTest, PatternSubscriptionStartedBeforeAnyMatchConsumesOnceATopicMatches) {
  constexpr int kMessages = 4;
  CapturedLog log;
  std::atomic<int> handled{0};
  IdempotentConsumerOptions options = BaseOptions(broker_->address(), "late-readers", "^eu-.*");
  options.store = OpenStore("sqlite://" + broker_->work_dir() + "/late.db");
  RunningConsumer consumer;
  ASSERT_EQ(consumer.Start(options,
                           [&](const MessageView& message, HandlerContext&) {
                             if (message.topic == "eu-orders") ++handled;
                             return Status::Ok();
                           }),
            "");
  // The consumer has looked and found nothing matching before the topic exists.
  ASSERT_TRUE(WaitFor([&] { return log.Text().find("no topic matches ^eu-.* (yet)") != std::string::npos; }))
      << log.Text();
  std::vector<Outgoing> messages;
  for (int i = 0; i < kMessages; ++i) messages.push_back({i % kPartitions, "eu-" + std::to_string(i), "x"});
  ASSERT_EQ(Send(broker_->address(), "eu-orders", messages), "");  // the broker creates the topic
  EXPECT_TRUE(WaitFor([&] { return handled.load() == kMessages; }, seconds(60)))
      << handled.load() << " of " << kMessages << " handled";
  consumer.StopAndJoin();

  EXPECT_EQ(log.Text().find("does not exist"), std::string::npos) << log.Text();
}

TEST_F(ConsumerTest, FailingHandlerWalksTheRetryLevelsIntoTheDeadLetterTopic) {
  struct Try {
    std::string topic;
    int32_t attempt;
  };
  std::mutex mu;
  std::vector<Try> poison_tries;
  RunningConsumer consumer;
  IdempotentConsumerOptions options = BaseOptions(broker_->address(), "billing", "orders");
  options.store = OpenStore("sqlite://" + broker_->work_dir() + "/dedup.db");
  options.retry =
      RetryPolicy{.delays = {milliseconds(100), milliseconds(200), milliseconds(300)}, .max_attempts = 4};
  ASSERT_EQ(consumer.Start(options,
                           [&](const MessageView& message, HandlerContext& context) -> Status {
                             if (context.key == "malformed")
                               return Status::InvalidArgument("cannot parse order");
                             if (context.key != "poison") return Status::Ok();
                             std::lock_guard lock(mu);
                             poison_tries.push_back({std::string(message.topic), context.attempt});
                             return Status::IoError("payment service down");
                           }),
            "");
  ASSERT_EQ(Send(broker_->address(), "orders",
                 {{1, "fine", "ok"}, {1, "poison", "pay 10"}, {2, "malformed", "{"}, {1, "fine-2", "ok"}}),
            "");
  ASSERT_TRUE(WaitFor([&] { return consumer.stats().dead_lettered == 2; }))
      << consumer.stats().dead_lettered << " dead-lettered";
  consumer.StopAndJoin();

  {
    std::lock_guard lock(mu);
    ASSERT_EQ(poison_tries.size(), 4u);
    const std::vector<std::string> topics = {"orders", "billing.retry.1", "billing.retry.2",
                                             "billing.retry.3"};
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_EQ(poison_tries[i].topic, topics[i]) << "try " << i;
      EXPECT_EQ(poison_tries[i].attempt, static_cast<int32_t>(i + 1)) << "try " << i;
    }
  }
  const ConsumerStats stats = consumer.stats();
  EXPECT_EQ(stats.retried, 3u);
  EXPECT_EQ(stats.retried_by_level, (std::vector<uint64_t>{0, 1, 1, 1})) << "one copy per level";
  EXPECT_EQ(stats.handled, 2u);
  EXPECT_EQ(stats.handler_failures, 5u);  // poison four times, malformed once
  // fine, fine-2 and malformed once each; poison once per try, each after the last one released it.
  EXPECT_EQ(stats.claimed, 7u);

  // The retry copies carry the attempt count so far.
  std::string error;
  for (int level = 1; level <= 3; ++level) {
    auto copies = ReadAll(broker_->address(), "billing.retry." + std::to_string(level), 1, &error);
    ASSERT_EQ(error, "");
    ASSERT_EQ(copies.size(), 1u) << "level " << level;
    EXPECT_EQ(copies[0].Header(headers::kAttempt), std::to_string(level));
    EXPECT_EQ(copies[0].Header(headers::kOriginTopic), "orders");
  }
  auto dead = ReadAll(broker_->address(), "billing.dlq", 1, &error);
  ASSERT_EQ(error, "");
  ASSERT_EQ(dead.size(), 2u);
  std::map<std::string, ReadMessage> by_key;
  for (ReadMessage& m : dead) by_key[m.Header(headers::kMsgId).value_or("")] = m;
  ASSERT_TRUE(by_key.contains("poison") && by_key.contains("malformed"));
  const ReadMessage& poison = by_key["poison"];
  EXPECT_EQ(poison.payload, "pay 10");
  EXPECT_EQ(poison.Header(headers::kAttempt), "4");
  EXPECT_EQ(poison.Header(headers::kOriginTopic), "orders");
  EXPECT_EQ(poison.Header(headers::kOriginPartition), "1");
  EXPECT_EQ(poison.Header(headers::kOriginOffset), "1");
  EXPECT_NE(poison.Header(headers::kError).value_or("").find("payment service down"), std::string::npos);
  const ReadMessage& malformed = by_key["malformed"];
  EXPECT_EQ(malformed.Header(headers::kAttempt), "1");
  EXPECT_EQ(malformed.Header(headers::kOriginPartition), "2");
  EXPECT_NE(malformed.Header(headers::kError).value_or("").find("cannot parse order"), std::string::npos);

  ExpectAllCommitted("billing", "orders", kPartitions);
  for (int level = 1; level <= 3; ++level)
    ExpectAllCommitted("billing", "billing.retry." + std::to_string(level), 1);
}

// A retry copy that is due goes ahead of a later copy of its partition that is not: it is neither held
// behind the later one nor claimed twice (claim, give up, claim again).
TEST_F(ConsumerTest, ADueRetryCopyIsHandledAheadOfALaterCopyNotDueYet) {
  ASSERT_EQ(CreateTopic(broker_->address(), "billing.retry.1", 1), "");
  std::shared_ptr<DedupStore> store = OpenStore("sqlite://" + broker_->work_dir() + "/dedup.db");
  ASSERT_NE(store, nullptr);
  KeyRuns runs;
  RunningConsumer consumer;
  IdempotentConsumerOptions options = BaseOptions(broker_->address(), "billing", "orders");
  options.store = store;
  ASSERT_EQ(consumer.Start(options, runs.Recorder(store)), "");
  // Every source and retry partition assigned: the copies are fetched as soon as they land.
  const uint64_t all_partitions = kPartitions + options.retry.delays.size();
  ASSERT_TRUE(WaitFor([&] { return consumer.stats().assigned_partitions == all_partitions; }));

  const int64_t now_ms = store->NowMs().value();
  const int64_t late_due_ms = now_ms + 15'000;
  auto retry_copy = [](std::string key, int64_t deliver_at_ms) {
    return KeyedMessage{.partition = 0,
                        .key = key,
                        .payload = "p",
                        .msg_id = {},
                        .headers = {{std::string(headers::kAttempt), "1"},
                                    {std::string(headers::kDeliverAt), std::to_string(deliver_at_ms)}}};
  };
  // One producer batch, so that the consumer reads both copies in one pass.
  ASSERT_EQ(ProduceKeyed(broker_->address(), "billing.retry.1",
                         {retry_copy("due", now_ms - 1'000), retry_copy("late", late_due_ms)},
                         {{"linger.ms", "50"}}, kBound),
            "");
  ASSERT_TRUE(WaitFor([&] { return consumer.stats().handled == 2; })) << consumer.stats().handled;
  consumer.StopAndJoin();

  EXPECT_LT(runs.Of("due").store_time, late_due_ms) << "the due copy waited for the later one";
  EXPECT_GE(runs.Of("late").store_time, late_due_ms) << "the later copy ran before it was due";
  EXPECT_EQ(consumer.stats().claimed, 2u) << "a key was claimed, given up and claimed again";
  ExpectAllCommitted("billing", "billing.retry.1", 1);
}

// ---------------------------------------------------------------------------------------------------
// 3. A consumer killed inside its handler.

// The helper: consumes `orders` in GROUP with the store at URI; its handler appends "KEY TOKEN" to REPORT
// and, for KILL_KEY, SIGKILLs its own process right after.
int HelperMain(int argc, char** argv) {
  if (argc != 7 && argc != 8) {
    std::fprintf(stderr, "usage: %s %s ADDRESS GROUP URI KILL_KEY REPORT [transactional]\n", argv[0],
                 kHelperFlag);
    return 2;
  }
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const std::string address = argv[2], group = argv[3], uri = argv[4], kill_key = argv[5], report = argv[6];
  IdempotentConsumerOptions options = BaseOptions(address, group, "orders");
  options.lease = kHelperLease;
  options.kafka_config["session.timeout.ms"] = "3000";
  const bool transactional = argc == 8;
  if (transactional) {
    auto store = client::OpenTransactionalStore(uri);
    if (!store.ok()) return 3;
    options.transactional_store = *store;
  } else {
    auto store = client::OpenDedupStore(uri);
    if (!store.ok()) return 3;
    options.store = std::shared_ptr<DedupStore>(std::move(*store));
  }
  auto consumer =
      IdempotentConsumer::Create(options, [&](const MessageView&, HandlerContext& context) -> Status {
        std::ofstream(report, std::ios::app) << context.key << " " << context.fencing_token << std::endl;
        if (transactional) {
          const std::vector<SqlParam> params = {std::string(context.key), std::string("helper")};
          Result<int64_t> inserted =
              context.transaction->Execute("INSERT INTO applied (k, by_owner) VALUES (?, ?)", params);
          if (!inserted.ok()) return inserted.status();
        }
        if (context.key == kill_key) ::raise(SIGKILL);
        return Status::Ok();
      });
  if (!consumer.ok()) return 4;
  return (*consumer)->Run().ok() ? 0 : 5;
}

TEST_F(ConsumerTest, LeaseModeHandlesAKilledConsumersMessageAgainOnlyAfterTheLeaseRanOut) {
  const std::string uri = "sqlite://" + broker_->work_dir() + "/dedup.db";
  const std::string report = broker_->work_dir() + "/helper-report.txt";
  std::vector<Outgoing> messages;
  for (int k = 0; k < 10; ++k) messages.push_back({0, "k" + std::to_string(k), "p"});
  ASSERT_EQ(Send(broker_->address(), "orders", messages), "");

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string self = "/proc/self/exe";
    std::vector<std::string> args = {self, kHelperFlag, broker_->address(), "billing", uri, "k3", report};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return ::waitpid(child, &status, WNOHANG) == child; }));
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "helper status " << status;

  // The killed claim: CONSUMING, with the lease the helper took.
  std::shared_ptr<DedupStore> store = OpenStore(uri);
  auto killed = store->Get("billing", "k3");
  ASSERT_TRUE(killed.ok() && killed->has_value());
  ASSERT_EQ((*killed)->state, DedupState::kConsuming);
  const int64_t killed_token = (*killed)->fencing_token;
  // Each key's own lease end: the helper's renewer may have extended some of its claims and not others.
  std::map<std::string, int64_t> lease_end;
  for (int k = 0; k < 10; ++k) {
    const std::string name = "k" + std::to_string(k);
    auto record = store->Get("billing", name);
    ASSERT_TRUE(record.ok());
    if (record->has_value()) lease_end[name] = (*record)->lease_until_ms;
  }

  KeyRuns runs;
  RunningConsumer survivor;
  IdempotentConsumerOptions options = BaseOptions(broker_->address(), "billing", "orders");
  options.store = store;
  ASSERT_EQ(survivor.Start(options, runs.Recorder(store)), "");
  ASSERT_TRUE(WaitFor([&] { return runs.Keys() == 10; }));
  survivor.StopAndJoin();

  // The helper ran k0..k3 (its batch's CONSUMED records are written together after the batch, so none
  // was); every key it claimed runs again only once its lease ended, under a larger token; k4..k9 never
  // ran in the helper and run exactly once. No key is lost.
  std::ifstream in(report);
  std::map<std::string, int> helper_runs;
  std::string key;
  int64_t token;
  while (in >> key >> token) ++helper_runs[key];
  EXPECT_EQ(helper_runs["k3"], 1);
  EXPECT_EQ(helper_runs.count("k4"), 0u);
  EXPECT_GE(survivor.stats().delayed_in_progress, 1u) << "no message was held back by the live lease";
  for (int k = 0; k < 10; ++k) {
    const std::string name = "k" + std::to_string(k);
    ASSERT_EQ(runs.Of(name).count, 1) << name << " lost or run twice by the survivor";
    EXPECT_GE(runs.Of(name).store_time, lease_end[name])
        << name << " ran while the killed owner's lease was alive";
  }
  EXPECT_GT(runs.Of("k3").token, killed_token);
  // The helper claimed its whole batch before it died: the survivor took over all ten keys once their
  // leases ran out, each take-over counted once however often a copy came back to find the lease alive.
  EXPECT_EQ(survivor.stats().claimed, 10u);
  ExpectAllCommitted("billing", "orders", kPartitions);
}

// ---------------------------------------------------------------------------------------------------
// 5. Transactional mode: the effect is a row written in the handler's own transaction.

// Runs SQL on a store's database from outside the consumer; each result row's columns joined by '|'.
using RunSql = std::function<bool(const std::string& uri, const std::string& sql,
                                  std::vector<std::string>* rows, std::string* error)>;

std::string DatabaseOf(const std::string& uri) {
  return uri.substr(uri.rfind('/') + 1);
}

bool RunSqlite(const std::string& uri, const std::string& sql, std::vector<std::string>* rows,
               std::string* error) {
  sqlite3* db = nullptr;
  const std::string path = uri.substr(std::string("sqlite://").size());
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    *error = "cannot open " + path;
    sqlite3_close(db);
    return false;
  }
  sqlite3_busy_timeout(db, 10'000);
  char* message = nullptr;
  auto collect = [](void* out, int columns, char** values, char**) {
    std::string row;
    for (int i = 0; i < columns; ++i) row += (i > 0 ? "|" : "") + std::string(values[i] ? values[i] : "NULL");
    static_cast<std::vector<std::string>*>(out)->push_back(row);
    return 0;
  };
  std::vector<std::string> ignored;
  const int rc = sqlite3_exec(db, sql.c_str(), collect, rows != nullptr ? rows : &ignored, &message);
  if (rc != SQLITE_OK) *error = message != nullptr ? message : "sqlite error";
  sqlite3_free(message);
  sqlite3_close(db);
  return rc == SQLITE_OK;
}

struct TxStoreKind {
  const char* name;
  std::function<std::string(const std::string& work_dir, std::string* error)> uri;
  RunSql sql;
};

void PrintTo(const TxStoreKind& kind, std::ostream* os) {
  *os << kind.name;
}

std::vector<TxStoreKind> TransactionalStores() {
  return {
      TxStoreKind{"Sqlite",
                  [](const std::string& dir, std::string*) { return "sqlite://" + dir + "/dedup.db"; },
                  RunSqlite},
      TxStoreKind{"Postgres",
                  [](const std::string&, std::string* error) { return StoreServers::PostgresUri(error); },
                  [](const std::string& uri, const std::string& sql, std::vector<std::string>* rows,
                     std::string* error) {
                    return StoreServers::postgres()->Run(sql, error, rows, DatabaseOf(uri));
                  }},
      TxStoreKind{"Mariadb",
                  [](const std::string&, std::string* error) { return StoreServers::MariadbUri(error); },
                  [](const std::string& uri, const std::string& sql, std::vector<std::string>* rows,
                     std::string* error) {
                    // The server helper connects without a default database: name it in the statement.
                    std::string qualified = sql;
                    const size_t table = qualified.find(" applied");
                    if (table != std::string::npos) qualified.insert(table + 1, DatabaseOf(uri) + ".");
                    std::vector<std::vector<std::optional<std::string>>> result;
                    if (!qualified.starts_with("SELECT"))
                      return StoreServers::mariadb()->Run(qualified, error);
                    if (!StoreServers::mariadb()->Query(qualified, &result, error)) return false;
                    for (const auto& columns : result) {
                      std::string row;
                      for (size_t i = 0; i < columns.size(); ++i)
                        row += (i > 0 ? "|" : "") + columns[i].value_or("NULL");
                      if (rows != nullptr) rows->push_back(row);
                    }
                    return true;
                  }},
  };
}

constexpr char kAppliedTable[] =
    "CREATE TABLE applied (k VARCHAR(190) NOT NULL, by_owner VARCHAR(20) NOT NULL)";

// Rows of `applied` per key.
std::map<std::string, int> AppliedCounts(const TxStoreKind& kind, const std::string& uri) {
  std::vector<std::string> rows;
  std::string error;
  EXPECT_TRUE(kind.sql(uri, "SELECT k, COUNT(*) FROM applied GROUP BY k", &rows, &error)) << error;
  std::map<std::string, int> counts;
  for (const std::string& row : rows) {
    const size_t bar = row.find('|');
    counts[row.substr(0, bar)] = std::stoi(row.substr(bar + 1));
  }
  return counts;
}

class TransactionalConsumerTest : public ConsumerTest, public ::testing::WithParamInterface<TxStoreKind> {};

MessageHandler ApplyRow(const std::string& owner) {
  return [owner](const MessageView&, HandlerContext& context) -> Status {
    if (context.transaction == nullptr) return Status::InvalidArgument("no transaction");
    const std::vector<SqlParam> params = {std::string(context.key), owner};
    Result<int64_t> inserted =
        context.transaction->Execute("INSERT INTO applied (k, by_owner) VALUES (?, ?)", params);
    return inserted.ok() ? Status::Ok() : inserted.status();
  };
}

TEST_P(TransactionalConsumerTest, EveryKeySentTwiceWritesOneRowAcrossTwoConsumers) {
  std::string error;
  const std::string uri = GetParam().uri(broker_->work_dir(), &error);
  ASSERT_NE(uri, "") << error;
  {
    auto created = client::OpenTransactionalStore(uri);  // creates the store's tables first
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  ASSERT_TRUE(GetParam().sql(uri, kAppliedTable, nullptr, &error)) << error;
  constexpr int kKeys = 150;
  RunningConsumer a, b;
  for (auto [consumer, name] : {std::pair{&a, "a"}, std::pair{&b, "b"}}) {
    IdempotentConsumerOptions options = BaseOptions(broker_->address(), "billing", "orders");
    auto store = client::OpenTransactionalStore(uri);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    options.transactional_store = *store;
    options.owner = name;
    options.max_batch = 64;
    ASSERT_EQ(consumer->Start(options, ApplyRow(name)), "");
  }
  ASSERT_TRUE(WaitFor([&] {
    const uint64_t owned_a = a.stats().assigned_partitions, owned_b = b.stats().assigned_partitions;
    return owned_a > 0 && owned_b > 0 && owned_a + owned_b == kPartitions + 3;
  }));
  std::vector<Outgoing> wave;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "order-" + std::to_string(k);
    wave.push_back({k % kPartitions, key, "p"});
    wave.push_back({(k + 1) % kPartitions, key, "p"});
  }
  ASSERT_EQ(Send(broker_->address(), "orders", wave), "");
  auto settled = [&] {
    return a.stats().handled + b.stats().handled == kKeys &&
           a.stats().duplicates + b.stats().duplicates == kKeys;
  };
  ASSERT_TRUE(WaitFor(settled)) << "handled " << a.stats().handled + b.stats().handled << ", duplicates "
                                << a.stats().duplicates + b.stats().duplicates;
  a.StopAndJoin();
  b.StopAndJoin();
  std::map<std::string, int> applied = AppliedCounts(GetParam(), uri);
  EXPECT_EQ(applied.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, rows] : applied) EXPECT_EQ(rows, 1) << key;
  EXPECT_GT(a.stats().handled, 0u);
  EXPECT_GT(b.stats().handled, 0u);
  EXPECT_EQ(a.stats().claimed + b.stats().claimed, static_cast<uint64_t>(kKeys));
  ExpectAllCommitted("billing", "orders", kPartitions);
}

TEST_P(TransactionalConsumerTest, ConsumerKilledInItsHandlerLeavesNoRowAndTheKeyAppliesOnce) {
  std::string error;
  const std::string uri = GetParam().uri(broker_->work_dir(), &error);
  ASSERT_NE(uri, "") << error;
  {
    auto created = client::OpenTransactionalStore(uri);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  ASSERT_TRUE(GetParam().sql(uri, kAppliedTable, nullptr, &error)) << error;
  std::vector<Outgoing> messages;
  for (int k = 0; k < 10; ++k) messages.push_back({0, "k" + std::to_string(k), "p"});
  ASSERT_EQ(Send(broker_->address(), "orders", messages), "");

  const std::string report = broker_->work_dir() + "/helper-report.txt";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::vector<std::string> args = {
        "/proc/self/exe", kHelperFlag, broker_->address(), "billing", uri, "k3", report, "transactional"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return ::waitpid(child, &status, WNOHANG) == child; }));
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "helper status " << status;
  std::map<std::string, int> before = AppliedCounts(GetParam(), uri);
  EXPECT_EQ(before.count("k3"), 0u) << "the killed handler's row survived";
  EXPECT_EQ(before.size(), 3u) << "k0..k2 committed before the kill";

  RunningConsumer survivor;
  IdempotentConsumerOptions options = BaseOptions(broker_->address(), "billing", "orders");
  auto store = client::OpenTransactionalStore(uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  options.transactional_store = *store;
  ASSERT_EQ(survivor.Start(options, ApplyRow("survivor")), "");
  ASSERT_TRUE(WaitFor([&] { return survivor.stats().handled + survivor.stats().duplicates == 10; }));
  survivor.StopAndJoin();
  std::map<std::string, int> applied = AppliedCounts(GetParam(), uri);
  ASSERT_EQ(applied.size(), 10u);
  for (const auto& [key, rows] : applied) EXPECT_EQ(rows, 1) << key;
  EXPECT_EQ(survivor.stats().handled, 7u);  // k3..k9
  EXPECT_EQ(survivor.stats().claimed, 7u);  // the duplicates k0..k2 are not claims
  ExpectAllCommitted("billing", "orders", kPartitions);
}

INSTANTIATE_TEST_SUITE_P(SqlStores, TransactionalConsumerTest, ::testing::ValuesIn(TransactionalStores()),
                         [](const ::testing::TestParamInfo<TxStoreKind>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------------
// 4. The store goes away and comes back.

// Keys o<from> … o<to - 1>, spread round-robin over the partitions.
std::vector<Outgoing> Orders(int from, int to) {
  std::vector<Outgoing> out;
  for (int k = from; k < to; ++k) out.push_back({k % kPartitions, "o" + std::to_string(k), "p"});
  return out;
}

// True when group "billing" has committed exactly `offset` on every partition of "orders".
bool BillingCommittedEverywhereAt(const std::string& address, int64_t offset) {
  std::string ignored;
  Progress progress = ProgressOf(address, "billing", "orders", kPartitions, &ignored);
  for (int32_t p = 0; p < kPartitions; ++p) {
    if (progress.committed[p] != offset) return false;
  }
  return true;
}

// The opening of the store-outage tests: Redis up, a ledger consumer on it, orders o0 … o<n - 1> handled
// and committed — a store killed mid-complete would keep the loop retrying that write — then Redis killed
// and o<n> … o<2n - 1> sent, until the consumer has seen `failures` store failures holding them.
class StoreOutageTest : public ConsumerTest {
 protected:
  void HandleThenLoseTheStore(int n, uint64_t failures) {
    std::string error;
    ASSERT_TRUE(redis_.Start(&error)) << error;
    ASSERT_EQ(StartLedgerConsumer(consumer_, ledger_, redis_.uri()), "");
    ASSERT_EQ(Send(broker_->address(), "orders", Orders(0, n)), "");
    ASSERT_TRUE(WaitFor([&] { return ledger_.Keys() == static_cast<size_t>(n); }));
    ASSERT_TRUE(WaitFor([&] { return BillingCommittedEverywhereAt(broker_->address(), n / kPartitions); }));
    redis_.Kill();
    ASSERT_EQ(Send(broker_->address(), "orders", Orders(n, 2 * n)), "");
    ASSERT_TRUE(WaitFor([&] { return consumer_.stats().store_failures >= failures; }));
  }

  RedisServer redis_{/*durable=*/true};
  Ledger ledger_;
  RunningConsumer consumer_;
};

TEST_F(StoreOutageTest, StoreOutageHoldsMessagesUntilTheStoreIsBack) {
  ASSERT_NO_FATAL_FAILURE(HandleThenLoseTheStore(100, 3));
  std::string error;
  EXPECT_EQ(ledger_.Keys(), 100u) << "a handler ran while the store was down";
  EXPECT_EQ(consumer_.stats().unprotected, 0u);
  // Nothing in doubt is committed past: each partition's commit stays at the first held message (25 of
  // the first 100 went to each partition).
  std::string progress_error;
  Progress during = ProgressOf(broker_->address(), "billing", "orders", kPartitions, &progress_error);
  ASSERT_EQ(progress_error, "");
  for (int32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(during.end[p], 50) << p;
    EXPECT_LE(during.committed[p], 25)
        << "partition " << p << " committed past a message the store never saw";
  }

  ASSERT_TRUE(redis_.Restart(&error)) << error;
  ASSERT_TRUE(WaitFor([&] { return ledger_.Keys() == 200; })) << ledger_.Keys();
  // Copies of already handled keys are still recognised after the restart.
  ASSERT_EQ(Send(broker_->address(), "orders", Orders(0, 20)), "");
  ASSERT_TRUE(WaitFor([&] { return consumer_.stats().duplicates >= 20; }));
  consumer_.StopAndJoin();
  for (const auto& [key, effects] : ledger_.Effects()) EXPECT_EQ(effects, 1) << key;
  ExpectAllCommitted("billing", "orders", kPartitions);
}

// A rebalance while the store is down: the member's partitions are paused on held messages when the group
// takes them away (here the broker restarts, so the group is formed anew) and gives them back. librdkafka
// keeps a pause across that; the consumer must resume them, or the partitions are never fetched again.
TEST_F(StoreOutageTest, PartitionsHeldForTheStoreAndGivenBackByARebalanceAreFetchedAgain) {
  // The first 40 committed first: a loop retrying a write to the dead store lets no rebalance reach it.
  ASSERT_NO_FATAL_FAILURE(HandleThenLoseTheStore(40, 2));  // 2 failures: every partition held
  std::string error;
  const uint64_t assignments = consumer_.stats().rebalances;
  ASSERT_TRUE(broker_->Kill());
  ASSERT_TRUE(broker_->Restart(&error)) << error;
  ASSERT_TRUE(WaitFor([&] {
    const ConsumerStats s = consumer_.stats();
    return s.rebalances > assignments && s.assigned_partitions > 0;
  })) << "the consumer was not given its partitions again";

  ASSERT_TRUE(redis_.Restart(&error)) << error;
  EXPECT_TRUE(WaitFor([&] { return ledger_.Keys() == 80; })) << ledger_.Keys() << " of 80 keys handled";
  consumer_.StopAndJoin();
  for (const auto& [key, effects] : ledger_.Effects()) EXPECT_EQ(effects, 1) << key;
}

}  // namespace
}  // namespace oncemq::testing

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == oncemq::testing::kHelperFlag) {
    return oncemq::testing::HelperMain(argc, argv);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
