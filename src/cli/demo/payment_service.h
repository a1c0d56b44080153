// The demo's payment service: takes payments, each written with its outbox message in one SQLite
// transaction (payments.db holds both), as a service using the outbox does. The upstream sometimes submits
// the same payment twice; the payment's unique key (InsertUnique) turns the second submission into a no-op,
// and the outbox's msg-id — the payment id — would keep one message even if it got that far.
// Thread safety: Run on one thread; the counters from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "oncemq/outbox.h"
#include "oncemq/status.h"

namespace oncemq::cli::demo {

struct PaymentCounters {
  std::atomic<int64_t> taken{0};                   // payments stored with their message
  std::atomic<int64_t> resubmissions_absorbed{0};  // second submissions the unique key turned into no-ops
};

class PaymentService {
 public:
  // Opens (creates) DIR/payments.db with the payments table and the outbox.
  static Result<std::unique_ptr<PaymentService>> Open(const std::string& dir);

  // Takes payment number `n` (id pay-<n>); the same n again is a re-submission.
  Status Take(int64_t n);
  std::shared_ptr<Outbox> outbox() const { return outbox_; }
  const PaymentCounters& counters() const { return counters_; }

  // The message of payment `n` as the service stores it (for the upstream's re-publication).
  static OutgoingMessage MessageOf(int64_t n);
  static std::string PaymentId(int64_t n);

 private:
  explicit PaymentService(std::shared_ptr<Outbox> outbox) : outbox_(std::move(outbox)) {}
  std::shared_ptr<Outbox> outbox_;
  PaymentCounters counters_;
};

}  // namespace oncemq::cli::demo
