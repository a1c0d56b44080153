// The SQL outbox (include/oncemq/outbox.h) on every engine: what Send stores and in whose transaction, the
// claim rules (lease, one message per key in flight, an attempt per claim), what Record makes of acks and
// nacks, and the people's operations. No broker: the relay's sends are stood in for by SendOutcomes.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

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

class OutboxTest : public ::testing::TestWithParam<SqlEngine> {
 protected:
  static void TearDownTestSuite() { client::conformance::StopSuiteResources(); }

  void SetUp() override {
    std::string error;
    uri_ = testing::NewTestDatabase(GetParam(), &error);
    if (uri_.empty()) GTEST_SKIP() << error;
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

TEST_P(OutboxTest, MessageSentInTheCallersTransactionCommitsAndRollsBackWithIt) {
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

TEST_P(OutboxTest, ManyMessagesSentInOneTransactionKeepTheirOrder) {
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
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres, SqlEngine::kMysql),
                         [](const ::testing::TestParamInfo<SqlEngine>& info) {
                           return testing::EngineName(info.param);
                         });

}  // namespace
}  // namespace oncemq
