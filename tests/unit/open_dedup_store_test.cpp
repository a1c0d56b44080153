// Choosing a dedup store by URI: each scheme opens the store it names, and a bad URI is refused plainly.
#include "client/stores/open_dedup_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

namespace oncemq::client {
namespace {

ClaimRequest Request(std::string key) {
  ClaimRequest r;
  r.group = "g";
  r.key = std::move(key);
  r.owner = "me";
  return r;
}

TEST(OpenDedupStore, MemoryStoreClaims) {
  auto store = OpenDedupStore("memory:");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ClaimRequest req = Request("k");
  auto claimed = (*store)->Claim({&req, 1});
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ((*claimed)[0].outcome, ClaimOutcome::kClaimed);
}

TEST(OpenDedupStore, SqliteUriOpensThatFileAgain) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("oncemq-open-store-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  const std::string uri = "sqlite://" + (dir / "dedup.db").string();  // sqlite:///tmp/... — absolute
  {
    auto store = OpenDedupStore(uri);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ClaimRequest req = Request("order-1");
    auto claimed = (*store)->Claim({&req, 1});
    ASSERT_TRUE(claimed.ok());
    ASSERT_EQ((*claimed)[0].outcome, ClaimOutcome::kClaimed);
    auto done = (*store)->Complete("g", "order-1", (*claimed)[0].record.fencing_token, std::chrono::hours(1),
                                   std::nullopt);
    ASSERT_TRUE(done.ok());
    ASSERT_EQ(*done, FencedOutcome::kOk);
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "dedup.db"));
  auto reopened = OpenDedupStore(uri);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto record = (*reopened)->Get("g", "order-1");
  ASSERT_TRUE(record.ok());
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->state, DedupState::kConsumed);
  std::filesystem::remove_all(dir);
}

TEST(OpenDedupStore, BadUrisAreRefusedWithTheReason) {
  auto empty = OpenDedupStore("sqlite://");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  auto unknown = OpenDedupStore("ftp://host/x");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("ftp://host/x"), std::string::npos);
}

TEST(OpenDedupStore, TransactionalModeNeedsAnSqlStore) {
  for (const char* uri : {"memory:", "redis://127.0.0.1:1/0"}) {
    auto r = OpenTransactionalStore(uri);
    ASSERT_FALSE(r.ok()) << uri;
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported) << uri;
  }
  const auto path = std::filesystem::temp_directory_path() /
                    ("oncemq-open-tx-" + std::to_string(std::random_device{}()) + ".db");
  auto sqlite = OpenTransactionalStore("sqlite://" + path.string());
  ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
  sqlite->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

TEST(OpenDedupStore, SqlServerUrisReachTheirStoreAndFailClosedWhenNobodyListens) {
  for (const char* uri : {"postgresql://oncemq@127.0.0.1:1/db", "mysql://root@127.0.0.1:1/db"}) {
    auto r = OpenDedupStore(uri);
    ASSERT_FALSE(r.ok()) << uri;
    EXPECT_NE(r.status().code(), StatusCode::kInvalidArgument) << uri << ": " << r.status().ToString();
  }
}

TEST(OpenDedupStore, RedisUriReachesRedisAndFailsClosedWhenNobodyListens) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  auto store = OpenDedupStore("redis://127.0.0.1:1/0");
  if (store.ok()) {
    auto now = (*store)->NowMs();
    EXPECT_FALSE(now.ok()) << "a store nobody serves cannot answer";
  } else {
    EXPECT_NE(store.status().code(), StatusCode::kInvalidArgument) << store.status().ToString();
  }
}

}  // namespace
}  // namespace oncemq::client
