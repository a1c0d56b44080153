# Shared by the bench/*_run.sh scripts and tests/integration/demo_test.sh: throwaway local servers on 127.0.0.1, each on a free port with a
# fresh directory under $work_dir, stopped by PID (and the directory removed) on exit, whatever happens.
# The sourcing script sets script_name, and FLUSH for the broker; then calls start_broker, start_stores.
# The SQL servers run with the settings of the test suite (tests/support/servers): PostgreSQL fsync=off,
# MariaDB innodb_flush_log_at_trx_commit=2 — a commit is not flushed to disk. SQLite keeps its own
# durability (WAL, synchronous=FULL).
readonly repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
find_oncemq() {
  if [[ -n "${ONCEMQ:-}" ]]; then echo "$ONCEMQ"; return; fi
  if command -v oncemq >/dev/null; then command -v oncemq; return; fi
  local newest
  newest="$(ls -t "$repo_root"/build/*/bin/oncemq 2>/dev/null | head -n 1 || true)"
  if [[ -z "$newest" ]]; then
    echo "$script_name: no oncemq binary; build it or set ONCEMQ=/path/to/oncemq" >&2
    exit 1
  fi
  echo "$newest"
}
readonly oncemq="$(find_oncemq)"

readonly READY_WAIT_S=30
readonly SETUP_TIMEOUT_S=180

work_dir="$(mktemp -d -t oncemq-bench.XXXXXX)"
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
      echo "$script_name: $name exited during start-up; its log:" >&2
      tail -n 40 "$log" >&2 || true
      exit 1
    fi
    if ((waited >= READY_WAIT_S * 10)); then
      echo "$script_name: $name was not ready within ${READY_WAIT_S} s; its log:" >&2
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
    echo "$script_name: initdb failed:" >&2
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
    echo "$script_name: mariadb-install-db failed:" >&2
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

# start_stores CSV: starts a server for each of sqlite,redis,postgresql,mysql named in CSV and appends its
# URI to store_uris.
store_uris=()
start_stores() {
  local store wanted
  IFS=',' read -r -a wanted <<<"$1"
  for store in "${wanted[@]}"; do
    case "$store" in
      sqlite)
        mkdir -p "$work_dir/sqlite"
        store_uris+=("sqlite://$work_dir/sqlite/store.db")
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
        echo "$script_name: unknown store '$store' (sqlite, redis, postgresql, mysql)" >&2
        exit 1
        ;;
    esac
  done
}
