#include "client/stores/memory_dedup_store.h"

#include "client/stores/dedup_rules.h"
#include "common/clock.h"

namespace oncemq::client {

MemoryDedupStore::MemoryDedupStore() : MemoryDedupStore(WallMs) {}

MemoryDedupStore::MemoryDedupStore(Clock clock) : clock_(std::move(clock)) {}

Result<std::vector<ClaimResult>> MemoryDedupStore::Claim(std::span<const ClaimRequest> requests) {
  for (const ClaimRequest& r : requests) {
    if (Status s = ValidateClaim(r); !s.ok()) return s;
  }
  std::lock_guard lock(mu_);
  const int64_t now = clock_();
  std::vector<ClaimResult> results;
  results.reserve(requests.size());
  for (const ClaimRequest& r : requests) {
    auto it = records_.find(Key(r.group, r.key));
    std::optional<DedupRecord> found;
    if (it != records_.end()) found = it->second;
    ClaimResult result = DecideClaim(found, r, now, swept_token_high_water_ + 1);
    if (result.outcome == ClaimOutcome::kClaimed || result.outcome == ClaimOutcome::kTakenOver) {
      records_[Key(r.group, r.key)] = result.record;
    }
    results.push_back(std::move(result));
  }
  return results;
}

Result<FencedOutcome> MemoryDedupStore::Transition(
    const std::string& group, const std::string& key, int64_t token,
    const std::function<void(DedupRecord&, int64_t now)>& change) {
  std::lock_guard lock(mu_);
  auto it = records_.find(Key(group, key));
  if (it == records_.end()) return FencedOutcome::kFenced;
  DedupRecord& record = it->second;
  if (record.state != DedupState::kConsuming || record.fencing_token != token) return FencedOutcome::kFenced;
  const int64_t now = clock_();
  change(record, now);
  record.updated_ms = now;
  return FencedOutcome::kOk;
}

Result<FencedOutcome> MemoryDedupStore::Renew(const std::string& group, const std::string& key, int64_t token,
                                              std::chrono::milliseconds lease) {
  return Transition(group, key, token,
                    [&](DedupRecord& r, int64_t now) { r.lease_until_ms = now + lease.count(); });
}

Result<FencedOutcome> MemoryDedupStore::Complete(const std::string& group, const std::string& key,
                                                 int64_t token, std::chrono::milliseconds retention,
                                                 std::optional<std::string> result) {
  return Transition(group, key, token, [&](DedupRecord& r, int64_t now) {
    r.state = DedupState::kConsumed;
    r.retain_until_ms = now + retention.count();
    r.result = std::move(result);
  });
}

Result<FencedOutcome> MemoryDedupStore::Release(const std::string& group, const std::string& key,
                                                int64_t token, const std::string& error) {
  return Transition(group, key, token, [&](DedupRecord& r, int64_t) {
    r.state = DedupState::kReleased;
    r.attempts += 1;
    r.last_error = error;
  });
}

Result<std::optional<DedupRecord>> MemoryDedupStore::Get(const std::string& group, const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = records_.find(Key(group, key));
  if (it == records_.end()) return std::optional<DedupRecord>();
  return std::optional<DedupRecord>(it->second);
}

Result<size_t> MemoryDedupStore::Sweep(size_t limit) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_();
  size_t swept = 0;
  for (auto it = records_.begin(); it != records_.end() && swept < limit;) {
    const DedupRecord& r = it->second;
    if (r.state == DedupState::kConsumed && r.retain_until_ms <= now) {
      swept_token_high_water_ = std::max(swept_token_high_water_, r.fencing_token);
      it = records_.erase(it);
      ++swept;
    } else {
      ++it;
    }
  }
  return swept;
}

}  // namespace oncemq::client
