#!/usr/bin/env bash
# `oncemq demo` (issue 7) under its faults — lost produce acks, cut connections, SIGKILLed consumers, two
# broker SIGKILLs and restarts, upstream re-sends — with each kind of card-service store: the default SQLite
# file (transactional mode), PostgreSQL (transactional mode, cards in PostgreSQL) and Redis (lease mode).
# Each run must exit 0 and report 0 lost messages, 0 duplicate cards and 0 FAILED outbox messages, with
# the faults really injected (two broker restarts, consumers killed). Then the self-check: with the
# broker's msg-id window off and the consumer's dedup keyed on offsets instead of the payment id, the
# upstream's re-published payments reach the card service twice; the demo must notice — duplicate cards
# reported, verdict BROKEN, exit 1 — which shows that its invariant checks can fail.
# Usage: demo_test.sh /path/to/oncemq
set -euo pipefail
export ONCEMQ="$1"
readonly FLUSH=always
readonly script_name=demo_test.sh
# shellcheck source=bench/local_servers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../bench/local_servers.sh"
start_stores "redis,postgresql"

failures=0
check() {  # check NAME LOG PATTERN: the demo's report in LOG must contain PATTERN
  if ! grep -Eq "$3" "$2"; then
    echo "FAIL [$1]: the report lacks /$3/"
    failures=$((failures + 1))
  fi
}

run_demo() {  # run_demo NAME ARGS...
  local name="$1" log="$work_dir/demo-$1.log" status=0
  shift
  timeout 600 "$oncemq" demo --payments 1500 --rate 300 --seed 11 "$@" >"$log" 2>&1 || status=$?
  if ((status != 0)); then
    echo "FAIL [$name]: oncemq demo exited with $status"
    failures=$((failures + 1))
  fi
  check "$name" "$log" '^  payments +1500 '
  check "$name" "$log" '^  cards +1500 '
  check "$name" "$log" '^  messages lost +0 '
  check "$name" "$log" '^  duplicate cards +0 '
  check "$name" "$log" '^  outbox FAILED +0 '
  check "$name" "$log" '^  broker restarts +2 '
  check "$name" "$log" '^  produce acks lost +[1-9]'
  check "$name" "$log" '^  connections cut +[1-9]'
  check "$name" "$log" '^  consumers killed +[1-9]'
  check "$name" "$log" '^  offset commits lost +[1-9]'
  check "$name" "$log" '^verdict: every payment has exactly one card'
  if ((failures > 0)); then grep -v '^%' "$log" | tail -30; fi
  echo "demo [$name]: done"
}

run_demo sqlite
run_demo postgresql --store "${store_uris[1]}"
run_demo redis --store "${store_uris[0]}"

broken_log="$work_dir/demo-broken.log"
status=0
timeout 600 "$oncemq" demo --payments 1500 --rate 300 --seed 11 --break-dedup --dir "$work_dir/broken" \
  >"$broken_log" 2>&1 || status=$?
if ((status != 1)); then
  echo "FAIL [broken]: with dedup broken on purpose the demo exited with $status, not 1"
  failures=$((failures + 1))
fi
check broken "$broken_log" '^  duplicate cards +[1-9]'
check broken "$broken_log" '^verdict: BROKEN'
echo "demo [broken]: done"

if ((failures > 0)); then
  echo "demo_test: $failures failure(s)"
  exit 1
fi
echo "demo_test: all passed"
