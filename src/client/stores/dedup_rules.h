// The decision table of DESIGN.md §3 as pure functions, shared by every DedupStore so that each store only
// has to read a record, decide with these, and write the result atomically.
//
// Boundaries: a lease is alive while now < lease_until_ms; a kConsumed record is a duplicate while
// now < retain_until_ms. A kConsumed record whose retention ended but which Sweep has not deleted yet is
// treated as if it were gone: it is claimed afresh (attempts reset), so the answer never depends on when
// Sweep last ran.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "oncemq/dedup_store.h"

namespace oncemq::client {

// kInvalidArgument for an empty group, key or owner, or a lease that is not positive.
Status ValidateClaim(const ClaimRequest& request);

// The outcome of `request` against `found` (the key's record, if any) at store time `now_ms`.
// For kClaimed/kTakenOver the result's record is the one to write; otherwise it is `found` unchanged.
// `new_key_token` is the token a key without a record gets: one above any token the store ever swept,
// so a key's tokens keep growing even across Sweep. An existing record's next token is its token + 1.
// REQUIRES: `found`, if any, is the record of request.group/request.key; ValidateClaim(request) is OK.
ClaimResult DecideClaim(const std::optional<DedupRecord>& found, const ClaimRequest& request, int64_t now_ms,
                        int64_t new_key_token);

// "CONSUMING", "CONSUMED", "RELEASED": the names stores keep on disk.
std::string_view StateName(DedupState state);
std::optional<DedupState> ParseState(std::string_view name);

}  // namespace oncemq::client
