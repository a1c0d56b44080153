// The reliable producer's outbox end to end (issue 6): a real broker, real librdkafka, outboxes in SQLite
// (and one case each in a real PostgreSQL and a real Redis). What each case shows:
// - the relay delivers every stored message once, in order per key, and records where it landed;
// - a process killed right after its business commit loses nothing: the next relay sends its messages;
// - a relay killed in the middle of a round loses nothing, and what it had sent already is not doubled:
//   the next relay re-sends with the same msg-ids and the broker's msg-id window drops the copies;
// - while the broker is down, messages wait (no attempt is spent) and flow when it returns;
// - acks lost on the way back (a fault proxy swallows produce responses): compensation re-sends and the
//   topic still holds each message once;
// - a message the broker never takes (too large) is FAILED after 3 attempts with its error, and
//   `oncemq outbox list --failed | retry | drop` show and act on it.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "chaos/fault_proxy.h"
#include "client/consumer/rdkafka_config.h"
#include "oncemq/outbox.h"
#include "support/broker_process.h"
#include "support/cli_process.h"
#include "support/rdkafka_util.h"
#include "support/servers/postgres_server.h"
#include "support/servers/redis_server.h"

namespace oncemq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using chaos::FaultAction;
using chaos::FaultProxy;
using chaos::FaultRule;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kBound = seconds(120);  // the bound on every wait for a condition
constexpr int16_t kProduceApi = 0;
constexpr char kMsgId[] = "oncemq-msg-id";

struct Landed {
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::string payload;
  std::string msg_id;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

OutgoingMessage Msg(const std::string& topic, int n, int keys) {
  return OutgoingMessage{
      topic, "key-" + std::to_string(n % keys), std::to_string(n), {{"n", std::to_string(n)}}, ""};
}

class OutboxRelayTest : public ::testing::Test {
 protected:
  void StartBroker(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--dedup-window-ms", "600000"});
    broker_ = std::make_unique<BrokerProcess>(extra);
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
    outbox_uri_ = "sqlite://" + broker_->work_dir() + "/outbox.db";
  }

  std::shared_ptr<Outbox> OpenOutbox(const std::string& uri) {
    Result<std::shared_ptr<Outbox>> outbox = Outbox::Open(uri);
    EXPECT_TRUE(outbox.ok()) << outbox.status().ToString();
    return outbox.ok() ? *outbox : nullptr;
  }

  void CreateTopic(const std::string& topic, int partitions) {
    std::string error;
    auto conf = MakeRdKafkaConf({{"bootstrap.servers", broker_->address()}}, &error);
    ASSERT_NE(conf, nullptr) << error;
    std::unique_ptr<RdKafka::Producer> admin(RdKafka::Producer::create(conf.get(), error));
    ASSERT_NE(admin, nullptr) << error;
    Status created = client::CreateMissingTopics(admin->c_ptr(), {topic}, partitions, seconds(30));
    ASSERT_TRUE(created.ok()) << created.ToString();
  }

  std::unique_ptr<OutboxRelay> MakeRelay(std::shared_ptr<Outbox> outbox, const std::string& bootstrap,
                                         milliseconds ack_timeout = seconds(10), int max_attempts = 3) {
    OutboxRelayOptions options;
    options.producer.bootstrap_servers = bootstrap;
    options.producer.ack_timeout = ack_timeout;
    options.lease = ack_timeout * 2 + seconds(10);
    options.batch = 100;
    options.retry = {
        .max_attempts = max_attempts, .retry_backoff = milliseconds(10), .max_backoff = seconds(1)};
    Result<std::unique_ptr<OutboxRelay>> relay = OutboxRelay::Create(std::move(outbox), options);
    EXPECT_TRUE(relay.ok()) << relay.status().ToString();
    return relay.ok() ? std::move(*relay) : nullptr;
  }

  // Rounds until nothing is SENDING (FAILED counts as done); false if that takes longer than the bound.
  bool RelayUntilEmpty(OutboxRelay& relay, Outbox& outbox) {
    return WaitFor(
        [&] {
          Result<size_t> n = relay.RunOnce();
          EXPECT_TRUE(n.ok()) << n.status().ToString();
          Result<OutboxCounts> counts = outbox.Counts();
          return counts.ok() && counts->sending == 0;
        },
        kBound);
  }

  // Every record of every partition of `topic`, read to each partition's end.
  std::vector<Landed> ReadTopic(const std::string& topic) {
    std::vector<Landed> records;
    std::string error;
    auto conf = MakeRdKafkaConf({{"bootstrap.servers", broker_->address()},
                                 {"group.id", "outbox-check"},
                                 {"enable.auto.commit", "false"},
                                 {"enable.partition.eof", "true"}},
                                &error);
    EXPECT_NE(conf, nullptr) << error;
    if (conf == nullptr) return records;
    ConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
    RdKafka::Metadata* raw = nullptr;
    std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(consumer.get(), topic, nullptr, error));
    EXPECT_EQ(consumer->metadata(false, handle.get(), &raw, 10'000), RdKafka::ERR_NO_ERROR);
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    const size_t partitions =
        metadata && !metadata->topics()->empty() ? metadata->topics()->at(0)->partitions()->size() : 0;
    std::vector<std::pair<int32_t, int64_t>> starts;
    for (size_t p = 0; p < partitions; ++p)
      starts.emplace_back(static_cast<int32_t>(p), RdKafka::Topic::OFFSET_BEGINNING);
    EXPECT_EQ(AssignPartitions(*consumer, topic, starts), RdKafka::ERR_NO_ERROR);
    std::set<int32_t> ended;
    const auto deadline = Clock::now() + kBound;
    while (ended.size() < partitions && Clock::now() < deadline) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
      if (m->err() == RdKafka::ERR__PARTITION_EOF) ended.insert(m->partition());
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      Landed r{m->partition(), m->offset(), std::nullopt,
               std::string(static_cast<const char*>(m->payload()), m->len()), ""};
      if (m->key() != nullptr) r.key = *m->key();
      if (RdKafka::Headers* h = m->headers(); h != nullptr) {
        for (const auto& header : h->get_all()) {
          if (header.key() == kMsgId)
            r.msg_id.assign(static_cast<const char*>(header.value()), header.value_size());
        }
      }
      records.push_back(std::move(r));
    }
    EXPECT_EQ(ended.size(), partitions) << topic << " not read to its end";
    return records;
  }

  // Every message of the outbox is in the topic exactly once, where the outbox says it landed.
  void ExpectEachMessageOnce(Outbox& outbox, const std::vector<Landed>& records, size_t expected) {
    std::map<std::string, int> copies;
    std::map<std::string, const Landed*> by_id;
    for (const Landed& r : records) {
      ++copies[r.msg_id];
      by_id[r.msg_id] = &r;
    }
    Result<std::vector<OutboxEntry>> entries =
        outbox.List({.status = std::nullopt, .after_id = 0, .limit = 1'000'000});
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    ASSERT_EQ(entries->size(), expected);
    std::map<std::pair<int32_t, int64_t>, std::string> at;
    for (const Landed& r : records) at[{r.partition, r.offset}] = r.msg_id;
    size_t misplaced = 0;
    for (const OutboxEntry& e : *entries) {
      ASSERT_EQ(e.status, OutboxStatus::kSent) << "message " << e.id << ": " << e.last_error;
      ASSERT_EQ(copies[e.message.msg_id], 1) << "msg-id " << e.message.msg_id;
      EXPECT_EQ(by_id[e.message.msg_id]->payload, e.message.payload);
      auto recorded = at.find({e.partition, e.offset});
      if (recorded != at.end() && recorded->second != e.message.msg_id) ++misplaced;
    }
    // Where a SENT row says its message landed holds that message — or nothing: the ack of a re-send the
    // msg-id window dropped names the original's offset when the whole batch was duplicates, but an empty
    // slot of the new batch when only part of it was (docs/dedup.md). Never another message.
    EXPECT_EQ(misplaced, 0u) << "SENT rows whose partition/offset holds another message";
    EXPECT_EQ(records.size(), expected) << "records in the topic";
  }

  // Per key, the payload numbers in the topic's order only grow.
  static void ExpectKeyOrder(const std::vector<Landed>& records) {
    std::map<std::string, int> last;
    for (const Landed& r : records) {
      ASSERT_TRUE(r.key.has_value());
      const int n = std::stoi(r.payload);
      auto [it, fresh] = last.try_emplace(*r.key, n);
      EXPECT_TRUE(fresh || it->second < n) << "key " << *r.key << ": " << n << " after " << it->second;
      it->second = n;
    }
  }

  std::unique_ptr<BrokerProcess> broker_;
  std::string outbox_uri_;
};

TEST_F(OutboxRelayTest, RelayDeliversEveryMessageOnceInKeyOrderAndRecordsWhereItLanded) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  ASSERT_NO_FATAL_FAILURE(CreateTopic("payments", 3));
  std::shared_ptr<Outbox> outbox = OpenOutbox(outbox_uri_);
  ASSERT_NE(outbox, nullptr);
  constexpr int kMessages = 2000;
  for (int first = 0; first < kMessages; first += 250) {
    std::vector<OutgoingMessage> batch;
    for (int n = first; n < first + 250; ++n) batch.push_back(Msg("payments", n, 25));
    ASSERT_TRUE(outbox->Send(std::move(batch)).ok());
  }
  std::unique_ptr<OutboxRelay> relay = MakeRelay(outbox, broker_->address());
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(RelayUntilEmpty(*relay, *outbox));
  EXPECT_EQ(relay->stats().sent, static_cast<uint64_t>(kMessages));
  std::vector<Landed> records = ReadTopic("payments");
  ASSERT_NO_FATAL_FAILURE(ExpectEachMessageOnce(*outbox, records, kMessages));
  ExpectKeyOrder(records);
}

TEST_F(OutboxRelayTest, RelayOverAPostgresOutboxDeliversEveryMessageOnce) {
  PostgresServer postgres;
  std::string error;
  ASSERT_TRUE(postgres.Start(&error)) << error;
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  std::shared_ptr<Outbox> outbox = OpenOutbox(postgres.uri());
  ASSERT_NE(outbox, nullptr);
  constexpr int kMessages = 500;
  std::vector<OutgoingMessage> batch;
  for (int n = 0; n < kMessages; ++n) batch.push_back(Msg("pg-payments", n, 7));
  ASSERT_TRUE(outbox->Send(std::move(batch)).ok());
  std::unique_ptr<OutboxRelay> relay = MakeRelay(outbox, broker_->address());
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(RelayUntilEmpty(*relay, *outbox));
  std::vector<Landed> records = ReadTopic("pg-payments");
  ASSERT_NO_FATAL_FAILURE(ExpectEachMessageOnce(*outbox, records, kMessages));
  ExpectKeyOrder(records);
}

TEST_F(OutboxRelayTest, RelayOverARedisOutboxDeliversEveryMessageOnce) {
  RedisServer redis(/*durable=*/true);
  std::string error;
  ASSERT_TRUE(redis.Start(&error)) << error;
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  std::shared_ptr<Outbox> outbox = OpenOutbox(redis.uri());
  ASSERT_NE(outbox, nullptr);
  constexpr int kMessages = 500;
  std::vector<OutgoingMessage> batch;
  for (int n = 0; n < kMessages; ++n) batch.push_back(Msg("redis-payments", n, 7));
  ASSERT_TRUE(outbox->Send(std::move(batch)).ok());
  std::unique_ptr<OutboxRelay> relay = MakeRelay(outbox, broker_->address());
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(RelayUntilEmpty(*relay, *outbox));
  EXPECT_EQ(relay->stats().sent, static_cast<uint64_t>(kMessages));
  std::vector<Landed> records = ReadTopic("redis-payments");
  ASSERT_NO_FATAL_FAILURE(ExpectEachMessageOnce(*outbox, records, kMessages));
  ExpectKeyOrder(records);
}

TEST_F(OutboxRelayTest, ProcessKilledAfterItsBusinessCommitLosesNoMessage) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  constexpr int kPayments = 50;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the payment service: commits business rows with their messages, then dies
    Result<std::shared_ptr<Outbox>> outbox = Outbox::Open(outbox_uri_);
    if (!outbox.ok()) _exit(2);
    if (!(*outbox)->database()->Execute("CREATE TABLE payments(id INTEGER PRIMARY KEY)").ok()) _exit(3);
    for (int n = 0; n < kPayments; ++n) {
      Status s = (*outbox)->Transact([&](SqlTransaction& tx) -> Status {
        const SqlParam id[] = {std::to_string(n)};
        if (Result<int64_t> r = tx.Execute("INSERT INTO payments(id) VALUES(?)", id); !r.ok())
          return r.status();
        return (*outbox)->Send(tx, Msg("cards", n, 5)).status();
      });
      if (!s.ok()) _exit(4);
    }
    raise(SIGKILL);  // before any relay ran
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the child failed before its kill";

  std::shared_ptr<Outbox> outbox = OpenOutbox(outbox_uri_);  // the restarted service
  ASSERT_NE(outbox, nullptr);
  ASSERT_EQ(outbox->Counts()->sending, kPayments);
  std::unique_ptr<OutboxRelay> relay = MakeRelay(outbox, broker_->address());
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(RelayUntilEmpty(*relay, *outbox));
  std::vector<Landed> records = ReadTopic("cards");
  ASSERT_NO_FATAL_FAILURE(ExpectEachMessageOnce(*outbox, records, kPayments));
}

TEST_F(OutboxRelayTest, RelayKilledMidRoundLosesNothingAndTheWindowDropsItsResends) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  std::shared_ptr<Outbox> outbox = OpenOutbox(outbox_uri_);
  ASSERT_NE(outbox, nullptr);
  constexpr int kMessages = 20'000;
  for (int first = 0; first < kMessages; first += 1000) {
    std::vector<OutgoingMessage> batch;
    for (int n = first; n < first + 1000; ++n) batch.push_back(Msg("ledger", n, 50));
    ASSERT_TRUE(outbox->Send(std::move(batch)).ok());
  }
  {
    CliProcess relay({"outbox", "relay", "--outbox", outbox_uri_, "--bootstrap", broker_->address(),
                      "--batch", "200", "--ack-timeout-ms", "2000"},
                     broker_->work_dir() + "/relay.log");
    ASSERT_TRUE(relay.started());
    ASSERT_TRUE(WaitFor([&] { return outbox->Counts()->sent >= kMessages / 4; }, kBound))
        << "the relay process sent too little";
    relay.Kill();
  }
  Result<OutboxCounts> left = outbox->Counts();
  ASSERT_TRUE(left.ok());
  ASSERT_GT(left->sending, 0) << "killed too late to test anything";
  // The killed relay's claim holds its rows until its lease (2 × 2 s + 10 s) runs out.
  std::unique_ptr<OutboxRelay> relay = MakeRelay(outbox, broker_->address());
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(RelayUntilEmpty(*relay, *outbox));
  std::vector<Landed> records = ReadTopic("ledger");
  ASSERT_NO_FATAL_FAILURE(ExpectEachMessageOnce(*outbox, records, kMessages));
  ExpectKeyOrder(records);
}

TEST_F(OutboxRelayTest, MessagesWaitWhileTheBrokerIsDownAndFlowWhenItReturns) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  std::shared_ptr<Outbox> outbox = OpenOutbox(outbox_uri_);
  ASSERT_NE(outbox, nullptr);
  // An ack timeout a just-restarted broker (producer id, topic creation, first fsync) meets even on a starved
  // machine: an attempt that timed out would be counted, and the outage must cost none.
  std::unique_ptr<OutboxRelay> relay = MakeRelay(outbox, broker_->address(), seconds(20));
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(broker_->Kill());
  constexpr int kMessages = 300;
  std::vector<OutgoingMessage> batch;
  for (int n = 0; n < kMessages; ++n) batch.push_back(Msg("orders", n, 10));
  ASSERT_TRUE(outbox->Send(std::move(batch)).ok());
  for (int round = 0; round < 3; ++round) {
    Result<size_t> claimed = relay->RunOnce();
    ASSERT_TRUE(claimed.ok());
    EXPECT_EQ(*claimed, 0u) << "nothing is claimed while the broker does not answer";
  }
  EXPECT_GE(relay->stats().unreachable, 3u);
  Result<OutboxCounts> waiting = outbox->Counts();
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(waiting->sending, kMessages);
  std::string error;
  ASSERT_TRUE(broker_->Restart(&error)) << error;
  ASSERT_TRUE(RelayUntilEmpty(*relay, *outbox));
  Result<std::vector<OutboxEntry>> entries =
      outbox->List({.status = std::nullopt, .after_id = 0, .limit = 1000});
  ASSERT_TRUE(entries.ok());
  for (const OutboxEntry& e : *entries)
    EXPECT_EQ(e.attempts, 1) << "the outage cost message " << e.id << " attempts";
  std::vector<Landed> records = ReadTopic("orders");
  ASSERT_NO_FATAL_FAILURE(ExpectEachMessageOnce(*outbox, records, kMessages));
}

TEST_F(OutboxRelayTest, LostAcksAreCompensatedAndTheTopicHoldsEachMessageOnce) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  FaultProxy proxy("127.0.0.1", broker_->port(), /*seed=*/20261205);
  std::string error;
  ASSERT_TRUE(proxy.Start(&error)) << error;
  // A swallowed produce response leaves its connection silent for longer than the ack time-out, so the
  // producer cannot retry on its own in time: the message is nacked and compensation re-sends it.
  proxy.SetRule(kProduceApi, FaultRule{.drop_response = 0.15,
                                       .cut = 0,
                                       .delay_probability = 0,
                                       .delay = milliseconds(0),
                                       .lost_ack_close_min = milliseconds(4000),
                                       .lost_ack_close_max = milliseconds(5000)});
  proxy.ArmOnce(kProduceApi, FaultAction::kDropResponse);  // one whatever the dice say
  std::shared_ptr<Outbox> outbox = OpenOutbox(outbox_uri_);
  ASSERT_NE(outbox, nullptr);
  constexpr int kMessages = 1000;
  std::vector<OutgoingMessage> batch;
  for (int n = 0; n < kMessages; ++n) batch.push_back(Msg("invoices", n, 20));
  ASSERT_TRUE(outbox->Send(std::move(batch)).ok());
  std::unique_ptr<OutboxRelay> relay = MakeRelay(outbox, proxy.address(), seconds(2), /*max_attempts=*/50);
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(RelayUntilEmpty(*relay, *outbox));
  EXPECT_GT(proxy.Counters().lost_acks, 0) << proxy.Counters().ToString();
  EXPECT_GT(relay->stats().resends, 0u) << "no message was re-sent: compensation was not exercised";
  std::vector<Landed> records = ReadTopic("invoices");
  ASSERT_NO_FATAL_FAILURE(ExpectEachMessageOnce(*outbox, records, kMessages));
  ExpectKeyOrder(records);
}

TEST_F(OutboxRelayTest, UndeliverableMessageIsFailedAfterThreeAttemptsAndPeopleCanSeeAndActOnIt) {
  ASSERT_NO_FATAL_FAILURE(StartBroker({"--max-message-bytes", "20000"}));
  std::shared_ptr<Outbox> outbox = OpenOutbox(outbox_uri_);
  ASSERT_NE(outbox, nullptr);
  OutgoingMessage big{"uploads", "k", std::string(100'000, 'x'), {}, "too-big-1"};
  OutgoingMessage fine{"uploads", "other", "small", {}, "fine-1"};
  ASSERT_TRUE(outbox->Send({big, fine}).ok());
  std::unique_ptr<OutboxRelay> relay = MakeRelay(outbox, broker_->address(), seconds(10));
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(RelayUntilEmpty(*relay, *outbox));
  Result<std::vector<OutboxEntry>> failed =
      outbox->List({.status = OutboxStatus::kFailed, .after_id = 0, .limit = 10});
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 1u);
  const OutboxEntry& e = failed->front();
  EXPECT_EQ(e.message.msg_id, "too-big-1");
  EXPECT_EQ(e.attempts, 3);
  EXPECT_TRUE(Contains(e.last_error, "too large") || Contains(e.last_error, "TOO_LARGE")) << e.last_error;
  EXPECT_EQ(relay->stats().failed, 1u);

  const std::string dir = broker_->work_dir();
  CliRun list = RunCli(dir, {"outbox", "list", "--outbox", outbox_uri_, "--failed"});
  ASSERT_EQ(list.exit_code, 0) << Describe(list);
  EXPECT_TRUE(Contains(list.out, "1 SENT, 1 FAILED")) << Describe(list);
  EXPECT_TRUE(Contains(list.out, "too-big-1")) << Describe(list);
  EXPECT_FALSE(Contains(list.out, "fine-1")) << Describe(list);
  EXPECT_TRUE(Contains(list.out, "FAILED  3")) << Describe(list);

  const std::string id = std::to_string(e.id);
  CliRun not_failed = RunCli(dir, {"outbox", "drop", "--outbox", outbox_uri_, std::to_string(e.id + 1)});
  EXPECT_EQ(not_failed.exit_code, 2) << Describe(not_failed);
  CliRun retry = RunCli(dir, {"outbox", "retry", "--outbox", outbox_uri_, id});
  ASSERT_EQ(retry.exit_code, 0) << Describe(retry);
  EXPECT_EQ(outbox->Get(e.id).value()->status, OutboxStatus::kSending);
  ASSERT_TRUE(RelayUntilEmpty(*relay, *outbox));
  EXPECT_EQ(outbox->Get(e.id).value()->attempts, 3) << "a retried message gets max_attempts again";
  CliRun drop = RunCli(dir, {"outbox", "drop", "--outbox", outbox_uri_, id});
  ASSERT_EQ(drop.exit_code, 0) << Describe(drop);
  EXPECT_FALSE(outbox->Get(e.id).value().has_value());
  std::vector<Landed> records = ReadTopic("uploads");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].msg_id, "fine-1");
}

}  // namespace
}  // namespace oncemq::testing
