// DedupStore: where the idempotent consumer records, per (consumer group, business key), whether a message's
// business effect is being produced or has been produced (DESIGN.md §3, the decision table).
//
// Guarantees every implementation gives (checked by one conformance suite run against each store):
// - Claim is atomic per key: of any number of concurrent claims of a key with no live record, exactly one
//   gets kClaimed (or kTakenOver) and a fencing token; the others see kInProgress.
// - Fencing tokens of a key only grow. Renew, Complete and Release succeed only with the key's current
//   token; a stale token gets kFenced and changes nothing — so an owner whose lease expired and was taken
//   over can never mark the key done or release the new owner's claim.
// - Times (lease ends, retention ends) come from the store's clock, never the client's.
// - A failed Release keeps the attempt count and the last error; the next claim continues the count.
// - With a payload hash, a claim of a CONSUMED or CONSUMING key whose recorded hash differs answers
//   kPayloadMismatch: the same key with different content is an error, not a duplicate.
// - A store that cannot answer returns a non-OK Status (kUnavailable for a retriable outage); it never
//   guesses. Callers fail closed.
// Thread safety: every method may be called from any thread; implementations serialise as they need.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "oncemq/status.h"

namespace oncemq {

enum class DedupState {
  kConsuming,  // claimed; the owner's handler runs until lease_until_ms
  kConsumed,   // the effect happened; duplicates are skipped until retain_until_ms
  kReleased,   // the last attempt failed; the key may be claimed again
};

struct DedupRecord {
  std::string group;
  std::string key;
  DedupState state = DedupState::kConsuming;
  std::string owner;
  int64_t fencing_token = 0;
  int64_t lease_until_ms = 0;   // kConsuming: store clock
  int64_t retain_until_ms = 0;  // kConsumed: the record may be swept after this (store clock)
  int32_t attempts = 0;         // failed attempts so far
  std::string last_error;
  std::optional<std::string> payload_hash;
  std::optional<std::string> result;  // kConsumed: what the handler chose to keep
  int64_t updated_ms = 0;             // store clock of the last change
};

struct ClaimRequest {
  std::string group;
  std::string key;
  std::string owner;  // the consumer instance
  std::chrono::milliseconds lease{30'000};
  std::optional<std::string> payload_hash;
};

enum class ClaimOutcome {
  kClaimed,          // no live record (none, or kReleased): now ours with a new token — run the handler
  kTakenOver,        // a kConsuming record whose lease had expired: now ours with a new token
  kDuplicate,        // kConsumed: skip and acknowledge
  kInProgress,       // kConsuming with a live lease (another owner, or ourselves): delay, never acknowledge
  kPayloadMismatch,  // the recorded payload hash differs: an error, not a duplicate
};

struct ClaimResult {
  ClaimOutcome outcome = ClaimOutcome::kInProgress;
  DedupRecord record;  // the record after the claim (for kDuplicate/kInProgress: as found)
};

// One Complete of a batch (see DedupStore::CompleteBatch).
struct CompleteRequest {
  std::string group;
  std::string key;
  int64_t token = 0;
  std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
  std::optional<std::string> result;
};

enum class FencedOutcome {
  kOk,      // done
  kFenced,  // the token is not the key's current one (or the record is gone): nothing changed
};

class DedupStore {
 public:
  virtual ~DedupStore() = default;

  // One result per request, in order, in as few round trips as the store allows. A key repeated in one
  // batch is claimed once: later repeats see the first one's claim (kInProgress).
  virtual Result<std::vector<ClaimResult>> Claim(std::span<const ClaimRequest> requests) = 0;

  // Extends a kConsuming lease to store-now + lease.
  virtual Result<FencedOutcome> Renew(const std::string& group, const std::string& key, int64_t token,
                                      std::chrono::milliseconds lease) = 0;
  // kConsuming → kConsumed, kept for `retention` from store-now, with an optional result.
  virtual Result<FencedOutcome> Complete(const std::string& group, const std::string& key, int64_t token,
                                         std::chrono::milliseconds retention,
                                         std::optional<std::string> result) = 0;
  // Complete for many keys: one outcome per request, in order, each exactly as Complete would answer it, in
  // as few round trips as the store allows (the consumer completes a whole poll batch at once). Not atomic
  // across keys: after an error some may be done — calling again is safe (a done one then answers kFenced).
  // This default calls Complete per request.
  virtual Result<std::vector<FencedOutcome>> CompleteBatch(std::span<const CompleteRequest> requests) {
    std::vector<FencedOutcome> outcomes;
    outcomes.reserve(requests.size());
    for (const CompleteRequest& r : requests) {
      Result<FencedOutcome> outcome = Complete(r.group, r.key, r.token, r.retention, r.result);
      if (!outcome.ok()) return outcome.status();
      outcomes.push_back(*outcome);
    }
    return outcomes;
  }
  // kConsuming → kReleased: attempts + 1, last_error = error.
  virtual Result<FencedOutcome> Release(const std::string& group, const std::string& key, int64_t token,
                                        const std::string& error) = 0;

  virtual Result<std::optional<DedupRecord>> Get(const std::string& group, const std::string& key) = 0;
  // Deletes at most `limit` kConsumed records whose retention ended; returns how many.
  virtual Result<size_t> Sweep(size_t limit) = 0;
  // The store's clock, in ms since the Unix epoch.
  virtual Result<int64_t> NowMs() = 0;
};

}  // namespace oncemq
