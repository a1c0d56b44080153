#!/usr/bin/env bash
# The main job on embedded defaults: installs what is missing, builds a release build and runs
# `oncemq demo` — its own broker, SQLite for the business tables, the outbox and the dedup store, faults on
# both halves of the trip — and prints its report. Extra arguments go to `oncemq demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DONCEMQ_TESTS=OFF >/dev/null
cmake --build build/release --target oncemq
exec build/release/bin/oncemq demo "$@"
