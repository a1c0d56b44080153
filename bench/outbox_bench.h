// `oncemq bench outbox`: outbox throughput (issue 6) — messages per second from the first enqueue to the
// last message recorded SENT — for each outbox database given, against a plain idempotent producer, in
// one run against any Kafka-compatible broker.
//
//   plain    a ReliableProducer (idempotent, acks=all, an oncemq-msg-id per message) sends --count
//            messages as fast as it can; the rate is from the first send to the last ack.
//   outbox   per database: a writer stores --count messages in transactions of --per-transaction
//            messages (as a service would, each with its business change), while a relay (batches of
//            --relay-batch) sends them; the rate is from the first enqueue to the last SENT. The figure
//            includes every write the outbox makes: the insert, the claim and the SENT record.
// Each run uses a topic of its own and, for SQLite, a new file (the given path plus a suffix, removed
// afterwards); on a server database the outbox table is emptied first. A Redis outbox (redis://…) is
// not emptied: it must hold no SENDING message, and the writer stores each list with Send(messages), as
// a service without a SQL database would. Prints a table with each outbox's
// overhead (plain rate ÷ outbox rate) and one line per run:
//   RESULT outbox mode=... database=... messages=... seconds=... msgs_per_s=... enqueue_msgs_per_s=...
// Exit status 1 if a run fails or does not finish within --duration-bound seconds.
#pragma once

#include <CLI/CLI.hpp>

namespace oncemq::bench {

// Registers the `outbox` subcommand on the `bench` command.
void AddOutboxBench(CLI::App& bench);

}  // namespace oncemq::bench
