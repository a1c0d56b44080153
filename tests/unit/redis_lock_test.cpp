// RedisLock on a real redis-server the suite starts itself (RedisServer): owners, re-entry, fencing tokens,
// leases that run out on the server's clock, renewal, release by the owner only, and a server that goes
// away. Without redis-server installed these cases fail with a message saying so; they do not skip.
// Leases that must run out are short (200 ms) and the test polls Holder until Redis dropped the lock, with a
// bound, instead of sleeping a guessed time.
#include "oncemq/redis_lock.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/servers/redis_server.h"

namespace oncemq {
namespace {

using oncemq::testing::RedisServer;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kLong = seconds(60);
constexpr milliseconds kShort{200};

std::unique_ptr<RedisLock> MustOpen(const std::string& uri) {
  Result<std::unique_ptr<RedisLock>> lock = RedisLock::Open({.uri = uri});
  EXPECT_TRUE(lock.ok()) << lock.status().ToString();
  return lock.ok() ? std::move(lock).value() : nullptr;
}

// Polls Holder until nobody holds `name`; false if that did not happen within `bound`.
bool WaitUntilFree(RedisLock& lock, const std::string& name, milliseconds bound = seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    Result<std::optional<LockHolder>> holder = lock.Holder(name);
    if (!holder.ok()) return false;
    if (!holder->has_value()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

// One redis-server for the suite; every case starts from FLUSHALL.
class RedisLockTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<RedisServer>();
    if (!server_->Start(&start_error_)) server_.reset();
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "redis-server did not start: " << start_error_;
    std::string error;
    ASSERT_TRUE(server_->FlushAll(&error)) << error;
    lock_ = MustOpen(server_->uri());
    ASSERT_NE(lock_, nullptr);
  }

  AcquireResult MustAcquire(const std::string& name, const std::string& owner, milliseconds ttl = kLong) {
    Result<AcquireResult> r = lock_->Acquire(name, owner, ttl);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : AcquireResult{AcquireOutcome::kHeldByOther, {}};
  }
  ReleaseResult MustRelease(const std::string& name, const std::string& owner) {
    Result<ReleaseResult> r = lock_->Release(name, owner);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ReleaseResult{ReleaseOutcome::kNotHeld, -1};
  }
  // One command on a connection of the test's own; its reply as text ("" for nil). Integers as decimal.
  static std::string Ask(const std::vector<std::string>& argv) {
    redisContext* c = redisConnect("127.0.0.1", server_->port());
    if (c == nullptr || c->err != 0) {
      ADD_FAILURE() << "cannot connect to redis-server";
      if (c != nullptr) redisFree(c);
      return "";
    }
    std::vector<const char*> args;
    std::vector<size_t> lengths;
    for (const std::string& a : argv) {
      args.push_back(a.c_str());
      lengths.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lengths.data()));
    std::string text;
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      ADD_FAILURE() << argv[0] << " failed";
    } else if (reply->type == REDIS_REPLY_INTEGER) {
      text = std::to_string(reply->integer);
    } else if (reply->str != nullptr) {
      text.assign(reply->str, reply->len);
    }
    if (reply != nullptr) freeReplyObject(reply);
    redisFree(c);
    return text;
  }
  std::optional<LockHolder> MustHolder(const std::string& name) {
    Result<std::optional<LockHolder>> r = lock_->Holder(name);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::nullopt;
  }

  static inline std::unique_ptr<RedisServer> server_;
  static inline std::string start_error_;
  std::unique_ptr<RedisLock> lock_;
};

TEST_F(RedisLockTest, FreeNameIsAcquiredWithATokenAndTheServerHoldsItForTheOwner) {
  const AcquireResult a = MustAcquire("order-1", "side-a", kLong);
  EXPECT_EQ(a.outcome, AcquireOutcome::kAcquired);
  EXPECT_EQ(a.holder.owner, "side-a");
  EXPECT_GT(a.holder.fencing_token, 0);
  EXPECT_EQ(a.holder.holds, 1);
  EXPECT_EQ(a.holder.ttl, kLong);

  const std::optional<LockHolder> held = MustHolder("order-1");
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->owner, "side-a");
  EXPECT_EQ(held->fencing_token, a.holder.fencing_token);
  EXPECT_EQ(held->holds, 1);
  EXPECT_GT(held->ttl, kLong - seconds(10));
  EXPECT_LE(held->ttl, kLong);
}

TEST_F(RedisLockTest, NameHeldByAnotherOwnerIsRefusedAndReportsTheHolder) {
  const AcquireResult a = MustAcquire("order-1", "side-a");
  const AcquireResult b = MustAcquire("order-1", "side-b");
  EXPECT_EQ(b.outcome, AcquireOutcome::kHeldByOther);
  EXPECT_EQ(b.holder.owner, "side-a");
  EXPECT_EQ(b.holder.fencing_token, a.holder.fencing_token);
  EXPECT_GT(b.holder.ttl, milliseconds(0));

  // The refused attempt changed nothing.
  const std::optional<LockHolder> held = MustHolder("order-1");
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->owner, "side-a");
  EXPECT_EQ(held->holds, 1);
}

TEST_F(RedisLockTest, ReentryBySameOwnerKeepsTheTokenAndCountsAHold) {
  const AcquireResult first = MustAcquire("order-1", "side-a");
  const AcquireResult again = MustAcquire("order-1", "side-a");
  EXPECT_EQ(again.outcome, AcquireOutcome::kReentered);
  EXPECT_EQ(again.holder.owner, "side-a");
  EXPECT_EQ(again.holder.fencing_token, first.holder.fencing_token);
  EXPECT_EQ(again.holder.holds, 2);
  EXPECT_EQ(MustHolder("order-1")->holds, 2);
}

TEST_F(RedisLockTest, ReentryNeverShortensTheLeaseButMayLengthenIt) {
  MustAcquire("order-1", "side-a", kLong);
  const AcquireResult shorter = MustAcquire("order-1", "side-a", kShort);
  EXPECT_GT(shorter.holder.ttl, kLong - seconds(10));
  EXPECT_GT(MustHolder("order-1")->ttl, kLong - seconds(10));

  MustAcquire("order-2", "side-a", seconds(5));
  const AcquireResult longer = MustAcquire("order-2", "side-a", kLong);
  EXPECT_EQ(longer.outcome, AcquireOutcome::kReentered);
  EXPECT_EQ(longer.holder.ttl, kLong);
  EXPECT_GT(MustHolder("order-2")->ttl, kLong - seconds(10));
}

TEST_F(RedisLockTest, FencingTokenGrowsAcrossHoldersAndNames) {
  const int64_t a1 = MustAcquire("order-1", "side-a").holder.fencing_token;
  ASSERT_EQ(MustRelease("order-1", "side-a").outcome, ReleaseOutcome::kReleased);
  const int64_t b = MustAcquire("order-1", "side-b").holder.fencing_token;
  ASSERT_EQ(MustRelease("order-1", "side-b").outcome, ReleaseOutcome::kReleased);
  const int64_t a2 = MustAcquire("order-1", "side-a").holder.fencing_token;
  const int64_t other_name = MustAcquire("order-2", "side-b").holder.fencing_token;
  EXPECT_LT(a1, b);
  EXPECT_LT(b, a2);
  EXPECT_LT(a2, other_name);
}

TEST_F(RedisLockTest, LeaseRunsOutWhileHeldAndTheNextHolderGetsALargerToken) {
  const AcquireResult a = MustAcquire("order-1", "side-a", kShort);
  ASSERT_EQ(a.outcome, AcquireOutcome::kAcquired);
  ASSERT_TRUE(MustHolder("order-1").has_value());
  ASSERT_TRUE(WaitUntilFree(*lock_, "order-1")) << "Redis did not drop a lock whose 200 ms lease ran out";

  const AcquireResult b = MustAcquire("order-1", "side-b");
  EXPECT_EQ(b.outcome, AcquireOutcome::kAcquired);
  EXPECT_GT(b.holder.fencing_token, a.holder.fencing_token);

  // The old holder has lost the name: it can neither renew, nor release, nor re-enter it.
  Result<RenewOutcome> renew = lock_->Renew("order-1", "side-a", kLong);
  ASSERT_TRUE(renew.ok()) << renew.status().ToString();
  EXPECT_EQ(*renew, RenewOutcome::kHeldByOther);
  EXPECT_EQ(MustRelease("order-1", "side-a").outcome, ReleaseOutcome::kHeldByOther);
  EXPECT_EQ(MustAcquire("order-1", "side-a").outcome, AcquireOutcome::kHeldByOther);
  EXPECT_EQ(MustHolder("order-1")->owner, "side-b");
}

TEST_F(RedisLockTest, RenewOfALeaseThatRanOutWithNoNewHolderIsNotHeld) {
  MustAcquire("order-1", "side-a", kShort);
  ASSERT_TRUE(WaitUntilFree(*lock_, "order-1"));
  Result<RenewOutcome> renew = lock_->Renew("order-1", "side-a", kLong);
  ASSERT_TRUE(renew.ok()) << renew.status().ToString();
  EXPECT_EQ(*renew, RenewOutcome::kNotHeld);
  EXPECT_FALSE(MustHolder("order-1").has_value());  // a refused renewal does not take the name
}

TEST_F(RedisLockTest, RenewByTheOwnerExtendsTheLease) {
  MustAcquire("order-1", "side-a", kShort);
  Result<RenewOutcome> renew = lock_->Renew("order-1", "side-a", kLong);
  ASSERT_TRUE(renew.ok()) << renew.status().ToString();
  EXPECT_EQ(*renew, RenewOutcome::kRenewed);
  const std::optional<LockHolder> held = MustHolder("order-1");
  ASSERT_TRUE(held.has_value());
  EXPECT_GT(held->ttl, kLong - seconds(10));
}

TEST_F(RedisLockTest, RenewByANonOwnerIsRefusedAndLeavesTheLeaseAlone) {
  MustAcquire("order-1", "side-a", seconds(30));
  Result<RenewOutcome> renew = lock_->Renew("order-1", "side-b", kLong);
  ASSERT_TRUE(renew.ok()) << renew.status().ToString();
  EXPECT_EQ(*renew, RenewOutcome::kHeldByOther);
  const std::optional<LockHolder> held = MustHolder("order-1");
  ASSERT_TRUE(held.has_value());
  EXPECT_LE(held->ttl, seconds(30));
}

TEST_F(RedisLockTest, ReleaseByANonOwnerIsRefusedAndTheOwnerKeepsTheName) {
  const AcquireResult a = MustAcquire("order-1", "side-a");
  EXPECT_EQ(MustRelease("order-1", "side-b").outcome, ReleaseOutcome::kHeldByOther);
  const std::optional<LockHolder> held = MustHolder("order-1");
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->owner, "side-a");
  EXPECT_EQ(held->fencing_token, a.holder.fencing_token);
  EXPECT_EQ(held->holds, 1);
}

TEST_F(RedisLockTest, ReleaseOfAFreeNameIsNotHeld) {
  EXPECT_EQ(MustRelease("order-1", "side-a").outcome, ReleaseOutcome::kNotHeld);
}

TEST_F(RedisLockTest, ReentrantReleasesCountDownAndOnlyTheLastFreesTheName) {
  for (int i = 0; i < 3; ++i) MustAcquire("order-1", "side-a");

  ReleaseResult r = MustRelease("order-1", "side-a");
  EXPECT_EQ(r.outcome, ReleaseOutcome::kStillHeld);
  EXPECT_EQ(r.holds_left, 2);
  EXPECT_EQ(MustAcquire("order-1", "side-b").outcome, AcquireOutcome::kHeldByOther);

  r = MustRelease("order-1", "side-a");
  EXPECT_EQ(r.outcome, ReleaseOutcome::kStillHeld);
  EXPECT_EQ(r.holds_left, 1);
  EXPECT_EQ(MustHolder("order-1")->holds, 1);

  r = MustRelease("order-1", "side-a");
  EXPECT_EQ(r.outcome, ReleaseOutcome::kReleased);
  EXPECT_FALSE(MustHolder("order-1").has_value());
  EXPECT_EQ(MustAcquire("order-1", "side-b").outcome, AcquireOutcome::kAcquired);
}

TEST_F(RedisLockTest, KeysAreTheOnesTheHeaderNames) {
  const AcquireResult a = MustAcquire("order-1", "side-a");
  const std::string key = "oncemq:lock:order-1";
  EXPECT_EQ(RedisLock::LockKey("order-1"), key);
  EXPECT_EQ(Ask({"HGET", key, "owner"}), "side-a");
  EXPECT_EQ(Ask({"HGET", key, "token"}), std::to_string(a.holder.fencing_token));
  EXPECT_EQ(Ask({"HGET", key, "holds"}), "1");
  EXPECT_GT(std::stoll(Ask({"PTTL", key})), 0);
  EXPECT_EQ(Ask({"GET", "oncemq:lock_fencing_counter"}), std::to_string(a.holder.fencing_token));

  // Release deletes the lock; the counter stays, so that the next token is larger.
  ASSERT_EQ(MustRelease("order-1", "side-a").outcome, ReleaseOutcome::kReleased);
  EXPECT_EQ(Ask({"EXISTS", key}), "0");
  EXPECT_EQ(Ask({"PTTL", "oncemq:lock_fencing_counter"}), "-1");
}

TEST_F(RedisLockTest, AHashThatIsNotALockIsCorruptionAndIsLeftAlone) {
  std::string error;
  ASSERT_TRUE(server_->Run("HSET " + RedisLock::LockKey("order-1") + " owner side-a", &error)) << error;
  Result<AcquireResult> r = lock_->Acquire("order-1", "side-a", kLong);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  Result<std::optional<LockHolder>> holder = lock_->Holder("order-1");
  ASSERT_FALSE(holder.ok());
  EXPECT_EQ(holder.status().code(), StatusCode::kCorruption);
}

TEST_F(RedisLockTest, LostScriptCacheIsSurvived) {
  std::string error;
  ASSERT_TRUE(server_->Run("SCRIPT FLUSH", &error)) << error;
  EXPECT_EQ(MustAcquire("order-1", "side-a").outcome, AcquireOutcome::kAcquired);
}

TEST_F(RedisLockTest, EmptyNameOrOwnerAndTtlBelowOneMillisecondAreInvalid) {
  EXPECT_EQ(lock_->Acquire("", "side-a", kLong).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lock_->Acquire("order-1", "", kLong).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lock_->Acquire("order-1", "side-a", milliseconds(0)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(lock_->Renew("order-1", "side-a", milliseconds(-5)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(lock_->Release("order-1", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lock_->Holder("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RedisLock::Open({.uri = "http://127.0.0.1:1"}).status().code(), StatusCode::kInvalidArgument);
}

// Contenders on connections of their own: inside the lock, nobody else is inside.
TEST_F(RedisLockTest, ContendersNeverHoldTheNameTogether) {
  constexpr int kThreads = 4;
  constexpr int kRoundsEach = 40;
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> entered{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<RedisLock> mine = MustOpen(server_->uri());
      if (mine == nullptr) return;
      const std::string owner = "worker-" + std::to_string(t);
      for (int done = 0; done < kRoundsEach;) {
        Result<AcquireResult> a = mine->Acquire("shared", owner, kLong);
        if (!a.ok()) {
          ++errors;
          return;
        }
        if (a->outcome != AcquireOutcome::kAcquired) continue;
        if (inside.fetch_add(1) != 0) ++overlaps;
        ++entered;
        inside.fetch_sub(1);
        Result<ReleaseResult> r = mine->Release("shared", owner);
        if (!r.ok() || r->outcome != ReleaseOutcome::kReleased) ++errors;
        ++done;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(entered.load(), kThreads * kRoundsEach);
}

// A server of its own: this case kills it.
TEST(RedisLockOutageTest, UnreachableRedisIsUnavailableAndTheSameLockWorksWhenItIsBack) {
  RedisServer server;
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << "redis-server did not start: " << error;
  std::unique_ptr<RedisLock> lock = MustOpen(server.uri());
  ASSERT_NE(lock, nullptr);
  ASSERT_TRUE(lock->Acquire("order-1", "side-a", kLong).ok());

  server.Kill();
  EXPECT_EQ(lock->Acquire("order-2", "side-a", kLong).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(lock->Renew("order-1", "side-a", kLong).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(lock->Release("order-1", "side-a").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(lock->Holder("order-1").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(RedisLock::Open({.uri = server.uri()}).status().code(), StatusCode::kUnavailable);

  ASSERT_TRUE(server.Restart(&error)) << error;
  Result<AcquireResult> again = lock->Acquire("order-2", "side-a", kLong);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->outcome, AcquireOutcome::kAcquired);
}

}  // namespace
}  // namespace oncemq
