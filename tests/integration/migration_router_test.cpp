// The migration router end to end (issue 6): two real oncemq brokers (the old and the new cluster), a real
// Redis for the per-message locks, an IdempotentConsumer per side with its own SQLite dedup store.
// A producer writes every message to both clusters with the same msg-id while the cut-over percentage moves
// 0 → 50 → 100 mid-stream and the new side is switched on only part-way; an allow-listed key always goes to
// the new side; some messages fail on their first attempt and are retried by the side that took them.
// Every message's effect happens exactly once, on the side that holds its lock.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/consumer/rdkafka_config.h"
#include "client/stores/open_dedup_store.h"
#include "oncemq/migration_router.h"
#include "oncemq/redis_lock.h"
#include "oncemq/reliable_producer.h"
#include "support/broker_process.h"
#include "support/cli_process.h"
#include "support/rdkafka_util.h"
#include "support/servers/redis_server.h"

namespace oncemq::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kMessages = 1200;
constexpr char kTopic[] = "payments";

std::vector<std::string> BrokerArgs() {
  return {"--partitions", "2", "--group-initial-rebalance-delay-ms", "0", "--group-min-session-timeout-ms",
          "1000"};
}

IdempotentConsumerOptions SideOptions(const std::string& address) {
  IdempotentConsumerOptions o;
  o.bootstrap_servers = address;
  o.group = "cards";
  o.topics = {kTopic};
  o.kafka_config = {{"session.timeout.ms", "3000"}, {"heartbeat.interval.ms", "300"}};
  o.retry.delays = {milliseconds(100), milliseconds(200), milliseconds(300)};
  o.lease = seconds(10);
  o.max_store_backoff = milliseconds(500);
  return o;
}

std::shared_ptr<DedupStore> DedupStoreFor(const std::string& uri) {
  Result<std::unique_ptr<DedupStore>> store = client::OpenDedupStore(uri);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::shared_ptr<DedupStore>(std::move(*store)) : nullptr;
}

std::string MsgId(int n) {
  return "pay-" + std::to_string(n);
}
std::string KeyOf(int n) {
  return n % 50 == 0 ? "vip" : "k" + std::to_string(n % 10);
}

TEST(MigrationRouteTest, AllowListedKeysGoToTheNewSideWhateverThePercentage) {
  const std::set<std::string> allow = {"vip"};
  EXPECT_EQ(MigrationRouter::Route("id-1", std::string_view("vip"), 0, allow), MigrationSide::kNew);
  EXPECT_EQ(MigrationRouter::Route("id-1", std::string_view("other"), 0, allow), MigrationSide::kOld);
  EXPECT_EQ(MigrationRouter::Route("id-1", std::nullopt, 0, allow), MigrationSide::kOld);
}

TEST(MigrationRouteTest, PercentageSplitsByMsgIdAndOnlyEverMovesMessagesToTheNewSide) {
  int at_half = 0;
  for (int n = 0; n < 10'000; ++n) {
    const std::string id = MsgId(n);
    EXPECT_EQ(MigrationRouter::Route(id, std::nullopt, 0, {}), MigrationSide::kOld);
    EXPECT_EQ(MigrationRouter::Route(id, std::nullopt, 100, {}), MigrationSide::kNew);
    bool moved = false;
    for (int p = 0; p <= 100; p += 5) {
      const bool to_new = MigrationRouter::Route(id, std::nullopt, p, {}) == MigrationSide::kNew;
      EXPECT_FALSE(moved && !to_new) << id << " went back to the old side at " << p << "%";
      moved = moved || to_new;
    }
    at_half += MigrationRouter::Route(id, std::nullopt, 50, {}) == MigrationSide::kNew ? 1 : 0;
  }
  EXPECT_GT(at_half, 4'500);
  EXPECT_LT(at_half, 5'500);
}

class MigrationRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    old_ = std::make_unique<BrokerProcess>(BrokerArgs());
    new_ = std::make_unique<BrokerProcess>(BrokerArgs());
    ASSERT_TRUE(old_->Start(&error)) << error;
    ASSERT_TRUE(new_->Start(&error)) << error;
    ASSERT_TRUE(redis_.Start(&error)) << error;
    // The stream exists on both clusters before anyone subscribes: a consumer subscribed to a topic that
    // does not exist yet would only see it at its next metadata refresh (minutes).
    for (BrokerProcess* broker : {old_.get(), new_.get()})
      ASSERT_NO_FATAL_FAILURE(CreateTopic(broker->address()));
  }

  static void CreateTopic(const std::string& address) {
    std::string error;
    auto conf = MakeRdKafkaConf({{"bootstrap.servers", address}}, &error);
    ASSERT_NE(conf, nullptr) << error;
    std::unique_ptr<RdKafka::Producer> admin(RdKafka::Producer::create(conf.get(), error));
    ASSERT_NE(admin, nullptr) << error;
    Status created = client::CreateMissingTopics(admin->c_ptr(), {kTopic}, 2, seconds(30));
    ASSERT_TRUE(created.ok()) << created.ToString();
  }

  // Writes message n to both clusters with the same msg-id and waits for both acks.
  void DualWrite(ReliableProducer& to_old, ReliableProducer& to_new, int n) {
    int acked = 0;
    for (ReliableProducer* p : {&to_old, &to_new}) {
      p->Send(OutgoingMessage{kTopic, KeyOf(n), std::to_string(n), {}, MsgId(n)}, [&](const Confirmation& c) {
        ASSERT_TRUE(c.status.ok()) << c.status.ToString();
        ++acked;
      });
    }
    ASSERT_TRUE(to_old.Flush(seconds(30)).ok());
    ASSERT_TRUE(to_new.Flush(seconds(30)).ok());
    ASSERT_EQ(acked, 2);
  }

  std::unique_ptr<BrokerProcess> old_;
  std::unique_ptr<BrokerProcess> new_;
  RedisServer redis_;
};

TEST_F(MigrationRouterTest, EveryMessageIsHandledOnceWhileTheCutOverMovesAndASideRetries) {
  MigrationRouterOptions options;
  options.name = "payments-move";
  options.old_side = SideOptions(old_->address());
  options.new_side = SideOptions(new_->address());
  auto old_store = DedupStoreFor("sqlite://" + old_->work_dir() + "/dedup.db");
  auto new_store = DedupStoreFor("sqlite://" + new_->work_dir() + "/dedup.db");
  ASSERT_NE(old_store, nullptr);
  ASSERT_NE(new_store, nullptr);
  options.old_side.store = old_store;
  options.new_side.store = new_store;
  options.consume_new = false;  // the new side joins part-way
  options.percent = 0;
  options.allow_list = {"vip"};
  options.lock_uri = redis_.uri();

  std::mutex mu;
  std::map<std::string, std::vector<MigrationSide>> effects;  // msg-id → sides whose effect happened
  std::map<std::string, int> attempts;
  auto handler = [&](MigrationSide side, const MessageView& m, HandlerContext& context) -> Status {
    std::lock_guard lock(mu);
    const std::string id(context.key);
    const int n = std::stoi(std::string(m.payload));
    if (n % 13 == 0 && ++attempts[id] == 1) return Status::Unavailable("first attempt fails on purpose");
    effects[id].push_back(side);
    return Status::Ok();
  };
  auto router = MigrationRouter::Create(options, handler);
  ASSERT_TRUE(router.ok()) << router.status().ToString();
  std::thread running([&] { EXPECT_TRUE((*router)->Run().ok()); });

  ReliableProducerOptions po;
  po.bootstrap_servers = old_->address();
  auto to_old = ReliableProducer::Create(po);
  po.bootstrap_servers = new_->address();
  auto to_new = ReliableProducer::Create(po);
  ASSERT_TRUE(to_old.ok() && to_new.ok());
  for (int n = 0; n < kMessages; ++n) {
    if (n == kMessages / 3) {
      // The old side has handled messages at 0 % before the cut-over moves: it does not depend on how soon
      // its consumer joined.
      ASSERT_TRUE(WaitFor([&] { return (*router)->stats().old_side.handled > 0; }, seconds(60)));
      (*router)->SetPercent(50);
    }
    if (n == kMessages / 2) (*router)->SetConsume(MigrationSide::kNew, true);
    if (n == 2 * kMessages / 3) (*router)->SetPercent(100);
    ASSERT_NO_FATAL_FAILURE(DualWrite(**to_old, **to_new, n));
  }
  // Done when each side has decided every message (handled it, or left it to the other side).
  const bool decided = WaitFor(
      [&] {
        MigrationRouterStats s = (*router)->stats();
        return s.old_side.handled + s.old_side.left_to_other >= static_cast<uint64_t>(kMessages) &&
               s.new_side.handled + s.new_side.left_to_other >= static_cast<uint64_t>(kMessages);
      },
      seconds(180));
  (*router)->Stop();
  running.join();
  ASSERT_TRUE(decided) << "not every message was decided on both sides";

  Result<std::unique_ptr<RedisLock>> locks = RedisLock::Open({.uri = redis_.uri()});
  ASSERT_TRUE(locks.ok());
  int on_old = 0;
  int on_new = 0;
  for (int n = 0; n < kMessages; ++n) {
    const std::vector<MigrationSide>& sides = effects[MsgId(n)];
    ASSERT_EQ(sides.size(), 1u) << MsgId(n) << " had " << sides.size() << " effects";
    Result<std::optional<LockHolder>> holder = (*locks)->Holder("router:payments-move:" + MsgId(n));
    ASSERT_TRUE(holder.ok() && holder->has_value()) << MsgId(n);
    EXPECT_EQ((*holder)->owner, MigrationSideName(sides[0])) << MsgId(n);
    if (KeyOf(n) == "vip") {
      EXPECT_EQ(sides[0], MigrationSide::kNew) << MsgId(n);
    }
    (sides[0] == MigrationSide::kOld ? on_old : on_new)++;
  }
  EXPECT_GT(on_old, 0);
  EXPECT_GT(on_new, 0);
  MigrationRouterStats s = (*router)->stats();
  EXPECT_GT(s.old_side.failed + s.new_side.failed, 0u) << "no handler failed: retries were not exercised";
  EXPECT_EQ(s.old_side.lock_errors + s.new_side.lock_errors, 0u);
}

}  // namespace
}  // namespace oncemq::testing
