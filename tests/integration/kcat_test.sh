#!/usr/bin/env bash
# kcat against the real broker (issue 2, "Tests that must exist"):
#   1. `kcat -L` lists the broker and, after producing, the topic with all its partitions;
#   2. 10,000 messages with keys, headers and NULL keys/values, produced with `kcat -P` over four
#      partitions, come back byte for byte with `kcat -C -e`, in order within each partition.
#
# Usage: kcat_test.sh /path/to/oncemq
# Every external command runs under `timeout`; every wait loop is bounded. Exits non-zero with a
# message on the first mismatch. Set ONCEMQ_KEEP_TEST_DIRS=1 to keep the work dir for inspection.
set -euo pipefail

ONCEMQ=${1:?usage: kcat_test.sh /path/to/oncemq}
PARTITIONS=4
VARIANTS=5           # header variants per partition (one kcat -P run each)
PER_RUN=500          # messages per kcat -P run: 4 * 5 * 500 = 10,000
TOPIC=kcat-roundtrip
KCAT_TIMEOUT=60

fail() {
  echo "kcat_test: FAIL: $*" >&2
  if [[ -n "${WORK:-}" && -f "$WORK/broker.log" ]]; then
    echo "--- broker log tail ($WORK/broker.log) ---" >&2
    tail -n 40 "$WORK/broker.log" >&2 || true
  fi
  exit 1
}

command -v kcat >/dev/null || fail "kcat is not installed"
[[ -x "$ONCEMQ" ]] || fail "oncemq binary not executable: $ONCEMQ"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/oncemq-kcat-XXXXXX")
BROKER_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  if [[ -n "${ONCEMQ_KEEP_TEST_DIRS:-}" || $rc -ne 0 ]]; then
    echo "kcat_test: work dir kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# --- start the broker on a free port and wait (bounded) for its ready file ---
"$ONCEMQ" broker --data-dir "$WORK/data" --listen 127.0.0.1:0 --ready-file "$WORK/ready" \
  --partitions "$PARTITIONS" >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 300); do   # up to 30 s
  [[ -s "$WORK/ready" ]] && break
  kill -0 "$BROKER_PID" 2>/dev/null || fail "broker did not become ready: it exited"
  sleep 0.1
done
[[ -s "$WORK/ready" ]] || fail "broker did not become ready within 30 s"
ADDR=$(head -n 1 "$WORK/ready")
[[ "$ADDR" =~ ^[0-9.]+:[0-9]+$ ]] || fail "ready file does not hold HOST:PORT: '$ADDR'"
echo "kcat_test: broker at $ADDR"

KCAT=(timeout "$KCAT_TIMEOUT" kcat -b "$ADDR" -m 10)

# --- 1. metadata listing before any topic exists: the broker is listed ---
"${KCAT[@]}" -L >"$WORK/list0.txt" 2>"$WORK/list0.err" || fail "kcat -L failed: $(cat "$WORK/list0.err")"
grep -Eq '^ *1 brokers:' "$WORK/list0.txt" || fail "kcat -L does not report 1 broker: $(cat "$WORK/list0.txt")"
grep -Eq "broker -?[0-9]+ at $ADDR" "$WORK/list0.txt" ||
  fail "kcat -L does not list the broker at $ADDR: $(cat "$WORK/list0.txt")"

# --- 2. generate input and the expected consumer output ---
# Input lines are "key:value" (kcat -K:), with -Z turning an empty key or value into NULL. Values
# carry spaces, tabs, '=', ',', ':' (only the first ':' splits), UTF-8 and some long ones.
# Expected line format matches the consumer format string below:
#   p=<partition> o=<offset> kl=<key len or -1> k=<key> vl=<value len or -1> v=<value> h=<headers>
header_out() {  # header variant -> how kcat %h prints them
  case $1 in
    0) echo "" ;;
    1) echo "trace=abc-123" ;;
    2) echo "a=1,b=two words" ;;
    3) echo "empty=,utf=ü€" ;;
    4) echo "dup=x,dup=y,eq=k=v" ;;
  esac
}

: >"$WORK/expected.all"
for p in $(seq 0 $((PARTITIONS - 1))); do
  offset=0
  for h in $(seq 0 $((VARIANTS - 1))); do
    in="$WORK/in.$p.$h"
    LC_ALL=C awk -v p="$p" -v h="$h" -v n="$PER_RUN" -v base="$offset" -v hout="$(header_out "$h")" \
      -v inpath="$in" -v exppath="$WORK/expected.all" '
      BEGIN {
        for (i = 0; i < n; i++) {
          id = p * 100000 + h * 10000 + i
          key = "key-" id; val = "val " id "\tx=y,z:colon ü€"
          if (i % 50 == 7) { key = "" }                    # NULL key (-Z)
          if (i % 50 == 11) { val = "" }                   # NULL value (-Z)
          if (i % 50 == 13) { key = ""; val = "" }         # both NULL
          if (i % 100 == 17) { val = val sprintf("%1500s", "L") }   # > 1 KiB value
          print key ":" val > inpath
          kl = (key == "") ? -1 : length(key); vl = (val == "") ? -1 : length(val)
          printf "p=%d o=%d kl=%d k=%s vl=%d v=%s h=%s\n", p, base + i, kl, key, vl, val, hout >> exppath
        }
      }'
    offset=$((offset + PER_RUN))
  done
done
[[ $(wc -l <"$WORK/expected.all") -eq $((PARTITIONS * VARIANTS * PER_RUN)) ]] || fail "generator broke"

# --- 3. produce: one kcat -P run per (partition, header variant), in order ---
for p in $(seq 0 $((PARTITIONS - 1))); do
  for h in $(seq 0 $((VARIANTS - 1))); do
    hargs=()  # must match header_out above
    case $h in
      0) ;;
      1) hargs=(-H "trace=abc-123") ;;
      2) hargs=(-H "a=1" -H "b=two words") ;;
      3) hargs=(-H "empty=" -H "utf=ü€") ;;
      4) hargs=(-H "dup=x" -H "dup=y" -H "eq=k=v") ;;
    esac
    "${KCAT[@]}" -P -t "$TOPIC" -p "$p" -K : -Z -X acks=all -X linger.ms=5 "${hargs[@]}" \
      <"$WORK/in.$p.$h" 2>"$WORK/produce.err" ||
      fail "kcat -P (partition $p, header variant $h) failed or timed out: $(tail -n 5 "$WORK/produce.err")"
  done
done
echo "kcat_test: produced $((PARTITIONS * VARIANTS * PER_RUN)) messages"

# --- 4. the topic is listed with all its partitions ---
"${KCAT[@]}" -L -t "$TOPIC" >"$WORK/list1.txt" 2>&1 || fail "kcat -L -t failed: $(cat "$WORK/list1.txt")"
grep -q "topic \"$TOPIC\" with $PARTITIONS partitions" "$WORK/list1.txt" ||
  fail "kcat -L does not list topic $TOPIC with $PARTITIONS partitions: $(cat "$WORK/list1.txt")"
"${KCAT[@]}" -L >"$WORK/list2.txt" 2>&1 || fail "kcat -L failed: $(cat "$WORK/list2.txt")"
grep -q "topic \"$TOPIC\"" "$WORK/list2.txt" || fail "kcat -L (all topics) does not list $TOPIC"

# --- 5. consume everything and compare byte for byte, per partition ---
"${KCAT[@]}" -C -t "$TOPIC" -o beginning -e -q \
  -f 'p=%p o=%o kl=%K k=%k vl=%S v=%s h=%h\n' >"$WORK/got.all" 2>"$WORK/consume.err" ||
  fail "kcat -C -e failed or timed out: $(tail -n 5 "$WORK/consume.err")"

got_total=$(wc -l <"$WORK/got.all")
want_total=$(wc -l <"$WORK/expected.all")
for p in $(seq 0 $((PARTITIONS - 1))); do
  # Split by partition keeping arrival order (order within a partition must be the produce order).
  LC_ALL=C grep -a "^p=$p " "$WORK/expected.all" >"$WORK/expected.$p" || true
  LC_ALL=C grep -a "^p=$p " "$WORK/got.all" >"$WORK/got.$p" || true
  if ! cmp -s "$WORK/expected.$p" "$WORK/got.$p"; then
    echo "--- first differences in partition $p (< expected, > consumed) ---" >&2
    diff "$WORK/expected.$p" "$WORK/got.$p" | head -n 10 >&2 || true
    fail "partition $p: consumed $(wc -l <"$WORK/got.$p") messages, expected $(wc -l <"$WORK/expected.$p"); content or order differs"
  fi
done
[[ "$got_total" -eq "$want_total" ]] || fail "consumed $got_total lines in total, expected $want_total"
echo "kcat_test: consumed $got_total messages, identical to what was produced"

# --- 6a. acks=0 and acks=1 are stored too (acks=0 gets no response at all) ---
# Consumers see only flushed data, so the count is polled (bounded) rather than read once.
consume_count() {  # topic -> number of messages readable now
  "${KCAT[@]}" -C -t "$1" -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l
}
for acks in 0 1; do
  seq 1 200 | sed "s/^/acks$acks-/" | "${KCAT[@]}" -P -t "acks$acks" -X acks=$acks 2>"$WORK/acks.err" ||
    fail "kcat -P with acks=$acks failed: $(tail -n 3 "$WORK/acks.err")"
  n=0
  for _ in $(seq 1 50); do
    n=$(consume_count "acks$acks")
    [[ "$n" -ge 200 ]] && break
  done
  [[ "$n" -eq 200 ]] || fail "acks=$acks: consumed $n messages, want 200"
done
echo "kcat_test: acks=0 and acks=1 messages stored"

# --- 6b. offsets for times: -o s@TS starts at the first batch stamped at or after TS ---
seq 1 50 | "${KCAT[@]}" -P -t times -p 0 2>"$WORK/times.err" || fail "kcat -P times failed"
last_ts=$("${KCAT[@]}" -C -t times -p 0 -o beginning -e -q -f '%T\n' | sort -n | tail -n 1)
seq 51 100 | "${KCAT[@]}" -P -t times -p 0 2>"$WORK/times.err" || fail "kcat -P times (second batch) failed"
first_after=$("${KCAT[@]}" -C -t times -p 0 -o "s@$((last_ts + 1))" -e -q -f '%o %s\n' | head -n 1)
[[ "$first_after" == "50 51" ]] || fail "offsets for time $((last_ts + 1)): first message '$first_after', want '50 51'"
echo "kcat_test: offsets-for-times lands on the second batch"

# --- 6. SIGTERM: flush and exit 0 ---
kill -TERM "$BROKER_PID"
for _ in $(seq 1 300); do   # up to 30 s
  kill -0 "$BROKER_PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$BROKER_PID" 2>/dev/null; then fail "broker did not exit within 30 s of SIGTERM"; fi
set +e
wait "$BROKER_PID"
rc=$?
set -e
BROKER_PID=""
[[ $rc -eq 0 ]] || fail "broker exited with status $rc after SIGTERM, want 0"
echo "kcat_test: PASS"
