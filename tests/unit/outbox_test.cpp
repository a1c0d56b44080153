// The outbox (include/oncemq/outbox.h) on every SQL engine and on Redis: what Send stores and in whose
// transaction, the claim rules (lease, one message per key in flight, an attempt per claim), what Record
// makes of acks and nacks, and the people's operations. No broker: the relay's sends are stood in for by
// SendOutcomes. Cases about the caller's SQL transaction skip on Redis, which has none; RedisOutboxTest
// holds what only the Redis outbox has (its walk bound, its keys, a server that dies).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <thread>

#include "client/outbox/redis_outbox.h"
#include "dedup_store_conformance.h"
#include "oncemq/outbox.h"
#include "sql_test_databases.h"

namespace oncemq {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

OutgoingMessage Msg(std::string payload, std::optional<std::string> key = std::nullopt,
                    std::string topic = "orders") {
  return OutgoingMessage{std::move(topic), std::move(key), std::move(payload), {}, ""};
}

SendOutcome Acked(int64_t id, int32_t partition, int64_t offset) {
  return SendOutcome{id, Status::Ok(), partition, offset};
}

SendOutcome Nacked(int64_t id, const std::string& why) {
  return SendOutcome{id, Status::Unavailable(why), -1, -1};
}

// Where the suite's outbox lives: a SQL engine, or Redis (no engine).
struct Backend {
  const char* name;
  std::optional<SqlEngine> engine;
};

void PrintTo(const Backend& backend, std::ostream* os) {
  *os << backend.name;
}

class OutboxTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void TearDownTestSuite() { client::conformance::StopSuiteResources(); }

  void SetUp() override {
    std::string error;
    if (GetParam().engine) {
      uri_ = testing::NewTestDatabase(*GetParam().engine, &error);
    } else if (testing::RedisServer* redis = testing::EmptyTestRedis(&error); redis != nullptr) {
      uri_ = redis->uri();
    }
    ASSERT_FALSE(uri_.empty()) << error;
    outbox_ = Open();
    ASSERT_NE(outbox_, nullptr);
  }

  std::shared_ptr<Outbox> Open() {
    Result<std::shared_ptr<Outbox>> outbox = Outbox::Open(uri_);
    EXPECT_TRUE(outbox.ok()) << outbox.status().ToString();
    return outbox.ok() ? *outbox : nullptr;
  }

  std::vector<std::string> SendAll(std::vector<OutgoingMessage> messages) {
    Result<std::vector<std::string>> ids = outbox_->Send(std::move(messages));
    EXPECT_TRUE(ids.ok()) << ids.status().ToString();
    return ids.ok() ? *ids : std::vector<std::string>{};
  }

  std::vector<OutboxEntry> ClaimAll(const std::string& claim, milliseconds lease = seconds(60),
                                    size_t limit = 100) {
    Result<std::vector<OutboxEntry>> claimed = outbox_->Claim(claim, lease, limit);
    EXPECT_TRUE(claimed.ok()) << claimed.status().ToString();
    return claimed.ok() ? *claimed : std::vector<OutboxEntry>{};
  }

  Outbox::Recorded Record(const std::string& claim, std::vector<SendOutcome> outcomes,
                          Outbox::RetryRule rule = {.max_attempts = 3, .retry_backoff = milliseconds(0)}) {
    Result<Outbox::Recorded> recorded = outbox_->Record(claim, outcomes, rule);
    EXPECT_TRUE(recorded.ok()) << recorded.status().ToString();
    return recorded.ok() ? *recorded : Outbox::Recorded{};
  }

  std::vector<OutboxEntry> List(std::optional<OutboxStatus> status = std::nullopt) {
    Result<std::vector<OutboxEntry>> entries =
        outbox_->List({.status = status, .after_id = 0, .limit = 1000});
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    return entries.ok() ? *entries : std::vector<OutboxEntry>{};
  }

  OutboxEntry Only(int64_t id) {
    Result<std::optional<OutboxEntry>> e = outbox_->Get(id);
    EXPECT_TRUE(e.ok() && e->has_value()) << "no message " << id;
    return e.ok() && e->has_value() ? **e : OutboxEntry{};
  }

  std::string uri_;
  std::shared_ptr<Outbox> outbox_;
};

TEST_P(OutboxTest, SendKeepsEveryByteOfKeyPayloadAndHeaders) {
  OutgoingMessage m = Msg(std::string("pay\0load\xff\x01", 10), std::string("k\0ey", 4));
  m.headers = {{"trace", "abc"}, {"bin", std::string("\0\x80:7:", 5)}, {"empty", ""}};
  m.msg_id = "01TESTID";
  ASSERT_EQ(SendAll({m}), std::vector<std::string>{"01TESTID"});
  std::vector<OutboxEntry> all = List();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].message.topic, "orders");
  EXPECT_EQ(all[0].message.key, m.key);
  EXPECT_EQ(all[0].message.payload, m.payload);
  EXPECT_EQ(all[0].message.headers, m.headers);
  EXPECT_EQ(all[0].message.msg_id, "01TESTID");
  EXPECT_EQ(all[0].status, OutboxStatus::kSending);
  EXPECT_EQ(all[0].attempts, 0);
  EXPECT_GT(all[0].created_ms, 0);
}

TEST_P(OutboxTest, SendGivesEachMessageWithoutAnIdANewOne) {
  std::vector<std::string> ids = SendAll({Msg("a"), Msg("b"), Msg("c", "k")});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 3u);
  for (const std::string& id : ids) EXPECT_EQ(id.size(), 26u) << id;
  EXPECT_EQ(List().size(), 3u);
}

TEST_P(OutboxTest, SendOfAMsgIdAlreadyStoredKeepsTheFirstMessage) {
  OutgoingMessage first = Msg("first");
  first.msg_id = "same-id";
  OutgoingMessage again = Msg("second");
  again.msg_id = "same-id";
  SendAll({first});
  EXPECT_EQ(SendAll({again}), std::vector<std::string>{"same-id"});
  std::vector<OutboxEntry> all = List();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].message.payload, "first");
}

TEST_P(OutboxTest, SendWithoutATopicIsRefusedAndStoresNothing) {
  Result<std::vector<std::string>> ids = outbox_->Send({Msg("ok"), Msg("no topic", std::nullopt, "")});
  EXPECT_EQ(ids.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(List().empty());
}

// The cases of a message sent in the caller's SQL transaction: SQL engines only (a Redis outbox holds no
// SQL transaction; RedisOutboxTest checks that Send(tx, ...) is kUnsupported there).
class SqlOutboxTest : public OutboxTest {};

TEST_P(SqlOutboxTest, MessageSentInTheCallersTransactionCommitsAndRollsBackWithIt) {
  ASSERT_TRUE(
      outbox_->database()->Execute("CREATE TABLE payments(id INTEGER PRIMARY KEY, amount INTEGER)").ok());
  const SqlParam rolled_back[] = {"1", "100"};
  Status failed = outbox_->Transact([&](SqlTransaction& tx) -> Status {
    EXPECT_TRUE(tx.Execute("INSERT INTO payments(id, amount) VALUES(?, ?)", rolled_back).ok());
    EXPECT_TRUE(outbox_->Send(tx, Msg("payment 1")).ok());
    return Status::IoError("the business step failed");
  });
  EXPECT_EQ(failed.code(), StatusCode::kIoError);
  EXPECT_TRUE(List().empty());

  const SqlParam committed[] = {"2", "200"};
  Status ok = outbox_->Transact([&](SqlTransaction& tx) -> Status {
    if (Result<int64_t> n = tx.Execute("INSERT INTO payments(id, amount) VALUES(?, ?)", committed); !n.ok()) {
      return n.status();
    }
    return outbox_->Send(tx, Msg("payment 2")).status();
  });
  ASSERT_TRUE(ok.ok()) << ok.ToString();
  std::vector<OutboxEntry> all = List();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].message.payload, "payment 2");
  std::vector<SqlRow> rows;
  ASSERT_TRUE(outbox_
                  ->Transact([&](SqlTransaction& tx) {
                    Result<std::vector<SqlRow>> r = tx.Query("SELECT id FROM payments");
                    if (r.ok()) rows = *r;
                    return r.status();
                  })
                  .ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "2");
}

TEST_P(SqlOutboxTest, ManyMessagesSentInOneTransactionKeepTheirOrder) {
  std::vector<OutgoingMessage> messages;
  for (int n = 0; n < 250; ++n) messages.push_back(Msg(std::to_string(n), "k"));  // several statements
  Result<std::vector<std::string>> ids = std::vector<std::string>();
  ASSERT_TRUE(outbox_
                  ->Transact([&](SqlTransaction& tx) {
                    ids = outbox_->Send(tx, std::move(messages));
                    return ids.status();
                  })
                  .ok());
  ASSERT_EQ(ids->size(), 250u);
  std::vector<OutboxEntry> all = List();
  ASSERT_EQ(all.size(), 250u);
  for (int n = 0; n < 250; ++n) {
    EXPECT_EQ(all[n].message.payload, std::to_string(n));
    EXPECT_EQ(all[n].message.msg_id, (*ids)[n]);
  }
}

TEST_P(OutboxTest, ClaimCountsAnAttemptAndHidesItsRowsFromOtherClaims) {
  SendAll({Msg("a"), Msg("b")});
  std::vector<OutboxEntry> first = ClaimAll("relay-1:1");
  ASSERT_EQ(first.size(), 2u);
  for (const OutboxEntry& e : first) {
    EXPECT_EQ(e.attempts, 1);
    EXPECT_EQ(e.claim, "relay-1:1");
    EXPECT_GT(e.lease_until_ms, e.created_ms);
  }
  EXPECT_TRUE(ClaimAll("relay-2:1").empty());
}

TEST_P(OutboxTest, ClaimTakesOneMessagePerKeyAtATimeInOrder) {
  std::vector<std::string> ids =
      SendAll({Msg("k1-first", "k1"), Msg("k1-second", "k1"), Msg("k2-only", "k2"), Msg("free-1"),
               Msg("free-2"), Msg("k1-other-topic", "k1", "audit")});
  std::vector<OutboxEntry> first = ClaimAll("r:1");
  std::vector<std::string> payloads;
  for (const OutboxEntry& e : first) payloads.push_back(e.message.payload);
  EXPECT_EQ(payloads,
            (std::vector<std::string>{"k1-first", "k2-only", "free-1", "free-2", "k1-other-topic"}));
  EXPECT_TRUE(ClaimAll("r:2").empty()) << "k1-second must wait for k1-first";

  Record("r:1", {Acked(first[0].id, 0, 10)});
  std::vector<OutboxEntry> second = ClaimAll("r:3");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].message.payload, "k1-second");
}

TEST_P(OutboxTest, AckMakesTheMessageSentWithWhereItLanded) {
  SendAll({Msg("a"), Msg("b")});
  std::vector<OutboxEntry> claimed = ClaimAll("r:1");
  ASSERT_EQ(claimed.size(), 2u);
  Outbox::Recorded r = Record("r:1", {Acked(claimed[0].id, 3, 41), Acked(claimed[1].id, 0, 7)});
  EXPECT_EQ(r.sent, 2u);
  OutboxEntry a = Only(claimed[0].id);
  EXPECT_EQ(a.status, OutboxStatus::kSent);
  EXPECT_EQ(a.partition, 3);
  EXPECT_EQ(a.offset, 41);
  EXPECT_GT(a.done_ms, 0);
  EXPECT_EQ(Only(claimed[1].id).offset, 7);
  EXPECT_TRUE(ClaimAll("r:2").empty());
  Result<OutboxCounts> counts = outbox_->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->sent, 2);
  EXPECT_EQ(counts->sending, 0);
}

TEST_P(OutboxTest, NackLeavesTheMessageDueAfterTheBackoff) {
  SendAll({Msg("a")});
  std::vector<OutboxEntry> claimed = ClaimAll("r:1");
  ASSERT_EQ(claimed.size(), 1u);
  Outbox::Recorded r =
      Record("r:1", {Nacked(claimed[0].id, "timed out")}, {.max_attempts = 3, .retry_backoff = seconds(30)});
  EXPECT_EQ(r.again, 1u);
  OutboxEntry e = Only(claimed[0].id);
  EXPECT_EQ(e.status, OutboxStatus::kSending);
  EXPECT_NE(e.last_error.find("timed out"), std::string::npos);
  EXPECT_EQ(e.lease_until_ms, 0);
  EXPECT_GE(e.next_attempt_ms, e.created_ms + 30'000);
  EXPECT_TRUE(ClaimAll("r:2").empty()) << "not due before the back-off";
}

TEST_P(OutboxTest, MessageIsFailedWithItsLastErrorAfterMaxAttemptsAndStopsHoldingUpItsKey) {
  SendAll({Msg("doomed", "k"), Msg("next", "k")});
  for (int attempt = 1; attempt <= 3; ++attempt) {
    std::vector<OutboxEntry> claimed = ClaimAll("r:" + std::to_string(attempt));
    ASSERT_EQ(claimed.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(claimed[0].message.payload, "doomed");
    EXPECT_EQ(claimed[0].attempts, attempt);
    Outbox::Recorded r = Record("r:" + std::to_string(attempt),
                                {Nacked(claimed[0].id, "too large, attempt " + std::to_string(attempt))});
    EXPECT_EQ(r.failed, attempt == 3 ? 1u : 0u);
  }
  std::vector<OutboxEntry> failed = List(OutboxStatus::kFailed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].attempts, 3);
  EXPECT_NE(failed[0].last_error.find("too large, attempt 3"), std::string::npos);
  std::vector<OutboxEntry> next = ClaimAll("r:4");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].message.payload, "next");
}

TEST_P(OutboxTest, ExpiredLeaseIsClaimedAgainAndTheOldClaimCanNoLongerRecord) {
  SendAll({Msg("a")});
  std::vector<OutboxEntry> old_claim = ClaimAll("old:1", milliseconds(100));
  ASSERT_EQ(old_claim.size(), 1u);
  std::vector<OutboxEntry> taken;
  for (int i = 0; i < 200 && taken.empty(); ++i) {  // waits for the database clock to pass the lease
    std::this_thread::sleep_for(milliseconds(20));
    taken = ClaimAll("new:1");
  }
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].attempts, 2);
  EXPECT_EQ(Record("old:1", {Acked(old_claim[0].id, 0, 1)}).sent, 0u);
  EXPECT_EQ(Record("old:1", {Nacked(old_claim[0].id, "late")}).again, 0u);
  EXPECT_EQ(Only(taken[0].id).claim, "new:1");
  EXPECT_EQ(Record("new:1", {Acked(taken[0].id, 0, 2)}).sent, 1u);
  EXPECT_EQ(Only(taken[0].id).offset, 2);
}

TEST_P(OutboxTest, RetryAndDropActOnFailedMessagesOnly) {
  SendAll({Msg("fails"), Msg("waits")});
  std::vector<OutboxEntry> claimed = ClaimAll("r:1", seconds(60), 1);
  ASSERT_EQ(claimed.size(), 1u);
  Record("r:1", {Nacked(claimed[0].id, "boom")}, {.max_attempts = 1, .retry_backoff = milliseconds(0)});
  const int64_t failed_id = claimed[0].id;
  const int64_t waiting_id = failed_id + 1;
  EXPECT_FALSE(outbox_->Retry(waiting_id).value());
  EXPECT_FALSE(outbox_->Drop(waiting_id).value());
  EXPECT_FALSE(outbox_->Retry(failed_id + 1000).value());

  Result<bool> retried = outbox_->Retry(failed_id);
  ASSERT_TRUE(retried.ok() && *retried);
  OutboxEntry e = Only(failed_id);
  EXPECT_EQ(e.status, OutboxStatus::kSending);
  EXPECT_EQ(e.attempts, 0);

  std::vector<OutboxEntry> again = ClaimAll("r:2");
  ASSERT_EQ(again.size(), 2u);
  Record("r:2", {Nacked(failed_id, "boom"), Acked(waiting_id, 0, 0)},
         {.max_attempts = 1, .retry_backoff = milliseconds(0)});
  Result<bool> dropped = outbox_->Drop(failed_id);
  ASSERT_TRUE(dropped.ok() && *dropped);
  EXPECT_FALSE(outbox_->Get(failed_id)->has_value());
  EXPECT_FALSE(outbox_->Drop(waiting_id).value()) << "a SENT message is not dropped";
}

TEST_P(OutboxTest, PurgeDeletesSentMessagesPastTheirRetentionOnly) {
  SendAll({Msg("sent"), Msg("waiting", "k"), Msg("also waiting", "k")});
  std::vector<OutboxEntry> claimed = ClaimAll("r:1", seconds(60), 1);
  ASSERT_EQ(claimed.size(), 1u);
  Record("r:1", {Acked(claimed[0].id, 0, 0)});
  Result<size_t> kept = outbox_->Purge(std::chrono::hours(1), 100);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, 0u);
  Result<size_t> purged = outbox_->Purge(milliseconds(0), 100);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(List().size(), 2u);
  EXPECT_TRUE(List(OutboxStatus::kSent).empty());
}

TEST_P(OutboxTest, RetriedMessageGoesOutBeforeTheLaterMessagesOfItsKeyStillSending) {
  SendAll({Msg("first", "k"), Msg("second", "k"), Msg("third", "k")});
  std::vector<OutboxEntry> first = ClaimAll("r:1");
  ASSERT_EQ(first.size(), 1u);
  Record("r:1", {Nacked(first[0].id, "boom")}, {.max_attempts = 1, .retry_backoff = milliseconds(0)});
  std::vector<OutboxEntry> second = ClaimAll("r:2");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].message.payload, "second") << "a FAILED message holds up nothing";
  Record("r:2", {Acked(second[0].id, 0, 1)});

  ASSERT_TRUE(outbox_->Retry(first[0].id).value());
  std::vector<OutboxEntry> retried = ClaimAll("r:3");
  ASSERT_EQ(retried.size(), 1u) << "third must wait: an earlier message of its key is SENDING again";
  EXPECT_EQ(retried[0].message.payload, "first");
  Record("r:3", {Acked(retried[0].id, 0, 2)});
  std::vector<OutboxEntry> third = ClaimAll("r:4");
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].message.payload, "third");
}

TEST_P(OutboxTest, MsgIdOfAPurgedMessageMayBeStoredAgain) {
  OutgoingMessage m = Msg("first");
  m.msg_id = "reused-id";
  SendAll({m});
  std::vector<OutboxEntry> claimed = ClaimAll("r:1");
  ASSERT_EQ(claimed.size(), 1u);
  Record("r:1", {Acked(claimed[0].id, 0, 0)});
  ASSERT_EQ(outbox_->Purge(milliseconds(0), 100).value(), 1u);
  m.payload = "second";
  SendAll({m});
  std::vector<OutboxEntry> all = List();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].message.payload, "second");
  EXPECT_EQ(all[0].status, OutboxStatus::kSending);
}

TEST_P(OutboxTest, ConcurrentRelaysNeverClaimTheSameMessageAndKeepKeyOrder) {
  constexpr int kMessages = 300;
  constexpr int kKeys = 10;
  std::vector<OutgoingMessage> messages;
  for (int i = 0; i < kMessages; ++i)
    messages.push_back(Msg(std::to_string(i), "key-" + std::to_string(i % kKeys)));
  SendAll(std::move(messages));

  std::mutex mu;
  std::map<int64_t, int> claims_of;        // id → how many times claimed
  std::map<std::string, int> last_of_key;  // key → last payload number claimed
  bool out_of_order = false;
  std::vector<std::thread> relays;
  for (int r = 0; r < 4; ++r) {
    relays.emplace_back([&, r] {
      std::shared_ptr<Outbox> own = Open();  // a connection (SQLite: a file handle) of its own
      if (own == nullptr) return;
      for (int round = 0; round < 2000; ++round) {
        const std::string claim = "relay-" + std::to_string(r) + ":" + std::to_string(round);
        Result<std::vector<OutboxEntry>> claimed = own->Claim(claim, seconds(60), 7);
        if (!claimed.ok()) continue;  // busy (SQLite's lock): try again
        std::vector<SendOutcome> acked;
        {
          std::lock_guard lock(mu);
          for (const OutboxEntry& e : *claimed) {
            ++claims_of[e.id];
            const int n = std::stoi(e.message.payload);
            auto [it, fresh] = last_of_key.try_emplace(*e.message.key, n);
            if (!fresh && it->second >= n) out_of_order = true;
            it->second = n;
            acked.push_back(Acked(e.id, 0, n));
          }
        }
        while (!acked.empty() && !own->Record(claim, acked, {}).ok()) {
        }
        Result<OutboxCounts> counts = own->Counts();
        if (counts.ok() && counts->sending == 0) return;
      }
    });
  }
  for (std::thread& t : relays) t.join();
  EXPECT_EQ(claims_of.size(), static_cast<size_t>(kMessages));
  for (const auto& [id, n] : claims_of) EXPECT_EQ(n, 1) << "message " << id << " claimed " << n << " times";
  EXPECT_FALSE(out_of_order);
  EXPECT_EQ(List(OutboxStatus::kSent).size(), static_cast<size_t>(kMessages));
}

INSTANTIATE_TEST_SUITE_P(Engines, OutboxTest,
                         ::testing::Values(Backend{"Sqlite", SqlEngine::kSqlite},
                                           Backend{"Postgres", SqlEngine::kPostgres},
                                           Backend{"Mariadb", SqlEngine::kMysql},
                                           Backend{"Redis", std::nullopt}),
                         [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Engines, SqlOutboxTest,
                         ::testing::Values(Backend{"Sqlite", SqlEngine::kSqlite},
                                           Backend{"Postgres", SqlEngine::kPostgres},
                                           Backend{"Mariadb", SqlEngine::kMysql}),
                         [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

// What only the Redis outbox has: no SQL transaction, a bounded claim walk, its keys, a server that dies.
class RedisOutboxTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { client::conformance::StopSuiteResources(); }

  void SetUp() override {
    std::string error;
    redis_ = testing::EmptyTestRedis(&error);
    ASSERT_NE(redis_, nullptr) << "redis-server did not start: " << error;
    outbox_ = MustOpen(redis_->uri());
    ASSERT_NE(outbox_, nullptr);
  }

  static std::shared_ptr<Outbox> MustOpen(const std::string& uri) {
    Result<std::shared_ptr<Outbox>> outbox = Outbox::Open(uri);
    EXPECT_TRUE(outbox.ok()) << outbox.status().ToString();
    return outbox.ok() ? *outbox : nullptr;
  }

  static void MustSend(Outbox& outbox, std::vector<OutgoingMessage> messages) {
    Result<std::vector<std::string>> ids = outbox.Send(std::move(messages));
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  }

  static std::vector<OutboxEntry> MustClaim(Outbox& outbox, const std::string& claim, size_t limit) {
    Result<std::vector<OutboxEntry>> claimed = outbox.Claim(claim, seconds(60), limit);
    EXPECT_TRUE(claimed.ok()) << claimed.status().ToString();
    return claimed.ok() ? *claimed : std::vector<OutboxEntry>{};
  }

  // Every key of the server, on a connection of the test's own.
  std::set<std::string> Keys() const {
    std::set<std::string> keys;
    redisContext* c = redisConnect("127.0.0.1", redis_->port());
    if (c == nullptr || c->err != 0) {
      ADD_FAILURE() << "cannot connect to redis-server";
      if (c != nullptr) redisFree(c);
      return keys;
    }
    auto* reply = static_cast<redisReply*>(redisCommand(c, "KEYS *"));
    if (reply != nullptr && reply->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < reply->elements; ++i) keys.insert(reply->element[i]->str);
    }
    if (reply != nullptr) freeReplyObject(reply);
    redisFree(c);
    return keys;
  }

  testing::RedisServer* redis_ = nullptr;
  std::shared_ptr<Outbox> outbox_;
};

TEST_F(RedisOutboxTest, SendInACallersTransactionAndTransactAreUnsupported) {
  EXPECT_EQ(outbox_->database(), nullptr);
  bool ran = false;
  Status transact = outbox_->Transact([&](SqlTransaction&) {
    ran = true;
    return Status::Ok();
  });
  EXPECT_EQ(transact.code(), StatusCode::kUnsupported);
  EXPECT_FALSE(ran);

  // A transaction of some SQL database: the Redis outbox cannot join it, whatever it is.
  Result<std::shared_ptr<SqlDatabase>> sqlite =
      OpenSqlDatabase("sqlite://" + ::testing::TempDir() + "redis_outbox_tx.db");
  ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
  Status s = (*sqlite)->Transact([&](SqlTransaction& tx) {
    EXPECT_EQ(outbox_->Send(tx, Msg("one")).status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(outbox_->Send(tx, std::vector<OutgoingMessage>{Msg("a"), Msg("b")}).status().code(),
              StatusCode::kUnsupported);
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(outbox_->Counts().value().sending, 0);
}

TEST_F(RedisOutboxTest, ManyMessagesSentInOneCallKeepTheirOrder) {
  std::vector<OutgoingMessage> messages;
  for (int n = 0; n < 250; ++n) messages.push_back(Msg(std::to_string(n), "k"));
  Result<std::vector<std::string>> ids = outbox_->Send(std::move(messages));
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  Result<std::vector<OutboxEntry>> all =
      outbox_->List({.status = std::nullopt, .after_id = 0, .limit = 1000});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 250u);
  for (int n = 0; n < 250; ++n) {
    EXPECT_EQ((*all)[n].message.payload, std::to_string(n));
    EXPECT_EQ((*all)[n].message.msg_id, (*ids)[n]);
  }
}

// The bound counts leased entries too: a claim behind more of them than its bound finds nothing, and one
// with a bound that reaches past them finds the message behind.
TEST_F(RedisOutboxTest, ClaimLooksAtNoMoreEntriesThanItsWalkBound) {
  const size_t ahead = client::ClaimWalkBound(1);
  std::vector<OutgoingMessage> leased;
  for (size_t n = 0; n < ahead; ++n) leased.push_back(Msg("leased " + std::to_string(n)));
  ASSERT_NO_FATAL_FAILURE(MustSend(*outbox_, std::move(leased)));
  ASSERT_EQ(MustClaim(*outbox_, "busy:1", ahead).size(), ahead);
  ASSERT_NO_FATAL_FAILURE(MustSend(*outbox_, {Msg("behind")}));

  EXPECT_TRUE(MustClaim(*outbox_, "r:1", 1).empty()) << "a claim of 1 looks at " << ahead << " entries";
  ASSERT_GT(client::ClaimWalkBound(2), ahead);
  std::vector<OutboxEntry> found = MustClaim(*outbox_, "r:2", 2);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].message.payload, "behind");
}

TEST_F(RedisOutboxTest, PurgeAndDropLeaveNoKeysBehind) {
  ASSERT_NO_FATAL_FAILURE(MustSend(*outbox_, {Msg("sent", "k1"), Msg("failed", "k2"), Msg("free")}));
  std::vector<OutboxEntry> claimed = MustClaim(*outbox_, "r:1", 10);
  ASSERT_EQ(claimed.size(), 3u);
  Result<Outbox::Recorded> recorded =
      outbox_->Record("r:1",
                      std::vector<SendOutcome>{Acked(claimed[0].id, 0, 0), Nacked(claimed[1].id, "no"),
                                               Acked(claimed[2].id, 0, 1)},
                      {.max_attempts = 1});
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  EXPECT_EQ(recorded->failed, 1u);
  EXPECT_EQ(outbox_->Purge(milliseconds(0), 10).value(), 2u);
  EXPECT_TRUE(outbox_->Drop(claimed[1].id).value());
  EXPECT_EQ(Keys(), std::set<std::string>{"oncemq:outbox:seq"});
}

// A server of its own, durable (appendfsync always): this case kills it.
TEST_F(RedisOutboxTest, SendingMessagesOutliveAKilledAndRestartedRedis) {
  testing::RedisServer durable(/*durable=*/true);
  std::string error;
  ASSERT_TRUE(durable.Start(&error)) << "redis-server did not start: " << error;
  std::shared_ptr<Outbox> outbox = MustOpen(durable.uri());
  ASSERT_NE(outbox, nullptr);
  ASSERT_NO_FATAL_FAILURE(MustSend(*outbox, {Msg("a", "k"), Msg("b", "k"), Msg("c")}));
  std::vector<OutboxEntry> held = MustClaim(*outbox, "r:1", 1);
  ASSERT_EQ(held.size(), 1u);

  durable.Kill();
  EXPECT_EQ(outbox->Send({Msg("d")}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(outbox->Counts().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(outbox->Claim("r:2", seconds(60), 10).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Outbox::Open(durable.uri()).status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(durable.Restart(&error)) << error;

  Result<OutboxCounts> counts = outbox->Counts();
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->sending, 3);
  Result<std::optional<OutboxEntry>> a = outbox->Get(held[0].id);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->attempts, 1);
  EXPECT_EQ((*a)->claim, "r:1");
  std::vector<OutboxEntry> next = MustClaim(*outbox, "r:3", 10);
  ASSERT_EQ(next.size(), 1u) << "a is still leased, and b waits behind it";
  EXPECT_EQ(next[0].message.payload, "c");
  Result<Outbox::Recorded> recorded =
      outbox->Record("r:1", std::vector<SendOutcome>{Acked(held[0].id, 0, 5)}, {});
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  EXPECT_EQ(recorded->sent, 1u) << "the claim outlived the restart";
  std::vector<OutboxEntry> b = MustClaim(*outbox, "r:4", 10);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].message.payload, "b");
}

TEST_F(RedisOutboxTest, BadUriIsInvalidAndAnUnreachableServerUnavailable) {
  EXPECT_EQ(Outbox::Open("redis://").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Outbox::Open("redis://127.0.0.1:notaport").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Outbox::Open("redis://127.0.0.1:1/0").status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace oncemq
