#include "cli/demo/payment_service.h"

#include "cli/demo/card_service.h"
#include "oncemq/unique_insert.h"

namespace oncemq::cli::demo {

namespace {

constexpr char kPaymentsSchema[] =
    "CREATE TABLE IF NOT EXISTS payments(payment_id TEXT PRIMARY KEY, customer TEXT NOT NULL, amount_cents "
    "INTEGER NOT NULL)";

std::string Customer(int64_t n) {
  return "customer-" + std::to_string(n % 997);
}
int64_t AmountCents(int64_t n) {
  return 1'000 + (n * 7919) % 50'000;
}

}  // namespace

std::string PaymentService::PaymentId(int64_t n) {
  return "pay-" + std::to_string(n);
}

OutgoingMessage PaymentService::MessageOf(int64_t n) {
  const std::string payload = "{\"payment_id\":\"" + PaymentId(n) + "\",\"customer\":\"" + Customer(n) +
                              "\",\"amount_cents\":" + std::to_string(AmountCents(n)) + "}";
  return OutgoingMessage{kPaymentsTopic, Customer(n), payload, {}, PaymentId(n)};
}

Result<std::unique_ptr<PaymentService>> PaymentService::Open(const std::string& dir) {
  auto outbox = Outbox::Open("sqlite://" + dir + "/payments.db");
  if (!outbox.ok()) return outbox.status();
  if (Status s = (*outbox)->database()->Execute(kPaymentsSchema); !s.ok()) return s;
  return std::unique_ptr<PaymentService>(new PaymentService(std::move(*outbox)));
}

Status PaymentService::Take(int64_t n) {
  bool taken = false;
  Status s = outbox_->Transact([&](SqlTransaction& tx) -> Status {
    const SqlColumnValue row[] = {{"payment_id", PaymentId(n)},
                                  {"customer", Customer(n)},
                                  {"amount_cents", std::to_string(AmountCents(n))}};
    Result<InsertOutcome> inserted = InsertUnique(tx, "payments", row);
    if (!inserted.ok()) return inserted.status();
    taken = *inserted == InsertOutcome::kInserted;
    if (!taken) return Status::Ok();
    return outbox_->Send(tx, MessageOf(n)).status();
  });
  if (!s.ok()) return s;
  (taken ? counters_.taken : counters_.resubmissions_absorbed) += 1;
  return Status::Ok();
}

}  // namespace oncemq::cli::demo
