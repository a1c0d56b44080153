// What IdempotentConsumer::Impl does with each message of a pass: the decision table of DESIGN.md §3 in
// lease mode and transactional mode, handler failures, routing to retry and dead-letter topics, holds.
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <thread>

#include "client/consumer/consumer_counters.h"
#include "client/consumer/consumer_impl.h"

namespace oncemq {

namespace {

std::string PayloadHash(std::string_view payload) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(payload.data(), payload.size(), digest.data(), &size, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

bool IsClaim(const std::optional<ClaimResult>& claim) {
  return claim && (claim->outcome == ClaimOutcome::kClaimed || claim->outcome == ClaimOutcome::kTakenOver);
}

}  // namespace

void IdempotentConsumer::Impl::Process(std::vector<Item>& items) {
  std::vector<Item*> to_decide;
  for (Item& item : items) Triage(item, to_decide);
  if (options_.store) DecideLease(to_decide);
  for (Item* item : to_decide) {
    if (item->fate != Fate::kPending) continue;
    if (HeldBehindEarlier(*item)) {
      Abandon(*item);
      HoldItem(std::move(*item), holds_[item->partition].ready_at);
      continue;
    }
    if (Stopping()) {  // not done and not committed: the next owner gets it
      Abandon(*item);
      continue;
    }
    if (options_.transactional_store) {
      RunTransactional(*item);
    } else if (item->claim) {
      RunLease(*item);
    } else {
      RunUnprotected(*item);  // the store did not answer and fail_open is set
    }
  }
  FinishCompletes();
  FinishRoutes(items);
}

void IdempotentConsumer::Impl::FinishCompletes() {
  if (completing_.empty()) return;
  std::vector<CompleteRequest> requests;
  requests.reserve(completing_.size());
  for (auto& [item, request] : completing_) requests.push_back(std::move(request));
  std::vector<FencedOutcome> outcomes;
  for (;;) {
    Result<std::vector<FencedOutcome>> written = options_.store->CompleteBatch(requests);
    if (written.ok() && written->size() == requests.size()) {
      store_failures_in_a_row_ = 0;
      outcomes = std::move(*written);
      break;
    }
    ++counters_->store_failures;
    spdlog::warn("idempotent consumer {}: store cannot complete: {}", options_.group,
                 written.ok() ? "wrong number of results" : written.status().ToString());
    if (!SleepUnlessStopping(StoreBackoff())) {
      // Not done: each lease runs out and the messages are handled again (lease mode is at-least-once when
      // the store is lost between a handler and its record; transactional mode is not).
      for (auto& [item, request] : completing_) renewer_->Drop(item->key.value());
      completing_.clear();
      return;
    }
  }
  size_t fenced = 0;
  const std::string* first_fenced = nullptr;
  for (size_t i = 0; i < completing_.size(); ++i) {
    Item& item = *completing_[i].first;
    renewer_->Drop(*item.key);
    if (outcomes[i] == FencedOutcome::kFenced) {
      ++counters_->fenced;
      if (fenced++ == 0) first_fenced = &*item.key;
    } else {
      ++counters_->handled;
    }
    Done(item);
  }
  // One line per batch, not per key: a lease too short for the handlers fences many keys at once.
  if (fenced > 0) {
    spdlog::warn(
        "idempotent consumer {}: keys taken over while their handlers ran: {} (first {}); is the "
        "lease shorter than the handlers?",
        options_.group, fenced, *first_fenced);
  }
  completing_.clear();
}

void IdempotentConsumer::Impl::Triage(Item& item, std::vector<Item*>& to_decide) {
  tracker_.Track(item.partition, item.view.offset);
  if (PartitionHeld(item.partition)) {
    HoldItem(std::move(item), holds_[item.partition].ready_at);
    return;
  }
  // A retry copy waits on its topic until due; only our own retry topics are honoured.
  if (item.deliver_at > 0 && item.partition.topic.starts_with(options_.group + ".retry.")) {
    const int64_t wait_ms = item.deliver_at - WallNowMs();
    if (wait_ms > 0) {
      HoldItem(std::move(item), Clock::now() + std::chrono::milliseconds(wait_ms));
      return;
    }
  }
  item.key = options_.key.Extract(item.view);
  if (!item.key) {
    RouteTo(item,
            client::RouteToDeadLetter(options_.group, item.attempts,
                                      "no business key (" + options_.key.Describe() + ")", WallNowMs()));
    return;
  }
  to_decide.push_back(&item);
}

void IdempotentConsumer::Impl::DecideLease(std::vector<Item*>& items) {
  if (items.empty()) return;
  std::vector<ClaimRequest> requests;
  requests.reserve(items.size());
  for (const Item* item : items) {
    requests.push_back(ClaimRequest{.group = options_.group,
                                    .key = *item->key,
                                    .owner = options_.owner,
                                    .lease = options_.lease,
                                    .payload_hash = options_.hash_payload
                                                        ? std::optional(PayloadHash(item->view.payload))
                                                        : std::nullopt});
  }
  Result<std::vector<ClaimResult>> results = options_.store->Claim(requests);
  if (!results.ok() || results->size() != items.size()) {
    ++counters_->store_failures;
    spdlog::warn("idempotent consumer {}: store cannot claim: {}", options_.group,
                 results.ok() ? "wrong number of results" : results.status().ToString());
    if (options_.fail_open) return;  // claims stay empty: handled unprotected
    const auto ready_at = Clock::now() + StoreBackoff();
    for (Item* item : items) HoldItem(std::move(*item), ready_at);
    return;
  }
  store_failures_in_a_row_ = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    items[i]->claim = std::move((*results)[i]);
    if (!IsClaim(items[i]->claim)) continue;
    ++counters_->claimed;
    renewer_->Hold(*items[i]->key, items[i]->claim->record.fencing_token);
  }
}

void IdempotentConsumer::Impl::RunLease(Item& item) {
  const ClaimResult& claim = *item.claim;
  const int64_t now = WallNowMs();
  switch (claim.outcome) {
    case ClaimOutcome::kDuplicate:
      ++counters_->duplicates;
      Done(item);
      return;
    case ClaimOutcome::kInProgress:
      ++counters_->delayed_in_progress;
      RouteTo(item, client::RouteInProgress(options_.group, options_.retry, item.attempts, now));
      return;
    case ClaimOutcome::kPayloadMismatch:
      RouteTo(item,
              client::RouteToDeadLetter(options_.group, item.attempts,
                                        "payload differs from the one recorded for key " + *item.key, now));
      return;
    case ClaimOutcome::kClaimed:
    case ClaimOutcome::kTakenOver: break;
  }
  const std::string& key = *item.key;
  if (renewer_->Lost(key)) {  // taken over while it waited in the batch: the other owner has it
    renewer_->Drop(key);
    ++counters_->fenced;
    RouteTo(item, client::RouteInProgress(options_.group, options_.retry, item.attempts, now));
    return;
  }
  const int64_t token = claim.record.fencing_token;
  const int32_t previous = std::max(item.attempts, claim.record.attempts);
  HandlerContext context;
  context.key = key;
  context.fencing_token = token;
  context.attempt = previous + 1;
  const Status handled = CallHandler(item, context);
  DedupStore& store = *options_.store;
  FencedOutcome outcome = FencedOutcome::kOk;
  if (handled.ok()) {
    completing_.emplace_back(&item, CompleteRequest{.group = options_.group,
                                                    .key = key,
                                                    .token = token,
                                                    .retention = options_.retention,
                                                    .result = std::move(context.result)});
    return;
  }
  ++counters_->handler_failures;
  Status written = RetryStoreWrite(
      [&] { return store.Release(options_.group, key, token, handled.ToString()); }, &outcome);
  renewer_->Drop(key);
  if (!written.ok()) return;
  AfterHandlerFailure(item, handled, previous);
}

void IdempotentConsumer::Impl::RunTransactional(Item& item) {
  TransactionalRequest request{
      .group = options_.group,
      .key = *item.key,
      .owner = options_.owner,
      .retention = options_.retention,
      .payload_hash = options_.hash_payload ? std::optional(PayloadHash(item.view.payload)) : std::nullopt};
  HandlerContext context;
  context.key = *item.key;
  Result<TransactionalResult> result = options_.transactional_store->RunOnce(
      request, [&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>& kept) {
        ++counters_->claimed;
        context.fencing_token = claim.fencing_token;
        context.attempt = std::max(item.attempts, claim.attempts) + 1;
        context.transaction = &tx;
        Status status = CallHandler(item, context);
        kept = context.result;
        context.transaction = nullptr;
        return status;
      });
  if (!result.ok()) {
    ++counters_->store_failures;
    spdlog::warn("idempotent consumer {}: store: {}", options_.group, result.status().ToString());
    HoldForStore(std::move(item));
    return;
  }
  store_failures_in_a_row_ = 0;
  const int64_t now = WallNowMs();
  switch (result->outcome) {
    case TransactionalOutcome::kCommitted:
      ++counters_->handled;
      Done(item);
      return;
    case TransactionalOutcome::kDuplicate:
      ++counters_->duplicates;
      Done(item);
      return;
    case TransactionalOutcome::kInProgress:
      ++counters_->delayed_in_progress;
      RouteTo(item, client::RouteInProgress(options_.group, options_.retry, item.attempts, now));
      return;
    case TransactionalOutcome::kPayloadMismatch:
      RouteTo(item,
              client::RouteToDeadLetter(options_.group, item.attempts,
                                        "payload differs from the one recorded for key " + *item.key, now));
      return;
    case TransactionalOutcome::kHandlerFailed:
      ++counters_->handler_failures;
      AfterHandlerFailure(item, result->handler_status, std::max(item.attempts, result->record.attempts - 1));
      return;
  }
}

void IdempotentConsumer::Impl::RunUnprotected(Item& item) {
  ++counters_->unprotected;
  HandlerContext context;
  context.key = *item.key;
  context.attempt = item.attempts + 1;
  const Status handled = CallHandler(item, context);
  if (handled.ok()) {
    ++counters_->handled;
    Done(item);
    return;
  }
  ++counters_->handler_failures;
  AfterHandlerFailure(item, handled, item.attempts);
}

Status IdempotentConsumer::Impl::CallHandler(Item& item, HandlerContext& context) {
  try {
    return handler_(item.view, context);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("handler threw: ") + e.what());
  } catch (...) {
    return Status::Unavailable("handler threw");
  }
}

void IdempotentConsumer::Impl::AfterHandlerFailure(Item& item, const Status& error,
                                                   int32_t previous_attempts) {
  RouteTo(item, client::RouteFailure(options_.group, options_.retry, previous_attempts, error, WallNowMs()));
}

void IdempotentConsumer::Impl::RouteTo(Item& item, client::Route route) {
  item.route = std::move(route);
  item.slot = std::make_unique<client::DeliverySlot>();
  item.fate = Fate::kRouting;
  routes_->Send(item.view, item.route, item.slot.get());
}

void IdempotentConsumer::Impl::FinishRoutes(std::vector<Item>& items) {
  if (std::none_of(items.begin(), items.end(),
                   [](const Item& item) { return item.fate == Fate::kRouting; })) {
    return;
  }
  routes_->AwaitAll();
  size_t unconfirmed = 0;
  std::string first_unconfirmed;
  for (Item& item : items) {
    if (item.fate != Fate::kRouting) continue;
    if (item.slot->state == client::DeliverySlot::State::kDelivered) {
      if (item.route.dead_letter) {
        ++counters_->dead_lettered;
      } else {
        counters_->Retried(item.route.level);
      }
      Done(item);
      continue;
    }
    if (unconfirmed++ == 0) first_unconfirmed = item.route.topic + " (" + item.slot->error + ")";
    HoldItem(std::move(item), Clock::now() + StoreBackoff());
  }
  // One line per pass, not per message: when the cluster is away every copy of the batch fails alike.
  if (unconfirmed > 0) {
    spdlog::warn(
        "idempotent consumer {}: retry/dead-letter copies not confirmed: {} (first to {}); their "
        "messages wait",
        options_.group, unconfirmed, first_unconfirmed);
  }
}

void IdempotentConsumer::Impl::Done(Item& item) {
  item.fate = Fate::kDone;
  tracker_.MarkDone(item.partition, item.view.offset);
}

void IdempotentConsumer::Impl::HoldForStore(Item&& item) {
  HoldItem(std::move(item), Clock::now() + StoreBackoff());
}

void IdempotentConsumer::Impl::Abandon(Item& item) {
  if (!IsClaim(item.claim)) return;
  renewer_->Drop(*item.key);
  // A 1 ms lease: the next claim takes over at once, and a take-over counts no attempt.
  (void)options_.store->Renew(options_.group, *item.key, item.claim->record.fencing_token,
                              std::chrono::milliseconds(1));
  item.claim.reset();
}

Status IdempotentConsumer::Impl::RetryStoreWrite(const std::function<Result<FencedOutcome>()>& write,
                                                 FencedOutcome* outcome) {
  for (;;) {
    Result<FencedOutcome> written = write();
    if (written.ok()) {
      store_failures_in_a_row_ = 0;
      *outcome = *written;
      return Status::Ok();
    }
    ++counters_->store_failures;
    spdlog::warn("idempotent consumer {}: store write failed: {}", options_.group,
                 written.status().ToString());
    if (!SleepUnlessStopping(StoreBackoff()))
      return Status::Unavailable("stopping with the store unavailable");
  }
}

bool IdempotentConsumer::Impl::SleepUnlessStopping(std::chrono::milliseconds duration) {
  const auto until = Clock::now() + duration;
  while (Clock::now() < until) {
    if (Stopping()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !Stopping();
}

}  // namespace oncemq
