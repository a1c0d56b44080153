#!/usr/bin/env bash
# Runs `oncemq bench outbox` (issue 6) on this machine against throwaway local servers and prints its table:
# enqueue-to-SENT throughput of a SQLite and a PostgreSQL outbox against a plain idempotent producer.
#
# Starts an oncemq broker and, when asked for, PostgreSQL and MariaDB (bench/local_servers.sh: 127.0.0.1,
# free ports, fresh directories, stopped and removed on exit).
#
# Knobs (environment):
#   ONCEMQ           the oncemq binary (default: `oncemq` on PATH, else the newest build/*/bin/oncemq)
#   COUNT            messages per run                               (default 100000)
#   SIZE             payload bytes                                  (default 100)
#   PER_TRANSACTION  messages the writer stores per transaction     (default 1)
#   RELAY_BATCH      messages a relay claims per round              (default 500)
#   BOUND            seconds bound of each run                      (default 120)
#   FLUSH            broker flush policy                            (default always)
#   STORES           which of sqlite,postgresql,mysql to run        (default sqlite,postgresql)
set -euo pipefail

readonly COUNT="${COUNT:-100000}"
readonly SIZE="${SIZE:-100}"
readonly PER_TRANSACTION="${PER_TRANSACTION:-1}"
readonly RELAY_BATCH="${RELAY_BATCH:-500}"
readonly BOUND="${BOUND:-120}"
readonly FLUSH="${FLUSH:-always}"
readonly STORES="${STORES:-sqlite,postgresql}"
readonly script_name=outbox_run.sh
# shellcheck source=bench/local_servers.sh
source "$(dirname "${BASH_SOURCE[0]}")/local_servers.sh"
start_broker
start_stores "$STORES"

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(uname -sr)"
echo "broker $oncemq at $bootstrap (flush=$FLUSH); outboxes: ${store_uris[*]}"
readonly total_bound=$(((${#store_uris[@]} + 1) * (BOUND + 30) + 120))
outboxes_arg="$(IFS=','; echo "${store_uris[*]}")"
set +e
timeout --kill-after=10 "$total_bound" "$oncemq" bench outbox --bootstrap "$bootstrap" --count "$COUNT" \
  --size "$SIZE" --per-transaction "$PER_TRANSACTION" --relay-batch "$RELAY_BATCH" --duration-bound "$BOUND" \
  --outboxes "$outboxes_arg"
status=$?
set -e
if ((status != 0)); then echo "outbox_run.sh: oncemq bench outbox exited with status $status" >&2; fi
exit "$status"
