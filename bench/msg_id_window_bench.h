// `oncemq bench window`: memory and speed of the message-id dedup window (broker/msg_id_window.h) on its own,
// without a broker. It inserts N ULID-like ids (26 characters), then holds the window full while N more
// arrive and as many expire, then does the same for N more the way the broker's produce path does (batches of
// 1000: look every id up, then insert them), then looks up N held ids (hits) and N forgotten or never-seen
// ids (misses). Prints a human summary and one line
//   RESULT window entries=N bytes_per_id=... inserts_per_s=... steady_inserts_per_s=... steady_insert_ns=...
//          produce_ns_per_id=... finds_per_s=... hit_finds_per_s=... miss_finds_per_s=...
// The command fails (exit status 1) if any held id is not found or any other id is.
#pragma once

#include <CLI/CLI.hpp>

namespace oncemq::bench {

// Registers the `window` subcommand on the `bench` command.
void AddWindowBench(CLI::App& bench);

}  // namespace oncemq::bench
