#include "broker/msg_id_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace oncemq::broker {
namespace {

constexpr int64_t kWindowMs = 1000;
constexpr size_t kLargeBound = 10'000'000;

// 26 characters, like a ULID: a fixed prefix and a zero-padded counter.
std::string Id(uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "01HZX%021llu", static_cast<unsigned long long>(n));
  return buf;
}

TEST(MsgIdWindow, FindsIdAppendedWithinWindow) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  w.Insert("order-17", Offset(42), 5000);
  EXPECT_EQ(w.Find("order-17", 5000), Offset(42));
  EXPECT_EQ(w.Find("order-17", 5500), Offset(42));
  EXPECT_EQ(w.size(), 1u);
}

TEST(MsgIdWindow, DoesNotFindIdAfterWindow) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  w.Insert("order-17", Offset(42), 5000);
  EXPECT_EQ(w.Find("order-17", 5000 + 5 * kWindowMs), std::nullopt);
  w.ExpireUpTo(5000 + 5 * kWindowMs);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.Find("order-17", 5000), std::nullopt);
}

// An id appended at t is within the window while now - t < window_ms, and out of it from now - t ==
// window_ms.
TEST(MsgIdWindow, ExpiresExactlyWhenWindowHasPassed) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  w.Insert("a", Offset(0), 5000);
  EXPECT_EQ(w.Find("a", 5000 + kWindowMs - 1), Offset(0));
  EXPECT_EQ(w.Find("a", 5000 + kWindowMs), std::nullopt);
  w.ExpireUpTo(5000 + kWindowMs - 1);
  EXPECT_EQ(w.size(), 1u);
  w.ExpireUpTo(5000 + kWindowMs);
  EXPECT_EQ(w.size(), 0u);
}

TEST(MsgIdWindow, ExpiresOnlyEntriesOlderThanWindow) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  for (int64_t i = 0; i < 100; ++i) w.Insert(Id(i), Offset(i), i * 20);  // t = 0, 20, ..., 1980
  w.ExpireUpTo(2000);                                                    // keeps t > 1000
  EXPECT_EQ(w.size(), 49u);
  EXPECT_EQ(w.Find(Id(50), 2000), std::nullopt);
  EXPECT_EQ(w.Find(Id(51), 2000), Offset(51));
  EXPECT_EQ(w.Find(Id(99), 2000), Offset(99));
}

TEST(MsgIdWindow, InsertForgetsEntriesThatLeftWindow) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  w.Insert("old", Offset(0), 0);
  w.Insert("new", Offset(1), kWindowMs);
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.Find("new", kWindowMs), Offset(1));
  EXPECT_EQ(w.early_evictions(), 0u);
}

TEST(MsgIdWindow, FindsEachOf100kIds) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  constexpr int64_t kCount = 100'000;
  for (int64_t i = 0; i < kCount; ++i) w.Insert(Id(i), Offset(i * 3), 7000);
  ASSERT_EQ(w.size(), static_cast<size_t>(kCount));
  int64_t wrong = 0;
  for (int64_t i = 0; i < kCount; ++i) wrong += w.Find(Id(i), 7000) != Offset(i * 3);
  EXPECT_EQ(wrong, 0);
}

TEST(MsgIdWindow, DoesNotFindAbsentIds) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  constexpr int64_t kCount = 100'000;
  for (int64_t i = 0; i < kCount; ++i) w.Insert(Id(i), Offset(i), 7000);
  int64_t found = 0;
  for (int64_t i = kCount; i < 2 * kCount; ++i) found += w.Find(Id(i), 7000).has_value();
  EXPECT_EQ(found, 0);
  EXPECT_EQ(w.Find("", 7000), std::nullopt);
  EXPECT_EQ(w.Find(Id(1) + std::string(1, '\0'), 7000), std::nullopt);  // padding does not alias
  EXPECT_EQ(w.Find(Id(1).substr(0, 25), 7000), std::nullopt);
}

TEST(MsgIdWindow, EmptyWindowFindsNothing) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  EXPECT_EQ(w.Find("x", 0), std::nullopt);
  EXPECT_EQ(w.size(), 0u);
  w.ExpireUpTo(100);
  w.TruncateTo(Offset(0));
  EXPECT_EQ(w.size(), 0u);
}

TEST(MsgIdWindow, IdsOfEveryLengthAreDistinct) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  std::string id;
  for (int64_t n = 0; n <= 100; ++n, id += 'x') w.Insert(id, Offset(n), 0);
  id.clear();
  for (int64_t n = 0; n <= 100; ++n, id += 'x') EXPECT_EQ(w.Find(id, 0), Offset(n)) << "length " << n;
}

TEST(MsgIdWindow, TruncateToForgetsOnlyNewerEntries) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  for (int64_t i = 0; i < 1000; ++i) w.Insert(Id(i), Offset(100 + i), 0);
  w.TruncateTo(Offset(600));  // cuts offsets 600..1099, i.e. ids 500..999
  EXPECT_EQ(w.size(), 500u);
  for (int64_t i = 0; i < 500; ++i) ASSERT_EQ(w.Find(Id(i), 0), Offset(100 + i)) << i;
  for (int64_t i = 500; i < 1000; ++i) ASSERT_EQ(w.Find(Id(i), 0), std::nullopt) << i;
  // The log grows again from the cut; a re-appended id gets its new offset.
  w.Insert(Id(700), Offset(600), 1);
  EXPECT_EQ(w.Find(Id(700), 1), Offset(600));
}

TEST(MsgIdWindow, TruncateToBelowEverythingEmptiesWindow) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  for (int64_t i = 0; i < 100; ++i) w.Insert(Id(i), Offset(i), 0);
  w.TruncateTo(Offset(0));
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.Find(Id(0), 0), std::nullopt);
  w.Insert(Id(0), Offset(0), 0);
  EXPECT_EQ(w.Find(Id(0), 0), Offset(0));
}

TEST(MsgIdWindow, BoundEvictsOldestFirstAndCountsEarlyEvictions) {
  constexpr size_t kBound = 1000;
  MsgIdWindow w(kWindowMs, kBound);
  for (int64_t i = 0; i < 1500; ++i) w.Insert(Id(i), Offset(i), 0);
  EXPECT_EQ(w.size(), kBound);
  EXPECT_EQ(w.early_evictions(), 500u);
  for (int64_t i = 0; i < 500; ++i) ASSERT_EQ(w.Find(Id(i), 0), std::nullopt) << i;
  for (int64_t i = 500; i < 1500; ++i) ASSERT_EQ(w.Find(Id(i), 0), Offset(i)) << i;
}

TEST(MsgIdWindow, BoundDoesNotCountEntriesPastTheirWindow) {
  MsgIdWindow w(kWindowMs, 10);
  for (int64_t i = 0; i < 10; ++i) w.Insert(Id(i), Offset(i), 0);
  for (int64_t i = 10; i < 20; ++i) w.Insert(Id(i), Offset(i), kWindowMs);
  EXPECT_EQ(w.early_evictions(), 0u);
  EXPECT_EQ(w.size(), 10u);
}

TEST(MsgIdWindow, NewestInsertOfAnIdWins) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  w.Insert("dup", Offset(1), 0);
  w.Insert("other", Offset(2), 0);
  w.Insert("dup", Offset(3), 10);
  EXPECT_EQ(w.Find("dup", 10), Offset(3));
  // Expiring the older entry leaves the newer one in place.
  w.ExpireUpTo(kWindowMs + 5);
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.Find("dup", kWindowMs + 5), Offset(3));
  EXPECT_EQ(w.Find("other", kWindowMs + 5), std::nullopt);
}

TEST(MsgIdWindow, ClampsBackwardClockSteps) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  w.Insert("a", Offset(0), 5000);
  w.Insert("b", Offset(1), 4990);  // recorded as 5000
  EXPECT_EQ(w.Find("b", 5000 + kWindowMs - 1), Offset(1));
  EXPECT_EQ(w.Find("b", 5000 + kWindowMs), std::nullopt);
  w.ExpireUpTo(5000 + kWindowMs);
  EXPECT_EQ(w.size(), 0u);
}

TEST(MsgIdWindow, ShrinkingWindowExpiresMore) {
  MsgIdWindow w(10 * kWindowMs, kLargeBound);
  for (int64_t i = 0; i < 10; ++i) w.Insert(Id(i), Offset(i), i * kWindowMs);  // t = 0 .. 9000
  w.ExpireUpTo(9000);
  EXPECT_EQ(w.size(), 10u);
  EXPECT_EQ(w.Find(Id(0), 9000), Offset(0));

  w.set_window_ms(2 * kWindowMs);  // keeps t > 7000
  EXPECT_EQ(w.Find(Id(0), 9000), std::nullopt);
  EXPECT_EQ(w.Find(Id(7), 9000), std::nullopt);
  EXPECT_EQ(w.Find(Id(8), 9000), Offset(8));
  w.ExpireUpTo(9000);
  EXPECT_EQ(w.size(), 2u);
}

TEST(MsgIdWindow, HugeWindowDoesNotOverflow) {
  MsgIdWindow w(INT64_MAX, kLargeBound);
  w.Insert("a", Offset(0), -5);
  w.ExpireUpTo(INT64_MAX);
  EXPECT_EQ(w.Find("a", INT64_MAX), std::nullopt);  // INT64_MAX - INT64_MAX = 0 > -5
  MsgIdWindow v(INT64_MAX, kLargeBound);
  v.Insert("a", Offset(0), 0);
  v.ExpireUpTo(1000);
  EXPECT_EQ(v.Find("a", -1000), Offset(0));
}

TEST(MsgIdWindow, ZeroWindowFindsNothing) {
  MsgIdWindow w(0, kLargeBound);
  w.Insert("a", Offset(0), 100);
  EXPECT_EQ(w.Find("a", 100), std::nullopt);
}

TEST(MsgIdWindow, HashOverloadsAgreeWithIdOverloads) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  MsgIdWindow other(2 * kWindowMs, 10);
  EXPECT_EQ(w.HashOf("order-17"), other.HashOf("order-17"));  // the same in every window of the process
  EXPECT_NE(w.HashOf("order-17"), w.HashOf("order-18"));
  w.Insert(w.HashOf("order-17"), Offset(42), 5000);
  w.Prefetch(w.HashOf("order-18"));
  w.Insert("order-18", Offset(43), 5000);
  EXPECT_EQ(w.Find("order-17", 5000), Offset(42));
  EXPECT_EQ(w.Find(w.HashOf("order-18"), 5000), Offset(43));
  EXPECT_EQ(w.Find(w.HashOf("order-19"), 5000), std::nullopt);
}

// The table is rebuilt when the ring grows. An entry replaced by a newer one of the same id, whose newer one
// was then cut off, must stay forgotten through that rebuild.
TEST(MsgIdWindow, ReplacedEntryStaysForgottenAfterTruncateAndGrowth) {
  MsgIdWindow w(kWindowMs, kLargeBound);
  w.Insert("dup", Offset(0), 0);
  for (int64_t i = 1; i < 63; ++i) w.Insert(Id(i), Offset(i), 0);
  w.Insert("dup", Offset(63), 0);  // the ring's first 64 places are full now
  w.TruncateTo(Offset(63));
  EXPECT_EQ(w.Find("dup", 0), std::nullopt);
  const size_t before = w.memory_bytes();
  for (int64_t i = 63; i < 200; ++i) w.Insert(Id(i), Offset(i), 0);
  ASSERT_GT(w.memory_bytes(), before);  // the ring grew and the table was rebuilt
  EXPECT_EQ(w.Find("dup", 0), std::nullopt);
  EXPECT_EQ(w.Find(Id(1), 0), Offset(1));
  EXPECT_EQ(w.size(), 200u);
}

// A full window where every insert evicts the oldest entry, for many times its size: each held id stays
// reachable through the backward shifts, each evicted one is gone.
TEST(MsgIdWindow, EveryHeldIdIsFoundThroughLongEvictionChurn) {
  constexpr int64_t kBound = 1000;
  MsgIdWindow w(kWindowMs, kBound);
  for (int64_t i = 0; i < 30 * kBound; ++i) {
    w.Insert(Id(i), Offset(i), 0);
    if (i % 997 != 0) continue;
    for (int64_t k = std::max<int64_t>(0, i - kBound + 1); k <= i; ++k)
      ASSERT_EQ(w.Find(Id(k), 0), Offset(k)) << i;
    for (int64_t k = std::max<int64_t>(0, i - 2 * kBound); k <= i - kBound; ++k) {
      ASSERT_EQ(w.Find(Id(k), 0), std::nullopt) << i;
    }
  }
}

// A slow model of the contract: a deque in insertion order where an insert of a held id un-indexes the older
// entry (it stays counted in size() but is never found again).
struct ModelEntry {
  std::string id;
  int64_t offset;
  int64_t time;
  bool replaced;
};

// A ring that wraps many times, with repeated ids, expiry, truncation and eviction interleaved, agrees with
// the model on every id after every step.
TEST(MsgIdWindow, AgreesWithModelThroughWrapAndChurn) {
  constexpr int64_t kWindow = 500;
  constexpr size_t kBound = 300;
  constexpr int64_t kDistinctIds = 250;
  MsgIdWindow w(kWindow, kBound);
  std::deque<ModelEntry> model;
  uint64_t model_evictions = 0;
  std::vector<std::string> ids;
  for (int64_t n = 0; n < kDistinctIds; ++n) ids.push_back(Id(n));
  int64_t offset = 0, t = 0;
  auto expire = [&](int64_t now) {
    while (!model.empty() && model.front().time <= now - kWindow) model.pop_front();
  };
  for (int round = 0; round < 300; ++round) {
    for (int k = 0; k < 37; ++k) {
      const std::string& id = ids[offset % kDistinctIds];
      w.Insert(id, Offset(offset), t);
      expire(t);
      if (model.size() == kBound) {
        model_evictions += model.front().time > t - kWindow;
        model.pop_front();
      }
      for (ModelEntry& e : model) e.replaced |= e.id == id;
      model.push_back({id, offset, t, false});
      ++offset;
      t += k % 3;
    }
    if (round % 7 == 0) {
      offset -= 5;
      w.TruncateTo(Offset(offset));
      while (!model.empty() && model.back().offset >= offset) model.pop_back();
    }
    if (round % 5 == 0) {
      w.ExpireUpTo(t);
      expire(t);
    }
    ASSERT_EQ(w.size(), model.size()) << "round " << round;
    ASSERT_EQ(w.early_evictions(), model_evictions) << "round " << round;
    std::vector<std::optional<Offset>> expected(kDistinctIds);
    for (const ModelEntry& e : model) {
      if (!e.replaced && e.time > t - kWindow) expected[e.offset % kDistinctIds] = Offset(e.offset);
    }
    for (int64_t n = 0; n < kDistinctIds; ++n) {
      ASSERT_EQ(w.Find(ids[n], t), expected[n]) << "round " << round << " id " << n;
    }
  }
  EXPECT_GT(model_evictions, 0u);  // the bound was exercised, not only expiry
}

// Issue 3's target: under 64 bytes per tracked id, all overhead included, at a million ids.
TEST(MsgIdWindow, UsesUnder64BytesPerIdAtOneMillion) {
  constexpr int64_t kCount = 1'000'000;
  for (size_t bound : {static_cast<size_t>(kCount), kLargeBound}) {
    MsgIdWindow w(kWindowMs, bound);
    for (int64_t i = 0; i < kCount; ++i) w.Insert(Id(i), Offset(i), 0);
    ASSERT_EQ(w.size(), static_cast<size_t>(kCount));
    double per_id = static_cast<double>(w.memory_bytes()) / static_cast<double>(w.size());
    EXPECT_LT(per_id, 64.0) << "max_entries " << bound;
    EXPECT_GT(per_id, 32.0) << "memory_bytes must count the ring and the table";
    EXPECT_EQ(w.Find(Id(kCount - 1), 0), Offset(kCount - 1));
  }
}

}  // namespace
}  // namespace oncemq::broker
