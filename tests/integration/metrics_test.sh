#!/usr/bin/env bash
# Prometheus metrics: the broker serves them on --metrics-listen, and the message-id dedup counters count.
# Usage: metrics_test.sh /path/to/oncemq. Every command is bounded by `timeout`; waits are bounded loops.
set -euo pipefail
ONCEMQ="$1"
WORK=$(mktemp -d -t oncemq-metrics.XXXXXX)
BROKER_PID=""
cleanup() {
  [[ -n "$BROKER_PID" ]] && kill -9 "$BROKER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "metrics_test: FAIL: $*" >&2; tail -n 20 "$WORK/broker.log" >&2 || true; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MPORT=$(free_port)
"$ONCEMQ" broker --data-dir "$WORK/data" --listen 127.0.0.1:0 --ready-file "$WORK/ready" \
  --metrics-listen "127.0.0.1:$MPORT" >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 200); do [[ -s "$WORK/ready" ]] && break; sleep 0.05; done
[[ -s "$WORK/ready" ]] || fail "broker did not become ready"
ADDR=$(cat "$WORK/ready")

scrape() { timeout 10 curl -sf "http://127.0.0.1:$MPORT/metrics"; }
value() {  # metric family -> its value for topic w partition 0
  scrape | awk -v m="$1{topic=\"w\",partition=\"0\"}" '$1 == m { print $2 }'
}

timeout 30 "$ONCEMQ" topic create w --bootstrap "$ADDR" --config dedup.window.ms=600000 >/dev/null ||
  fail "topic create failed"
for _ in 1 2 3; do
  echo same | timeout 30 kcat -b "$ADDR" -P -t w -H oncemq-msg-id=A || fail "kcat -P failed"
done
echo other | timeout 30 kcat -b "$ADDR" -P -t w -H oncemq-msg-id=B || fail "kcat -P failed"

scrape | grep -q '^# TYPE oncemq_msgid_duplicates_dropped_total counter' || fail "no TYPE line for the counter"
[[ "$(value oncemq_msgid_duplicates_dropped_total)" == 2 ]] ||
  fail "duplicates_dropped is '$(value oncemq_msgid_duplicates_dropped_total)', want 2"
[[ "$(value oncemq_partition_log_end_offset)" == 2 ]] || fail "log_end_offset is '$(value oncemq_partition_log_end_offset)', want 2"
[[ "$(value oncemq_msgid_window_ids)" == 2 ]] || fail "window ids is '$(value oncemq_msgid_window_ids)', want 2"
# kcat is not an idempotent producer: the window's drops are not sequence duplicates. (The exact re-sends
# that do count are made with the raw wire client in sequence_duplicates_test.cpp.)
for family in oncemq_sequence_duplicates_total oncemq_sequence_duplicate_records_total; do
  scrape | grep -q "^# TYPE $family counter" || fail "no TYPE line for $family"
  [[ "$(value "$family")" == 0 ]] || fail "$family is '$(value "$family")', want 0"
done
# Broker-wide: requests per API with their latency, fsyncs with theirs and the answers they released.
timeout 30 kcat -b "$ADDR" -C -t w -e -q >/dev/null || fail "kcat -C failed"
page=$(scrape)
metric() { echo "$page" | awk -v m="$1" '$1 == m { print $2 }'; }
produce_requests=$(metric 'oncemq_requests_total{api="produce"}')
((produce_requests >= 4)) || fail "produce requests counted: '$produce_requests', want >= 4 (four kcat -P runs)"
((${produce_requests} == $(metric 'oncemq_request_latency_seconds_count{api="produce"}'))) ||
  fail "every answered produce request must be in the latency histogram"
[[ "$(metric 'oncemq_request_latency_seconds_bucket{api="produce",le="+Inf"}')" == "$produce_requests" ]] ||
  fail "the +Inf bucket must hold every produce request"
(($(metric 'oncemq_requests_total{api="fetch"}') >= 1)) || fail "no fetch request counted after kcat -C"
(($(metric 'oncemq_requests_total{api="other"}') >= 1)) || fail "no metadata/api-versions request counted"
fsyncs=$(metric oncemq_fsyncs_total)
((fsyncs >= 1)) || fail "no fsync counted after acks=all produces"
[[ "$(metric oncemq_fsync_latency_seconds_count)" == "$fsyncs" ]] || fail "every fsync must be in its histogram"
(($(metric oncemq_fsync_produce_requests_total) >= 1)) || fail "no produce answer released by an fsync"
echo "$page" | grep -q '^# TYPE oncemq_request_latency_seconds histogram' || fail "no TYPE line for the latency"

# Groups: members, and the lag of a committed partition (log end − committed offset). A `kcat -G -e` member
# reads w to its end and commits on exit; one more message makes the lag 1.
timeout 60 kcat -b "$ADDR" -G lagging -X auto.offset.reset=earliest -e -q w >/dev/null || fail "kcat -G failed"
echo late | timeout 30 kcat -b "$ADDR" -P -t w -H oncemq-msg-id=C || fail "kcat -P failed"
page=$(scrape)
echo "$page" | grep -q '^# TYPE oncemq_group_members gauge' || fail "no TYPE line for group members"
[[ "$(metric 'oncemq_group_members{group="lagging"}')" == 0 ]] || fail "the finished member is still counted"
[[ "$(metric 'oncemq_group_lag{group="lagging",topic="w",partition="0"}')" == 1 ]] ||
  fail "lag is '$(metric 'oncemq_group_lag{group="lagging",topic="w",partition="0"}')', want 1"

status=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$MPORT/metrics")
[[ "$status" == 405 ]] || fail "POST answered $status, want 405"
echo "metrics_test: PASS"
