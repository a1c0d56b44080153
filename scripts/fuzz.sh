#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.cpp) with clang and runs each for a bounded time over
# a scratch copy of its seed corpus tests/fuzz/corpus/<name without fuzz_>/ (the checked-in seeds are never
# modified). Exits non-zero if any target crashes, leaks, times out or fails to build.
#
# Usage: scripts/fuzz.sh [fuzz_target ...]      (default: all of them)
# Environment:
#   FUZZ_SECONDS    seconds per target (default 30)
#   FUZZ_JOBS       parallel compile jobs (default 2)
#   FUZZ_BUILD_DIR  build directory (default build/fuzz)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
# Crash inputs are kept in $FUZZ_BUILD_DIR/artifacts/<target>/; reproduce with
#   $FUZZ_BUILD_DIR/bin/<target> <artifact file>
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-2}"
build="${FUZZ_BUILD_DIR:-build/fuzz}"

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for src in tests/fuzz/fuzz_*.cpp; do
    [[ -e "$src" ]] && targets+=("$(basename "$src" .cpp)")
  done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz.sh: no tests/fuzz/fuzz_*.cpp targets found" >&2
  exit 1
fi

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DONCEMQ_FUZZ=ON -DONCEMQ_TESTS=OFF \
  -DCMAKE_BUILD_TYPE="${FUZZ_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
ninja -C "$build" -j "$jobs" "${targets[@]}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

failed=()
for target in "${targets[@]}"; do
  name="${target#fuzz_}"
  corpus="$scratch/$name"
  artifacts="$build/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "tests/fuzz/corpus/$name" ]]; then
    cp -R "tests/fuzz/corpus/$name/." "$corpus/"
  else
    echo "fuzz.sh: $target has no seed corpus (tests/fuzz/corpus/$name/); starting empty" >&2
  fi
  echo "== $target: ${seconds}s over $(find "$corpus" -type f | wc -l) seeds"
  log="$build/$target.log"
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  if "$build/bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|Done )' "$log" || true
  else
    echo "!! $target failed; log: $log; inputs: $artifacts/" >&2
    tail -n 40 "$log" >&2
    failed+=("$target")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} target(s) ran ${seconds}s without a crash"
