// `oncemq bench dedup`: consume-and-handle throughput of a trivial handler (it counts) with each dedup store
// (issue 5), against any Kafka-compatible broker.
//
// One topic of --count messages, each with a unique oncemq-msg-id header, is produced once (acks=all). Then,
// each in a fresh consumer group reading it from the beginning:
//   plain        a librdkafka KafkaConsumer; commitAsync after every poll batch (up to 500 messages). The
//                baseline.
//   seeds        per store: the plain loop plus the seeds' scheme per message — Redis `SET k NX PX` before
//                the handler and `SET k done` after it; SQL `INSERT … ON CONFLICT DO NOTHING` (INSERT IGNORE)
//                then `UPDATE … SET state='done'`, autocommit, in a table of its own (oncemq_bench_seeds).
//                Two round trips (two commits) per message.
//   per-message  per store: IdempotentConsumer with max_batch = 1 (a Claim and a CompleteBatch per message,
//                and an offset commit per message).
//   batch        per store: IdempotentConsumer with max_batch = 500 (a Claim and a CompleteBatch per poll
//                batch).
// A run ends when --count messages were handled or after --duration-bound seconds (the shortfall is
// reported, the rate is that of the messages handled). Rates are timed from the first handled message to
// the last, so the group join is not counted. Every store run has an empty namespace: a new SQLite file
// (the given path plus a suffix, removed afterwards), or a group name of its own in a shared server.
// Prints one table, one verdict line per store on issue 5's targets, and one line per run
//   RESULT dedup mode=... store=... handled=... seconds=... msgs_per_s=... us_per_msg=...
// Exit status 1 if the topic cannot be produced or a run fails (a store error, a message lost); a missed
// target is reported, not a failure.
#pragma once

#include <CLI/CLI.hpp>

namespace oncemq::bench {

// Registers the `dedup` subcommand on the `bench` command.
void AddDedupBench(CLI::App& bench);

}  // namespace oncemq::bench
