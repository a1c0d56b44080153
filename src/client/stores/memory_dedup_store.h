// MemoryDedupStore: a DedupStore in a map, for tests and as the reference semantics of the contract in
// include/oncemq/dedup_store.h. Nothing survives the object; not for production use.
//
// The clock is injectable so that tests step time instead of sleeping; by default it is the wall clock.
// Thread safety: every method may be called from any thread; one mutex serialises them all.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "oncemq/dedup_store.h"

namespace oncemq::client {

class MemoryDedupStore final : public DedupStore {
 public:
  // Milliseconds since the Unix epoch. REQUIRES: callable from any thread.
  using Clock = std::function<int64_t()>;

  MemoryDedupStore();
  explicit MemoryDedupStore(Clock clock);

  Result<std::vector<ClaimResult>> Claim(std::span<const ClaimRequest> requests) override;
  Result<FencedOutcome> Renew(const std::string& group, const std::string& key, int64_t token,
                              std::chrono::milliseconds lease) override;
  Result<FencedOutcome> Complete(const std::string& group, const std::string& key, int64_t token,
                                 std::chrono::milliseconds retention,
                                 std::optional<std::string> result) override;
  Result<FencedOutcome> Release(const std::string& group, const std::string& key, int64_t token,
                                const std::string& error) override;
  Result<std::optional<DedupRecord>> Get(const std::string& group, const std::string& key) override;
  Result<size_t> Sweep(size_t limit) override;
  Result<int64_t> NowMs() override { return clock_(); }

 private:
  using Key = std::pair<std::string, std::string>;  // group, key

  // Applies `change` to the key's record at store time now if it is kConsuming with `token`.
  Result<FencedOutcome> Transition(const std::string& group, const std::string& key, int64_t token,
                                   const std::function<void(DedupRecord&, int64_t now)>& change);

  const Clock clock_;
  std::mutex mu_;
  std::map<Key, DedupRecord> records_;  // GUARDED_BY(mu_)
  int64_t swept_token_high_water_ = 0;  // GUARDED_BY(mu_): the largest token Sweep deleted
};

}  // namespace oncemq::client
