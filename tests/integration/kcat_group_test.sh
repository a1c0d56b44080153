#!/usr/bin/env bash
# kcat as a consumer-group member (kafka-protocol.md §7):
#   1. two `kcat -G` processes on one group split a 4-partition topic: each owns part of it, and the
#      messages produced afterwards are printed exactly once across both;
#   2. on SIGTERM each commits what it consumed, so a third `kcat -G -e` in the same group prints
#      only the messages produced after that — none of the earlier ones.
# kcat 1.7.1 notes: its output to a file is block-buffered unless -u; in -G mode `-o` overrides the
# committed offsets on every assignment, so a group without commits starts at the beginning through
# `-X auto.offset.reset=earliest` instead; `-G -e` exits once every assigned partition reached its end.
#
# Usage: kcat_group_test.sh /path/to/oncemq
# Every wait is a bounded poll on a condition; every foreground command runs under `timeout`.
# Set ONCEMQ_KEEP_TEST_DIRS=1 to keep the work dir.
set -euo pipefail

ONCEMQ=${1:?usage: kcat_group_test.sh /path/to/oncemq}
PARTITIONS=4
MESSAGES=2000
LATE_MESSAGES=100
TOPIC=kcat-group
GROUP=kcat-group-test
KCAT_TIMEOUT=60

fail() {
  echo "kcat_group_test: FAIL: $*" >&2
  for f in "$WORK"/member-*.err; do
    [[ -f "$f" ]] && { echo "--- $f ---" >&2; tail -n 20 "$f" >&2 || true; }
  done
  if [[ -f "$WORK/broker.log" ]]; then
    echo "--- broker log tail ($WORK/broker.log) ---" >&2
    tail -n 40 "$WORK/broker.log" >&2 || true
  fi
  exit 1
}

command -v kcat >/dev/null || { echo "kcat_group_test: FAIL: kcat is not installed" >&2; exit 1; }
[[ -x "$ONCEMQ" ]] || { echo "kcat_group_test: FAIL: oncemq binary not executable: $ONCEMQ" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/oncemq-kcat-group-XXXXXX")
BROKER_PID=""
MEMBER_PIDS=()
cleanup() {
  local rc=$?
  for pid in "${MEMBER_PIDS[@]}" "$BROKER_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ -n "${ONCEMQ_KEEP_TEST_DIRS:-}" || $rc -ne 0 ]]; then
    echo "kcat_group_test: work dir kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# Waits up to $1 tenths of a second for the command in "${@:2}" to succeed.
wait_until() {
  local tenths=$1
  shift
  for _ in $(seq 1 "$tenths"); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# --- the broker: short sessions allowed, the first generation forms at once ---
"$ONCEMQ" broker --data-dir "$WORK/data" --listen 127.0.0.1:0 --ready-file "$WORK/ready" \
  --partitions "$PARTITIONS" --group-initial-rebalance-delay-ms 0 --group-min-session-timeout-ms 1000 \
  >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
wait_until 300 test -s "$WORK/ready" || fail "broker did not become ready within 30 s"
ADDR=$(head -n 1 "$WORK/ready")
[[ "$ADDR" =~ ^[0-9.]+:[0-9]+$ ]] || fail "ready file does not hold HOST:PORT: '$ADDR'"
echo "kcat_group_test: broker at $ADDR"

timeout "$KCAT_TIMEOUT" "$ONCEMQ" topic create --bootstrap "$ADDR" --partitions "$PARTITIONS" "$TOPIC" \
  >"$WORK/create.out" 2>&1 || fail "topic create failed: $(cat "$WORK/create.out")"

MEMBER_ARGS=(-b "$ADDR" -G "$GROUP" -X auto.offset.reset=earliest -X session.timeout.ms=6000
  -X heartbeat.interval.ms=500 -u -f '%p %o %s\n')

# The partitions a member's latest rebalance left it with, one per line ("" after a revoke).
assigned_of() {
  local last
  last=$(grep -a 'rebalanced' "$WORK/member-$1.err" 2>/dev/null | tail -n 1 || true)
  [[ "$last" == *"assigned: "* ]] || return 0
  echo "${last#*assigned: }" | tr ',' '\n' | sed -n 's/.*\[\([0-9]*\)\].*/\1/p'
}
# True when both members own at least one partition and together exactly all of them.
split_settled() {
  local a b
  a=$(assigned_of a | wc -l)
  b=$(assigned_of b | wc -l)
  [[ $a -gt 0 && $b -gt 0 ]] || return 1
  [[ $({ assigned_of a; assigned_of b; } | sort -un | wc -l) -eq $PARTITIONS && $((a + b)) -eq $PARTITIONS ]]
}

# --- 1. two members split the topic ---
for m in a b; do
  kcat "${MEMBER_ARGS[@]}" "$TOPIC" >"$WORK/member-$m.out" 2>"$WORK/member-$m.err" &
  MEMBER_PIDS+=($!)
done
wait_until 600 split_settled || fail "the two kcat members never split the $PARTITIONS partitions"
echo "kcat_group_test: member a owns $(assigned_of a | paste -sd,), member b owns $(assigned_of b | paste -sd,)"

# Keyed messages spread over all partitions.
seq 1 "$MESSAGES" | awk '{print "k" $1 ":m-" $1}' >"$WORK/input"
timeout "$KCAT_TIMEOUT" kcat -b "$ADDR" -P -t "$TOPIC" -K : -X acks=all <"$WORK/input" 2>"$WORK/produce.err" ||
  fail "kcat -P failed: $(tail -n 5 "$WORK/produce.err")"

consumed_total() { cat "$WORK/member-a.out" "$WORK/member-b.out" | wc -l; }
all_consumed() { [[ $(consumed_total) -ge $MESSAGES ]]; }
wait_until 600 all_consumed || fail "only $(consumed_total) of $MESSAGES messages consumed within 60 s"

# SIGTERM: each member leaves the group and commits what it consumed.
for pid in "${MEMBER_PIDS[@]}"; do kill -TERM "$pid"; done
for pid in "${MEMBER_PIDS[@]}"; do
  wait_until 300 bash -c "! kill -0 $pid 2>/dev/null" || fail "kcat $pid did not exit within 30 s of SIGTERM"
  wait "$pid" || fail "kcat $pid exited with status $? after SIGTERM"
done
MEMBER_PIDS=()

got_a=$(wc -l <"$WORK/member-a.out")
got_b=$(wc -l <"$WORK/member-b.out")
[[ $got_a -gt 0 && $got_b -gt 0 ]] || fail "one member consumed nothing (a: $got_a, b: $got_b)"
cat "$WORK/member-a.out" "$WORK/member-b.out" | awk '{print $3}' | sort >"$WORK/got.sorted"
sort "$WORK/input" | sed 's/^k[0-9]*://' | sort >"$WORK/want.sorted"
dups=$(uniq -d "$WORK/got.sorted" | head -n 5 | paste -sd' ')
[[ -z "$dups" ]] || fail "messages consumed more than once, e.g. $dups"
cmp -s "$WORK/got.sorted" "$WORK/want.sorted" ||
  fail "consumed set differs from produced: $(diff "$WORK/want.sorted" "$WORK/got.sorted" | head -n 5 | paste -sd' ')"
# Within a partition each member printed offsets in increasing order.
for m in a b; do
  awk '{ if (($1 in last) && $2 <= last[$1]) { bad = 1 } last[$1] = $2 } END { exit bad }' \
    "$WORK/member-$m.out" || fail "member $m printed offsets out of order"
done
echo "kcat_group_test: $MESSAGES messages consumed exactly once ($got_a by a, $got_b by b)"

# --- 2. a new member resumes from the committed offsets ---
seq 1 "$LATE_MESSAGES" | awk '{print "late" $1 ":late-" $1}' >"$WORK/late.input"
timeout "$KCAT_TIMEOUT" kcat -b "$ADDR" -P -t "$TOPIC" -K : -X acks=all <"$WORK/late.input" \
  2>"$WORK/produce.err" || fail "kcat -P (late) failed: $(tail -n 5 "$WORK/produce.err")"
timeout "$KCAT_TIMEOUT" kcat "${MEMBER_ARGS[@]}" -e "$TOPIC" >"$WORK/member-c.out" 2>"$WORK/member-c.err" ||
  fail "kcat -G -e failed or timed out"
awk '{print $3}' "$WORK/member-c.out" | sort >"$WORK/late.got"
sed 's/^late[0-9]*://' "$WORK/late.input" | sort >"$WORK/late.want"
cmp -s "$WORK/late.got" "$WORK/late.want" ||
  fail "kcat -G -e printed $(wc -l <"$WORK/late.got") messages, want exactly the $LATE_MESSAGES produced after the commits"
echo "kcat_group_test: a new member resumed at the committed offsets"

# --- the broker still shuts down cleanly ---
kill -TERM "$BROKER_PID"
wait_until 300 bash -c "! kill -0 $BROKER_PID 2>/dev/null" || fail "broker did not exit within 30 s of SIGTERM"
set +e
wait "$BROKER_PID"
rc=$?
set -e
BROKER_PID=""
[[ $rc -eq 0 ]] || fail "broker exited with status $rc after SIGTERM, want 0"
echo "kcat_group_test: PASS"
