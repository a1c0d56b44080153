#!/usr/bin/env bash
# The main job on embedded defaults: installs what is missing, builds a release build and runs the broker
# with its data in ./data, listening on 127.0.0.1:9092. Extra arguments go to `oncemq broker`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DONCEMQ_TESTS=OFF >/dev/null
cmake --build build/release --target oncemq
exec build/release/bin/oncemq broker --data-dir ./data --listen 127.0.0.1:9092 "$@"
