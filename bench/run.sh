#!/usr/bin/env bash
# Runs the standard oncemq benchmark on this machine and prints a summary table.
#
# Starts a broker on a fresh temporary data directory and a free port, then for 100 B and 1 KiB
# messages: produce at full speed (acks=all), consume everything back (partitions assigned, then again
# as a member of a consumer group), produce again at half the measured maximum rate to read the ack
# latency at a sustainable load, and at a quarter of it measure produce-to-consume latency through a group. The broker and its data are
# removed on exit, whatever happens.
#
# Knobs (environment):
#   ONCEMQ        the oncemq binary (default: `oncemq` on PATH, else the newest build/*/bin/oncemq)
#   FLUSH         broker flush policy: always | interval=MS | never        (default always)
#   PARTITIONS    partitions per benchmark topic                           (default 1)
#   IDEMPOTENCE   on | off; the broker core answers InitProducerId later   (default off)
#   DURATION      seconds bound of each produce and consume run            (default 20)
#   LATENCY_DURATION  seconds of each half-rate latency run                (default 10)
#   LATENCY_LINGER_MS linger.ms of the latency runs                        (default 1)
#   COUNT_100 / COUNT_1024  message bound of the full-speed runs   (default 3000000 / 600000)
#   E2E_DIVISOR   end-to-end latency runs send at max produce rate / this (default 4: the producer,
#                 the consumer and the broker share this machine's cores)
set -euo pipefail

readonly repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly FLUSH="${FLUSH:-always}"
readonly PARTITIONS="${PARTITIONS:-1}"
readonly IDEMPOTENCE="${IDEMPOTENCE:-off}"
readonly DURATION="${DURATION:-20}"
readonly LATENCY_DURATION="${LATENCY_DURATION:-10}"
readonly LATENCY_LINGER_MS="${LATENCY_LINGER_MS:-1}"
readonly COUNT_100="${COUNT_100:-3000000}"
readonly COUNT_1024="${COUNT_1024:-600000}"
readonly E2E_DIVISOR="${E2E_DIVISOR:-4}"
readonly READY_WAIT_S=15

find_oncemq() {
  if [[ -n "${ONCEMQ:-}" ]]; then echo "$ONCEMQ"; return; fi
  if command -v oncemq >/dev/null; then command -v oncemq; return; fi
  local newest
  newest="$(ls -t "$repo_root"/build/*/bin/oncemq 2>/dev/null | head -n 1 || true)"
  if [[ -z "$newest" ]]; then
    echo "run.sh: no oncemq binary; build it or set ONCEMQ=/path/to/oncemq" >&2
    exit 1
  fi
  echo "$newest"
}
readonly oncemq="$(find_oncemq)"

work_dir="$(mktemp -d -t oncemq-bench.XXXXXX)"
broker_pid=""
cleanup() {
  if [[ -n "$broker_pid" ]] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$work_dir"
}
trap cleanup EXIT

start_broker() {
  "$oncemq" broker --data-dir "$work_dir/data" --listen 127.0.0.1:0 --ready-file "$work_dir/ready" \
    --flush "$FLUSH" >"$work_dir/broker.log" 2>&1 &
  broker_pid=$!
  local waited=0
  until [[ -s "$work_dir/ready" ]]; do
    if ! kill -0 "$broker_pid" 2>/dev/null; then
      echo "run.sh: the broker exited during start-up; its log:" >&2
      cat "$work_dir/broker.log" >&2
      exit 1
    fi
    if ((waited >= READY_WAIT_S * 10)); then
      echo "run.sh: the broker did not write its ready file within ${READY_WAIT_S} s" >&2
      exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  bootstrap="$(head -n 1 "$work_dir/ready")"
}

# Prints the value of key=value in the RESULT line of the given output.
result_field() {
  local output="$1" key="$2"
  grep '^RESULT ' <<<"$output" | tr ' ' '\n' | sed -n "s/^${key}=//p"
}

# Runs one benchmark command, echoing its output, and keeps the output in $last_output. A run that
# counted delivery errors still yields figures (the table shows the error count); a run that could
# not produce a RESULT line at all ends the script.
run_bench() {
  echo "+ oncemq bench $*"
  last_output="$("$oncemq" bench "$@" --bootstrap "$bootstrap")" || true
  echo "$last_output"
  if ! grep -q '^RESULT ' <<<"$last_output"; then
    echo "run.sh: benchmark failed: oncemq bench $*" >&2
    exit 1
  fi
}

create_topic() {
  "$oncemq" topic create "$1" --partitions "$PARTITIONS" --bootstrap "$bootstrap" >/dev/null
}

declare -A table
measure_size() {
  local size="$1" count="$2"
  local topic="bench-${size}" latency_topic="bench-${size}-latency" e2e_topic="bench-${size}-e2e"
  create_topic "$topic"
  run_bench produce --topic "$topic" --size "$size" --count "$count" --duration "$DURATION" \
    --idempotence "$IDEMPOTENCE"
  local max_rate
  max_rate="$(result_field "$last_output" msgs_per_s)"
  table[$size:produce]="$max_rate $(result_field "$last_output" mb_per_s) $(result_field "$last_output" errors)"

  run_bench consume --topic "$topic" --duration "$DURATION"
  table[$size:consume]="$(result_field "$last_output" msgs_per_s) $(result_field "$last_output" mb_per_s)"

  run_bench consume --topic "$topic" --group "bench-${size}-group" --duration "$DURATION"
  table[$size:group]="$(result_field "$last_output" msgs_per_s) $(result_field "$last_output" mb_per_s)"
  table[$size:group]+=" $(result_field "$last_output" join_s)"

  local half_rate=$((${max_rate%.*} / 2))
  if ((half_rate < 1)); then
    echo "run.sh: no usable maximum rate for ${size} B messages" >&2
    exit 1
  fi
  create_topic "$latency_topic"
  run_bench produce --topic "$latency_topic" --size "$size" --rate "$half_rate" --count 0 \
    --duration "$LATENCY_DURATION" --linger-ms "$LATENCY_LINGER_MS" --idempotence "$IDEMPOTENCE"
  table[$size:latency]="$half_rate $(result_field "$last_output" p50_ms) $(result_field "$last_output" p99_ms)"
  table[$size:latency]+=" $(result_field "$last_output" p999_ms) $(result_field "$last_output" errors)"

  local e2e_rate=$((${max_rate%.*} / E2E_DIVISOR))
  create_topic "$e2e_topic"
  run_bench e2e --topic "$e2e_topic" --size "$size" --rate "$e2e_rate" --duration "$LATENCY_DURATION" \
    --linger-ms "$LATENCY_LINGER_MS"
  table[$size:e2e]="$e2e_rate $(result_field "$last_output" p50_ms) $(result_field "$last_output" p99_ms)"
  table[$size:e2e]+=" $(result_field "$last_output" p999_ms)"
}

print_summary() {
  echo
  echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(uname -sr)"
  echo "broker:  flush=$FLUSH, partitions=$PARTITIONS; producer: acks=all, idempotence=$IDEMPOTENCE"
  echo
  printf '| %-6s | %-13s | %-7s | %-13s | %-7s | %-15s | %-7s | %-7s | %-8s | %-13s |\n' size "produce msg/s" \
    "MB/s" "consume msg/s" "MB/s" "latency @ msg/s" "p50 ms" "p99 ms" "p99.9 ms" "errors (p/lat)"
  printf '|%s|\n' "--------|---------------|---------|---------------|---------|-----------------|---------|---------|----------|---------------"
  local size
  for size in 100 1024; do
    read -r p_rate p_mb p_errors <<<"${table[$size:produce]}"
    read -r c_rate c_mb <<<"${table[$size:consume]}"
    read -r l_rate l_p50 l_p99 l_p999 l_errors <<<"${table[$size:latency]}"
    printf '| %-6s | %-13s | %-7s | %-13s | %-7s | %-15s | %-7s | %-7s | %-8s | %-13s |\n' "$size B" "$p_rate" \
      "$p_mb" "$c_rate" "$c_mb" "$l_rate" "$l_p50" "$l_p99" "$l_p999" "$p_errors/$l_errors"
  done
  echo
  echo "through a consumer group (consume from the beginning; end-to-end = send to delivery to the consumer):"
  echo
  printf '| %-6s | %-19s | %-7s | %-10s | %-15s | %-10s | %-10s | %-12s |\n' size "group consume msg/s" MB/s \
    "join s" "e2e @ msg/s" "e2e p50 ms" "e2e p99 ms" "e2e p99.9 ms"
  printf '|%s|\n' "--------|---------------------|---------|------------|-----------------|------------|------------|-------------"
  for size in 100 1024; do
    read -r g_rate g_mb g_join <<<"${table[$size:group]}"
    read -r e_rate e_p50 e_p99 e_p999 <<<"${table[$size:e2e]}"
    printf '| %-6s | %-19s | %-7s | %-10s | %-15s | %-10s | %-10s | %-12s |\n' "$size B" "$g_rate" "$g_mb" \
      "$g_join" "$e_rate" "$e_p50" "$e_p99" "$e_p999"
  done
}

start_broker
echo "broker $oncemq at $bootstrap, data in $work_dir/data"
measure_size 100 "$COUNT_100"
measure_size 1024 "$COUNT_1024"
print_summary
