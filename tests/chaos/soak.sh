#!/usr/bin/env bash
# Runs the chaos suite's producer half for DURATION seconds instead of its bounded count.
# Usage: tests/chaos/soak.sh DURATION [path/to/chaos_test]
set -euo pipefail
duration="${1:?usage: soak.sh DURATION [chaos_test binary]}"
binary="${2:-$(dirname "$0")/../../build/test/bin/chaos_test}"
ONCEMQ_CHAOS_SOAK_SECONDS="$duration" timeout $((duration + 600)) "$binary"
