#!/usr/bin/env bash
# Runs `oncemq bench dedup` (issue 5) on this machine against throwaway local servers and prints its table.
#
# Starts, each on 127.0.0.1 with a free port and a fresh temporary directory: an oncemq broker, a
# redis-server (no persistence), PostgreSQL (initdb --auth=trust -U oncemq; run as the `postgres` user when
# this script runs as root) and MariaDB (mariadb-install-db --no-defaults; a database and a user `oncemq`).
# The SQL servers run with the settings of the test suite (tests/support/servers): PostgreSQL fsync=off,
# MariaDB innodb_flush_log_at_trx_commit=2 — a commit is not flushed to disk, for the seeds' scheme and the
# oncemq store alike. SQLite runs with the store's own durability (WAL, synchronous=FULL) in both. Every
# server is stopped by its PID and its directory removed on exit, whatever happens.
#
# Knobs (environment):
#   ONCEMQ      the oncemq binary (default: `oncemq` on PATH, else the newest build/*/bin/oncemq)
#   COUNT       messages per run                             (default 200000)
#   SIZE        payload bytes                                (default 100)
#   PARTITIONS  partitions of the benchmark topic            (default 1)
#   BOUND       seconds bound of each run                    (default 60)
#   FLUSH       broker flush policy (always | interval=MS | never)   (default always)
#   STORES      which of sqlite,redis,postgresql,mysql to run (default all four)
#   MODES       which of seeds,per-message,batch to run after plain (default all three)
set -euo pipefail

readonly COUNT="${COUNT:-200000}"
readonly SIZE="${SIZE:-100}"
readonly PARTITIONS="${PARTITIONS:-1}"
readonly BOUND="${BOUND:-60}"
readonly FLUSH="${FLUSH:-always}"
readonly STORES="${STORES:-sqlite,redis,postgresql,mysql}"
readonly MODES="${MODES:-seeds,per-message,batch}"
readonly script_name=dedup_run.sh
# shellcheck source=bench/local_servers.sh
source "$(dirname "${BASH_SOURCE[0]}")/local_servers.sh"
start_broker
start_stores "$STORES"

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(uname -sr)"
echo "broker $oncemq at $bootstrap (flush=$FLUSH); stores: ${store_uris[*]}"
# 13 runs at most, each bounded, plus producing the topic and joining groups.
readonly total_bound=$(((3 * ${#store_uris[@]} + 1) * (BOUND + 30) + 300))
stores_arg="$(IFS=','; echo "${store_uris[*]}")"
set +e
timeout --kill-after=10 "$total_bound" "$oncemq" bench dedup --bootstrap "$bootstrap" --count "$COUNT" \
  --size "$SIZE" --partitions "$PARTITIONS" --duration-bound "$BOUND" --stores "$stores_arg" \
  --modes "$MODES"
status=$?
set -e
if ((status != 0)); then echo "dedup_run.sh: oncemq bench dedup exited with status $status" >&2; fi
exit "$status"
