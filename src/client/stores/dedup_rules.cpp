#include "client/stores/dedup_rules.h"

namespace oncemq::client {

namespace {

bool HashDiffers(const DedupRecord& found, const ClaimRequest& request) {
  return request.payload_hash && found.payload_hash && *request.payload_hash != *found.payload_hash;
}

// A new claim of the key: either no usable record (found is empty or a consumed record past retention),
// or a kReleased / expired kConsuming record whose attempt count and last error carry on.
DedupRecord NewClaim(const DedupRecord* carried, const std::optional<DedupRecord>& found,
                     const ClaimRequest& request, int64_t now_ms, int64_t new_key_token) {
  DedupRecord r;
  r.group = request.group;
  r.key = request.key;
  r.state = DedupState::kConsuming;
  r.owner = request.owner;
  r.fencing_token = found ? found->fencing_token + 1 : new_key_token;
  r.lease_until_ms = now_ms + request.lease.count();
  r.payload_hash = request.payload_hash;
  r.updated_ms = now_ms;
  if (carried != nullptr) {
    r.attempts = carried->attempts;
    r.last_error = carried->last_error;
    if (!r.payload_hash) r.payload_hash = carried->payload_hash;
  }
  return r;
}

}  // namespace

Status ValidateClaim(const ClaimRequest& request) {
  if (request.group.empty()) return Status::InvalidArgument("dedup claim: empty group");
  if (request.key.empty()) return Status::InvalidArgument("dedup claim: empty key");
  if (request.owner.empty()) return Status::InvalidArgument("dedup claim: empty owner");
  if (request.lease.count() <= 0) return Status::InvalidArgument("dedup claim: lease must be positive");
  return Status::Ok();
}

ClaimResult DecideClaim(const std::optional<DedupRecord>& found, const ClaimRequest& request, int64_t now_ms,
                        int64_t new_key_token) {
  if (!found) return {ClaimOutcome::kClaimed, NewClaim(nullptr, found, request, now_ms, new_key_token)};
  const DedupRecord& f = *found;
  const bool consumed_live = f.state == DedupState::kConsumed && now_ms < f.retain_until_ms;
  const bool consuming = f.state == DedupState::kConsuming;
  if ((consumed_live || consuming) && HashDiffers(f, request)) return {ClaimOutcome::kPayloadMismatch, f};
  if (consumed_live) return {ClaimOutcome::kDuplicate, f};
  if (consuming && now_ms < f.lease_until_ms) return {ClaimOutcome::kInProgress, f};
  const DedupRecord* carried = f.state == DedupState::kConsumed ? nullptr : &f;
  return {consuming ? ClaimOutcome::kTakenOver : ClaimOutcome::kClaimed,
          NewClaim(carried, found, request, now_ms, new_key_token)};
}

std::string_view StateName(DedupState state) {
  switch (state) {
    case DedupState::kConsuming: return "CONSUMING";
    case DedupState::kConsumed: return "CONSUMED";
    case DedupState::kReleased: return "RELEASED";
  }
  return "CONSUMING";
}

std::optional<DedupState> ParseState(std::string_view name) {
  if (name == "CONSUMING") return DedupState::kConsuming;
  if (name == "CONSUMED") return DedupState::kConsumed;
  if (name == "RELEASED") return DedupState::kReleased;
  return std::nullopt;
}

}  // namespace oncemq::client
