// `oncemq bench e2e`: end-to-end latency from produce to consume through a consumer group.
//
// One process runs an idempotent acks=all producer at a fixed rate (open loop) and a KafkaConsumer that
// has joined a fresh group on the same topic. Each payload starts with the steady-clock time of its send,
// so the consumer measures send → delivery to the application, one clock, no skew. The run sends for
// --duration seconds once the group has its assignment, then waits (bounded) for the rest to arrive.
// Prints a human summary and one line
//   RESULT e2e size=... rate=... sent=... received=... p50_ms=... p99_ms=... p999_ms=... max_ms=...
// and fails (exit status 1) when a message is missing or arrives twice.
#pragma once

#include <CLI/CLI.hpp>

namespace oncemq::bench {

// Registers the `e2e` subcommand on the `bench` command.
void AddE2eBench(CLI::App& bench);

}  // namespace oncemq::bench
