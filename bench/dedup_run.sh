#!/usr/bin/env bash
# Runs `oncemq bench dedup` (issue 5) on this machine against throwaway local servers and prints its table.
#
# Starts, each on 127.0.0.1 with a free port and a fresh temporary directory: an oncemq broker, a
# redis-server (no persistence), PostgreSQL (initdb --auth=trust -U oncemq; run as the `postgres` user when
# this script runs as root) and MariaDB (mariadb-install-db --no-defaults; a database and a user `oncemq`).
# The SQL servers run with the settings of the test suite (tests/support/servers): PostgreSQL fsync=off,
# MariaDB innodb_flush_log_at_trx_commit=2 — a commit is not flushed to disk, for the seeds' scheme and the
# oncemq store alike. SQLite runs with the store's own durability (WAL, synchronous=FULL) in both. Every
# server is stopped by its PID and its directory removed on exit, whatever happens.
#
# Knobs (environment):
#   ONCEMQ      the oncemq binary (default: `oncemq` on PATH, else the newest build/*/bin/oncemq)
#   COUNT       messages per run                             (default 200000)
#   SIZE        payload bytes                                (default 100)
#   PARTITIONS  partitions of the benchmark topic            (default 1)
#   BOUND       seconds bound of each run                    (default 60)
#   FLUSH       broker flush policy (always | interval=MS | never)   (default always)
#   STORES      which of sqlite,redis,postgresql,mysql to run (default all four)
#   MODES       which of seeds,per-message,batch to run after plain (default all three)
set -euo pipefail

readonly repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly COUNT="${COUNT:-200000}"
readonly SIZE="${SIZE:-100}"
readonly PARTITIONS="${PARTITIONS:-1}"
readonly BOUND="${BOUND:-60}"
readonly FLUSH="${FLUSH:-always}"
readonly STORES="${STORES:-sqlite,redis,postgresql,mysql}"
readonly MODES="${MODES:-seeds,per-message,batch}"
readonly READY_WAIT_S=30
readonly SETUP_TIMEOUT_S=180

find_oncemq() {
  if [[ -n "${ONCEMQ:-}" ]]; then echo "$ONCEMQ"; return; fi
  if command -v oncemq >/dev/null; then command -v oncemq; return; fi
  local newest
  newest="$(ls -t "$repo_root"/build/*/bin/oncemq 2>/dev/null | head -n 1 || true)"
  if [[ -z "$newest" ]]; then
    echo "dedup_run.sh: no oncemq binary; build it or set ONCEMQ=/path/to/oncemq" >&2
    exit 1
  fi
  echo "$newest"
}
readonly oncemq="$(find_oncemq)"

work_dir="$(mktemp -d -t oncemq-dedup.XXXXXX)"
chmod 755 "$work_dir"
declare -a pids=()

# SIGTERM, up to 10 s for it to exit, then SIGKILL — only the PIDs this script started.
stop_pid() {
  local pid="$1" waited=0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_until NAME PID COMMAND...: runs COMMAND every 0.1 s until it succeeds; fails if PID exits first or
# READY_WAIT_S pass, showing LOG.
wait_until() {
  local name="$1" pid="$2" log="$3" waited=0
  shift 3
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "dedup_run.sh: $name exited during start-up; its log:" >&2
      tail -n 40 "$log" >&2 || true
      exit 1
    fi
    if ((waited >= READY_WAIT_S * 10)); then
      echo "dedup_run.sh: $name was not ready within ${READY_WAIT_S} s; its log:" >&2
      tail -n 40 "$log" >&2 || true
      exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

start_broker() {
  "$oncemq" broker --data-dir "$work_dir/broker" --listen 127.0.0.1:0 --ready-file "$work_dir/broker.ready" \
    --flush "$FLUSH" >"$work_dir/broker.log" 2>&1 &
  pids+=($!)
  wait_until broker "$!" "$work_dir/broker.log" test -s "$work_dir/broker.ready"
  bootstrap="$(head -n 1 "$work_dir/broker.ready")"
}

start_redis() {
  redis_port="$(free_port)"
  mkdir -p "$work_dir/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work_dir/redis" \
    --logfile "$work_dir/redis/redis.log" &
  pids+=($!)
  wait_until redis "$!" "$work_dir/redis/redis.log" redis-cli -h 127.0.0.1 -p "$redis_port" ping
}

postgres_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# PostgreSQL programs run as the `postgres` user when this script runs as root (PostgreSQL refuses root).
as_pg_user=()
if ((EUID == 0)); then as_pg_user=(setpriv --reuid=postgres --regid=postgres --init-groups); fi

start_postgres() {
  local bin dir="$work_dir/pg"
  bin="$(postgres_bin)"
  [[ -x "$bin/initdb" ]] || bin="$(dirname "$(command -v initdb)")"
  mkdir -p "$dir"
  if ((EUID == 0)); then chown postgres: "$dir"; fi
  (cd "$dir" && timeout "$SETUP_TIMEOUT_S" "${as_pg_user[@]}" "$bin/initdb" -D "$dir/data" -U oncemq --auth=trust \
    --no-sync --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1) || {
    echo "dedup_run.sh: initdb failed:" >&2
    tail -n 40 "$dir/initdb.log" >&2
    exit 1
  }
  pg_port="$(free_port)"
  # exec: $! is the postmaster itself, so that cleanup stops it by its PID.
  (cd "$dir" && exec "${as_pg_user[@]}" "$bin/postgres" -D "$dir/data" -h 127.0.0.1 -p "$pg_port" -k "$dir" \
    -c fsync=off -c full_page_writes=off -c max_connections=100 >"$dir/postgres.log" 2>&1) &
  pids+=($!)
  wait_until postgres "$!" "$dir/postgres.log" "$bin/pg_isready" -h 127.0.0.1 -p "$pg_port" -U oncemq -d postgres
  timeout 60 psql -q -h 127.0.0.1 -p "$pg_port" -U oncemq -d postgres -c 'CREATE DATABASE oncemq' >/dev/null
}

readonly mariadb_options=(--innodb-buffer-pool-size=64M --innodb-log-file-size=64M --innodb-log-buffer-size=8M
  --innodb-doublewrite=0 --innodb-flush-log-at-trx-commit=2 --character-set-server=utf8mb4
  --collation-server=utf8mb4_general_ci --skip-name-resolve)

start_mariadb() {
  local dir="$work_dir/mariadb" user=()
  mkdir -p "$dir"
  if ((EUID == 0)); then user=(--user=root); fi
  timeout "$SETUP_TIMEOUT_S" mariadb-install-db --no-defaults --datadir="$dir/data" \
    --auth-root-authentication-method=normal --skip-test-db --tmpdir="$dir" "${mariadb_options[@]}" "${user[@]}" \
    >"$dir/install.log" 2>&1 || {
    echo "dedup_run.sh: mariadb-install-db failed:" >&2
    tail -n 40 "$dir/install.log" >&2
    exit 1
  }
  maria_port="$(free_port)"
  mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/s.sock" --port="$maria_port" \
    --bind-address=127.0.0.1 --skip-networking=0 --pid-file="$dir/mariadbd.pid" --log-error="$dir/error.log" \
    --tmpdir="$dir" "${mariadb_options[@]}" "${user[@]}" >"$dir/stdout.log" 2>&1 &
  pids+=($!)
  local root=(mariadb --no-defaults -uroot --socket="$dir/s.sock" --connect-timeout=2)
  wait_until mariadb "$!" "$dir/error.log" "${root[@]}" -e 'SELECT 1'
  timeout 60 "${root[@]}" -e "CREATE DATABASE oncemq CHARACTER SET utf8mb4;
    CREATE USER 'oncemq'@'127.0.0.1' IDENTIFIED BY 'oncemq';
    GRANT ALL PRIVILEGES ON oncemq.* TO 'oncemq'@'127.0.0.1';"
}

store_uris=()
IFS=',' read -r -a wanted <<<"$STORES"
start_broker
for store in "${wanted[@]}"; do
  case "$store" in
    sqlite)
      mkdir -p "$work_dir/sqlite"
      store_uris+=("sqlite://$work_dir/sqlite/dedup.db")
      ;;
    redis)
      start_redis
      store_uris+=("redis://127.0.0.1:$redis_port")
      ;;
    postgresql)
      start_postgres
      store_uris+=("postgresql://oncemq@127.0.0.1:$pg_port/oncemq")
      ;;
    mysql)
      start_mariadb
      store_uris+=("mysql://oncemq:oncemq@127.0.0.1:$maria_port/oncemq")
      ;;
    *)
      echo "dedup_run.sh: unknown store '$store' (sqlite, redis, postgresql, mysql)" >&2
      exit 1
      ;;
  esac
done

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(uname -sr)"
echo "broker $oncemq at $bootstrap (flush=$FLUSH); stores: ${store_uris[*]}"
# 13 runs at most, each bounded, plus producing the topic and joining groups.
readonly total_bound=$(((3 * ${#store_uris[@]} + 1) * (BOUND + 30) + 300))
stores_arg="$(IFS=','; echo "${store_uris[*]}")"
set +e
timeout --kill-after=10 "$total_bound" "$oncemq" bench dedup --bootstrap "$bootstrap" --count "$COUNT" \
  --size "$SIZE" --partitions "$PARTITIONS" --duration-bound "$BOUND" --stores "$stores_arg" \
  --modes "$MODES"
status=$?
set -e
if ((status != 0)); then echo "dedup_run.sh: oncemq bench dedup exited with status $status" >&2; fi
exit "$status"
