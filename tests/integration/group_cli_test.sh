#!/usr/bin/env bash
# `oncemq group` against the real broker, with kcat as the group's consumer:
#   1. a partial kcat -G run commits 30 of 100 messages; `group describe` shows those offsets, the log
#      ends and the lag, and `group list` shows the group Empty;
#   2. a running kcat -G consumer appears in `group list` (Stable, 1 member) and `group describe`
#      (its member id and all three partitions), and its commits bring the lag to 0;
#   3. `reset-offsets` and `delete` refuse while that consumer runs;
#   4. once it stops: --dry-run changes nothing, --to-earliest sets 0 (and a new consumer re-reads all
#      100 messages), --to-offset 42 sets 42 (kept within each partition's end), --to-latest sets the end;
#   5. `delete` removes the group: `list` no longer shows it and `describe` fails.
#
# Usage: group_cli_test.sh /path/to/oncemq
# Every external command runs under `timeout`; every wait loop is bounded. Exits non-zero with a
# message on the first mismatch. Set ONCEMQ_KEEP_TEST_DIRS=1 to keep the work dir for inspection.
set -euo pipefail

ONCEMQ=${1:?usage: group_cli_test.sh /path/to/oncemq}
TOPIC=orders
GROUP=grp
CMD_TIMEOUT=60

fail() {
  echo "group_cli_test: FAIL: $*" >&2
  if [[ -n "${WORK:-}" && -f "$WORK/broker.log" ]]; then
    echo "--- broker log tail ($WORK/broker.log) ---" >&2
    tail -n 30 "$WORK/broker.log" >&2 || true
  fi
  exit 1
}

command -v kcat >/dev/null || fail "kcat is not installed"
[[ -x "$ONCEMQ" ]] || fail "oncemq binary not executable: $ONCEMQ"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/oncemq-group-XXXXXX")
BROKER_PID=""
CONSUMER_PID=""
stop_pid() {  # pid -> SIGKILL it if still running, and reap it
  if [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; then
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  local rc=$?
  stop_pid "$CONSUMER_PID"
  stop_pid "$BROKER_PID"
  if [[ -n "${ONCEMQ_KEEP_TEST_DIRS:-}" || $rc -ne 0 ]]; then
    echo "group_cli_test: work dir kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# --- start the broker on a free port and wait (bounded) for its ready file ---
"$ONCEMQ" broker --data-dir "$WORK/data" --listen 127.0.0.1:0 --ready-file "$WORK/ready" \
  --group-initial-rebalance-delay-ms 0 >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 300); do # up to 30 s
  [[ -s "$WORK/ready" ]] && break
  kill -0 "$BROKER_PID" 2>/dev/null || fail "broker did not become ready: it exited"
  sleep 0.1
done
[[ -s "$WORK/ready" ]] || fail "broker did not become ready within 30 s"
ADDR=$(head -n 1 "$WORK/ready")
[[ "$ADDR" =~ ^[0-9.]+:[0-9]+$ ]] || fail "ready file does not hold HOST:PORT: '$ADDR'"
echo "group_cli_test: broker at $ADDR"

KCAT=(timeout "$CMD_TIMEOUT" kcat -b "$ADDR")
# A kcat group consumer: commits every 200 ms and on close, starts from the beginning without a commit.
KCAT_GROUP=("${KCAT[@]}" -G "$GROUP" -X auto.offset.reset=earliest -X auto.commit.interval.ms=200 -q)

group() { # oncemq group ARGS... against this broker; output in $WORK/out, errors in $WORK/err
  timeout "$CMD_TIMEOUT" "$ONCEMQ" group "$@" --bootstrap "$ADDR" >"$WORK/out" 2>"$WORK/err"
}
describe() { group describe "$GROUP" || fail "group describe failed: $(cat "$WORK/err")"; }
# The offsets table of `describe` as "partition current end lag" lines, sorted by partition.
offset_rows() { awk -v t="$TOPIC" '$1 == t && $2 ~ /^[0-9]+$/ { print $2, $3, $4, $5 }' "$WORK/out" | sort -n; }
group_state() { # -> "STATE MEMBERS" of $GROUP in `group list`, empty when not listed
  group list || fail "group list failed: $(cat "$WORK/err")"
  awk -v g="$GROUP" '$1 == g { print $2, $4 }' "$WORK/out"
}
wait_for() { # description, command...: polls the command for up to 30 s
  local what=$1
  shift
  for _ in $(seq 1 150); do
    "$@" && return 0
    sleep 0.2
  done
  fail "timed out after 30 s waiting for $what"
}
offsets_are() { # expected "partition current end lag" lines, ';'-separated
  describe
  [[ "$(offset_rows | paste -sd ';')" == "$1" ]]
}
expect_offsets() { # expected rows, why
  describe
  local got
  got=$(offset_rows | paste -sd ';')
  [[ "$got" == "$1" ]] || fail "$2: describe shows offsets '$got', want '$1'; output: $(cat "$WORK/out")"
}

# --- 0. a three-partition topic holding 50 + 30 + 20 messages ---
timeout "$CMD_TIMEOUT" "$ONCEMQ" topic create "$TOPIC" --partitions 3 --bootstrap "$ADDR" >/dev/null ||
  fail "topic create failed"
seq 1 50 | "${KCAT[@]}" -P -t "$TOPIC" -p 0 || fail "kcat -P partition 0 failed"
seq 51 80 | "${KCAT[@]}" -P -t "$TOPIC" -p 1 || fail "kcat -P partition 1 failed"
seq 81 100 | "${KCAT[@]}" -P -t "$TOPIC" -p 2 || fail "kcat -P partition 2 failed"

# --- 1. consume 30 messages, commit, leave: committed offsets and lag ---
group describe "$GROUP" && fail "describe of a group that does not exist yet succeeded: $(cat "$WORK/out")"
grep -q "does not exist" "$WORK/err" || fail "describe of an unknown group: unclear error: $(cat "$WORK/err")"

"${KCAT_GROUP[@]}" -c 30 -f '%p %o\n' "$TOPIC" >"$WORK/first30.txt" 2>"$WORK/first30.err" ||
  fail "kcat -G -c 30 failed: $(tail -n 3 "$WORK/first30.err")"
[[ $(wc -l <"$WORK/first30.txt") -eq 30 ]] || fail "kcat -G -c 30 printed $(wc -l <"$WORK/first30.txt") messages"
# What kcat consumed per partition is what the group must have committed: next offset = last + 1.
expected=""
ends=(50 30 20)
committed_total=0
for p in 0 1 2; do
  last=$(awk -v p="$p" '$1 == p { o = $2 } END { if (o != "") print o }' "$WORK/first30.txt")
  [[ -z "$last" ]] && continue
  committed_total=$((committed_total + last + 1))
  expected+="${expected:+;}$p $((last + 1)) ${ends[$p]} $((ends[p] - last - 1))"
done
[[ $committed_total -eq 30 ]] || fail "kcat consumed offsets that do not add up to 30: $(sort -n "$WORK/first30.txt" | paste -sd ,)"
wait_for "the group to become Empty after kcat -c 30 left" eval '[[ "$(group_state)" == "Empty 0" ]]'
expect_offsets "$expected" "after consuming 30 messages"
grep -q "has no active members" "$WORK/out" || fail "describe of an empty group does not say so: $(cat "$WORK/out")"
echo "group_cli_test: committed offsets and lag after a partial read: $expected"

# --- 2. a running consumer: listed, described with its assignment, lag reaches 0 ---
"${KCAT_GROUP[@]}" -f '%p %o\n' "$TOPIC" >"$WORK/running.txt" 2>"$WORK/running.err" &
CONSUMER_PID=$!
wait_for "the running consumer to be listed as Stable with 1 member" eval '[[ "$(group_state)" == "Stable 1" ]]'
describe
grep -Eq "^GROUP +STATE +PROTOCOL-TYPE +PROTOCOL +MEMBERS" "$WORK/out" || fail "describe header: $(cat "$WORK/out")"
grep -Eq "^$GROUP +Stable +consumer +(range|roundrobin|cooperative-sticky) +1$" "$WORK/out" ||
  fail "describe does not show the group Stable with 1 member: $(cat "$WORK/out")"
grep -Eq "^rdkafka-[0-9a-f-]+ +rdkafka +[^ ]+ +$TOPIC:0,1,2$" "$WORK/out" ||
  fail "describe does not show the member with partitions 0,1,2: $(cat "$WORK/out")"
wait_for "the running consumer to commit every partition's end" offsets_are "0 50 50 0;1 30 30 0;2 20 20 0"
awk '$1 == "orders" && $2 ~ /^[0-9]$/ && $6 !~ /^rdkafka-/ { bad = 1 } END { exit bad }' "$WORK/out" ||
  fail "describe does not name the member holding each partition: $(cat "$WORK/out")"
echo "group_cli_test: running consumer listed and described with its assignment; lag 0"

# --- 3. an active group refuses reset-offsets and delete ---
if group reset-offsets "$GROUP" --topic "$TOPIC" --to-earliest; then
  fail "reset-offsets on an active group succeeded: $(cat "$WORK/out")"
fi
grep -q "group $GROUP is active (1 members); stop its consumers first" "$WORK/err" ||
  fail "reset-offsets on an active group: unclear error: $(cat "$WORK/err")"
if group delete "$GROUP"; then fail "delete of an active group succeeded: $(cat "$WORK/out")"; fi
grep -q "NON_EMPTY_GROUP" "$WORK/err" || fail "delete of an active group: unclear error: $(cat "$WORK/err")"
expect_offsets "0 50 50 0;1 30 30 0;2 20 20 0" "after the refused reset"

# SIGTERM lets kcat leave the group (SIGKILL would leave the member until its session expires).
kill -TERM "$CONSUMER_PID"
wait_for "the running consumer to exit" eval '! kill -0 "$CONSUMER_PID" 2>/dev/null'
wait "$CONSUMER_PID" 2>/dev/null || true
CONSUMER_PID=""
wait_for "the group to become Empty after its consumer stopped" eval '[[ "$(group_state)" == "Empty 0" ]]'
echo "group_cli_test: active group refused reset-offsets and delete"

# --- 4. resets on the empty group ---
group reset-offsets "$GROUP" --topic "$TOPIC" --to-earliest --dry-run || fail "dry run failed: $(cat "$WORK/err")"
grep -Eq "^$GROUP +$TOPIC +0 +50 +0$" "$WORK/out" || fail "dry run does not show 50 -> 0: $(cat "$WORK/out")"
expect_offsets "0 50 50 0;1 30 30 0;2 20 20 0" "a dry run committed"

group reset-offsets "$GROUP" --topic "$TOPIC" --to-earliest || fail "--to-earliest failed: $(cat "$WORK/err")"
expect_offsets "0 0 50 50;1 0 30 30;2 0 20 20" "after --to-earliest"
"${KCAT_GROUP[@]}" -c 100 -f '%s\n' "$TOPIC" >"$WORK/reread.txt" 2>"$WORK/reread.err" ||
  fail "re-reading after --to-earliest: kcat failed: $(tail -n 3 "$WORK/reread.err")"
[[ "$(sort -n "$WORK/reread.txt" | paste -sd ,)" == "$(seq 1 100 | paste -sd ,)" ]] ||
  fail "after --to-earliest a new consumer read $(wc -l <"$WORK/reread.txt") messages, not 1..100"
wait_for "the group to become Empty after the re-read" eval '[[ "$(group_state)" == "Empty 0" ]]'
expect_offsets "0 50 50 0;1 30 30 0;2 20 20 0" "after re-reading everything"
echo "group_cli_test: --to-earliest set 0 and a new consumer re-read all 100 messages"

group reset-offsets "$GROUP" --topic "$TOPIC" --to-offset 42 || fail "--to-offset 42 failed: $(cat "$WORK/err")"
grep -q "orders/1 holds offsets 0 to 30; using 30 instead of 42" "$WORK/err" ||
  fail "--to-offset beyond the end does not say so: $(cat "$WORK/err")"
expect_offsets "0 42 50 8;1 30 30 0;2 20 20 0" "after --to-offset 42"
group reset-offsets "$GROUP" --topic "$TOPIC" --to-offset 5 --partition 1 --partition 2 ||
  fail "--to-offset 5 --partition 1 --partition 2 failed: $(cat "$WORK/err")"
expect_offsets "0 42 50 8;1 5 30 25;2 5 20 15" "after --to-offset 5 on partitions 1 and 2"
echo "group_cli_test: --to-offset set 42 (and 5 on chosen partitions)"

group reset-offsets "$GROUP" --topic "$TOPIC" --to-latest || fail "--to-latest failed: $(cat "$WORK/err")"
expect_offsets "0 50 50 0;1 30 30 0;2 20 20 0" "after --to-latest"
echo "group_cli_test: --to-latest set the log ends"

if group reset-offsets "$GROUP" --topic "$TOPIC"; then fail "reset-offsets without a target succeeded"; fi
if group reset-offsets "$GROUP" --topic "$TOPIC" --to-latest --partition 9; then
  fail "reset-offsets of a partition that does not exist succeeded"
fi
grep -q "has no partition 9" "$WORK/err" || fail "reset of a missing partition: unclear error: $(cat "$WORK/err")"

# --- 5. delete ---
group delete "$GROUP" || fail "delete of the empty group failed: $(cat "$WORK/err")"
grep -q "Deleted group $GROUP." "$WORK/out" || fail "delete printed: $(cat "$WORK/out")"
[[ -z "$(group_state)" ]] || fail "group list still shows the deleted group: $(cat "$WORK/out")"
if group describe "$GROUP"; then fail "describe of the deleted group succeeded: $(cat "$WORK/out")"; fi
if group delete "$GROUP"; then fail "deleting the group twice succeeded"; fi
grep -q "GROUP_ID_NOT_FOUND" "$WORK/err" || fail "second delete: unclear error: $(cat "$WORK/err")"
echo "group_cli_test: delete removed the group"

echo "group_cli_test: PASS"
