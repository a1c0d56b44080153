#!/usr/bin/env bash
# Runs the chaos suite's bounded tests for DURATION seconds of faults each instead of their CI length:
# the producer half (chaos_test) and the whole pipeline (pipeline_chaos_test, its dedup-broken check left out).
# Usage: tests/chaos/soak.sh DURATION [build/test/bin]
set -euo pipefail
duration="${1:?usage: soak.sh DURATION [directory of the test binaries]}"
bin="${2:-$(dirname "$0")/../../build/test/bin}"
export ONCEMQ_CHAOS_SOAK_SECONDS="$duration"
timeout $((duration + 600)) "$bin/chaos_test"
timeout $((duration + 600)) "$bin/pipeline_chaos_test" --gtest_filter='*EveryPayment*'
