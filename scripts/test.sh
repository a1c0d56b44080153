#!/usr/bin/env bash
# Every test: installs what is missing, checks formatting, builds with ASan+UBSan and -Werror, runs the unit
# and integration tests (real broker processes, real librdkafka/kcat clients on 127.0.0.1), then runs each
# fuzz target for a bounded time over its checked-in corpus. Safe to re-run; incremental when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== format check"
mapfile -t sources < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find src include tests bench -name '*.cpp' -o -name '*.h')
clang-format --dry-run --Werror "${sources[@]}"

echo "== build (ASan + UBSan, -Werror)"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Debug -DONCEMQ_SANITIZE=ON -DONCEMQ_WERROR=ON >/dev/null
cmake --build build/test -j "$(nproc)"

echo "== unit and integration tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build/test && ctest --output-on-failure --timeout 900 -j 2)

echo "== fuzz (bounded)"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}" bash scripts/fuzz.sh
