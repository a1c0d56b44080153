#!/usr/bin/env bash
# Runs the chaos suite's scenarios with DURATION seconds of faults each instead of their CI length: the
# producer half (chaos_test) and the whole pipeline (pipeline_chaos_test, its dedup-broken check left out).
# Usage: tests/chaos/soak.sh DURATION [directory of the test binaries, default build/test/bin]
set -euo pipefail
duration="${1:?usage: soak.sh DURATION [directory of the test binaries]}"
bin="${2:-$(dirname "$0")/../../build/test/bin}"
timeout $((duration + 600)) "$bin/chaos_test" --soak "$duration"
timeout $((duration + 600)) "$bin/pipeline_chaos_test" --soak "$duration" --gtest_filter='*EveryPayment*'
