#!/usr/bin/env bash
# Starts the three servers the project needs on a machine without Docker, all on 127.0.0.1 only:
#   PostgreSQL 15 (Debian)  127.0.0.1:5432   role/password cqrs_command, database cqrs
#   RabbitMQ 3.10 (Debian)  127.0.0.1:5672   guest/guest (loopback only, RabbitMQ's default)
#   FerretDB v1 (infra/ferretdb, MongoDB wire protocol)  127.0.0.1:27017, stored in PostgreSQL database
#     ferretdb (role ferretdb); CQRS_FERRETDB_BACKEND=sqlite keeps it in SQLite files instead (slower:
#     FerretDB v1 pushes no filter down to SQLite, so every lookup scans its collection)
# Idempotent: a server that already answers on its port is left alone, so a second run is a fast no-op.
# A server whose CQRS_* URL is set in the environment is not provisioned at all.
# Needs root (apt-get, the Debian clusters and init scripts). Stop everything with infra/stop.sh.
set -euo pipefail

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${CQRS_STATE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/cqrs-pair}
HOST=127.0.0.1
PG_VERSION=15 # Debian 12's; an installed server's own version wins (see pg_detect_version)
PG_PORT=5432
PG_USER=cqrs_command
PG_PASSWORD=cqrs_command
PG_DB=cqrs
AMQP_PORT=5672
MONGO_PORT=27017
WAIT_SECONDS=${CQRS_PROVISION_WAIT:-60}
FERRET_BACKEND=${CQRS_FERRETDB_BACKEND:-postgresql}
FERRET_PG_USER=ferretdb
FERRET_PG_PASSWORD=ferretdb

say() { printf '==> %s\n' "$*"; }
die() { printf '==> ERROR: %s\n' "$*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1. Loopback answers or refuses at once;
# GNU timeout only bounds a stuck accept, and is not on every machine (macOS).
port_open() {
  if command -v timeout >/dev/null; then
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
  else
    bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
  fi
}

# Prints the last 30 lines of each existing log file given, to stderr.
show_logs() {
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    printf -- '--- last 30 lines of %s\n' "$f" >&2
    tail -n 30 "$f" >&2
  done
}

# wait_for NAME PORT CHECK LOG...: waits, bounded, until CHECK succeeds; else shows the logs and fails.
# With WAIT_PID set, gives up as soon as that process has exited.
wait_for() {
  local name=$1 port=$2 check=$3
  shift 3
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$check" "$port"; do
    if [ -n "${WAIT_PID:-}" ] && ! kill -0 "$WAIT_PID" 2>/dev/null; then
      show_logs "$@"
      die "$name: exited before accepting connections on $HOST:$port"
    fi
    if ((SECONDS >= deadline)); then
      show_logs "$@"
      die "$name: did not accept connections on $HOST:$port within ${WAIT_SECONDS}s"
    fi
    sleep 0.5
  done
}

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# The newest PostgreSQL server installed from Debian packages, if any.
pg_detect_version() {
  local v
  v=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null | cut -d/ -f5 | sort -n | tail -n 1 || true)
  if [ -n "$v" ]; then PG_VERSION=$v; fi
}
pg_detect_version

if [ -n "${CQRS_RABBITMQ_URL:-}" ] && [ -n "${CQRS_POSTGRES_DSN:-}" ] && [ -n "${CQRS_MONGODB_URL:-}" ]; then
  say "CQRS_RABBITMQ_URL, CQRS_POSTGRES_DSN and CQRS_MONGODB_URL are set: using the given servers, provisioning nothing"
  exit 0
fi

# --- what needs doing --------------------------------------------------------------------------------
want_pg=0 want_rabbit=0 want_mongo=0
if [ -n "${CQRS_POSTGRES_DSN:-}" ]; then
  say "postgresql: CQRS_POSTGRES_DSN is set, using the given server"
elif port_open "$PG_PORT"; then
  say "postgresql: running on $HOST:$PG_PORT"
  want_pg=running
else
  want_pg=start
fi
if [ -n "${CQRS_RABBITMQ_URL:-}" ]; then
  say "rabbitmq: CQRS_RABBITMQ_URL is set, using the given server"
elif port_open "$AMQP_PORT"; then
  say "rabbitmq: running on $HOST:$AMQP_PORT"
else
  want_rabbit=start
fi
if [ -n "${CQRS_MONGODB_URL:-}" ]; then
  say "ferretdb: CQRS_MONGODB_URL is set, using the given server"
elif port_open "$MONGO_PORT"; then
  say "ferretdb: running on $HOST:$MONGO_PORT"
else
  want_mongo=start
fi

# FerretDB on PostgreSQL needs the local cluster even where the command side's PostgreSQL is elsewhere.
if [ "$want_mongo" = start ] && [ "$FERRET_BACKEND" = postgresql ] && [ "$want_pg" = 0 ]; then
  if port_open "$PG_PORT"; then want_pg=running; else want_pg=start; fi
fi

if [ "$want_pg" = start ] || [ "$want_rabbit" = start ]; then
  [ "$(id -u)" = 0 ] || die "provisioning PostgreSQL/RabbitMQ needs root (apt-get, pg_ctlcluster, init scripts)"
fi

# --- RabbitMQ configuration: written before the package is installed, so any start sees it ----------
# Only changed when the content differs; takes effect at the next start.
write_if_changed() { # PATH CONTENT
  if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$2" >"$1.tmp.$$"
    chmod 0644 "$1.tmp.$$"
    mv "$1.tmp.$$" "$1"
  fi
}
if [ "$want_rabbit" = start ]; then
  write_if_changed /etc/rabbitmq/rabbitmq.conf "# Written by cqrs-pair infra/provision.sh: loopback only.
listeners.tcp.default = $HOST:$AMQP_PORT
distribution.listener.interface = $HOST
distribution.listener.port_range.min = 25672
distribution.listener.port_range.max = 25672
loopback_users.guest = true"
  # Sourced by the rabbitmq-server/rabbitmqctl scripts (sh): epmd, the node and the CLI's own
  # distribution listener on loopback; a fixed node name that needs no host name resolution.
  write_if_changed /etc/rabbitmq/rabbitmq-env.conf "# Written by cqrs-pair infra/provision.sh: loopback only.
NODENAME=rabbit@localhost
NODE_IP_ADDRESS=$HOST
NODE_PORT=$AMQP_PORT
export ERL_EPMD_ADDRESS=$HOST
CTL_ERL_ARGS=\"-kernel inet_dist_use_interface {127,0,0,1}\""
fi

# --- Debian packages: apt-get update once, one install for whatever is missing -----------------------
pkgs=()
if [ "$want_pg" = start ] && ! is_installed "postgresql-$PG_VERSION"; then
  say "postgresql: installing (apt)"
  pkgs+=(postgresql)
fi
if [ "$want_rabbit" = start ] && ! is_installed rabbitmq-server; then
  say "rabbitmq: installing (apt)"
  pkgs+=(rabbitmq-server)
fi
if [ "${#pkgs[@]}" -gt 0 ]; then
  # Keep the packages' maintainer scripts from starting the servers (no systemd here; we start them
  # ourselves below with the loopback configuration, deterministically).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt_opts=(-q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  t0=$SECONDS
  apt_log=$STATE/log/apt.log
  mkdir -p "$STATE/log"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get "${apt_opts[@]}" update && apt-get "${apt_opts[@]}" install --no-install-recommends "${pkgs[@]}"; } \
    >"$apt_log" 2>&1 </dev/null; then
    show_logs "$apt_log"
    die "apt-get install ${pkgs[*]} failed"
  fi
  say "apt: installed ${pkgs[*]} in $((SECONDS - t0))s"
  pg_detect_version
fi

# --- PostgreSQL --------------------------------------------------------------------------------------
PG_CONF_DIR=/etc/postgresql/$PG_VERSION/main
PG_LOG=/var/log/postgresql/postgresql-$PG_VERSION-main.log
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
pg_login_ok() {
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 psql -X -q -h "$HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" \
    -tAc 'select 1' >/dev/null 2>&1
}
pg_ready() { port_open "$1" && pg_isready -q -h "$HOST" -p "$1"; }

# Role and database, created if missing; then password login over TCP must work.
pg_ensure_role_db() {
  if pg_login_ok; then
    [ "$want_mongo" != start ] || [ "$FERRET_BACKEND" != postgresql ] || pg_ensure_ferretdb
    return 0
  fi
  say "postgresql: creating role $PG_USER and database $PG_DB"
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')
\gexec
SQL
  pg_ensure_ferretdb
  pg_login_ok && return 0
  # No password rule for 127.0.0.1 (Debian's default pg_hba.conf has one): add ours first and reload.
  if ! grep -q '^host[[:space:]]\+all[[:space:]]\+all[[:space:]]\+127.0.0.1/32[[:space:]]\+\(scram-sha-256\|md5\)' "$PG_CONF_DIR/pg_hba.conf"; then
    say "postgresql: adding a password rule for $HOST to pg_hba.conf"
    sed -i "1i host all all $HOST/32 scram-sha-256  # cqrs-pair infra/provision.sh" "$PG_CONF_DIR/pg_hba.conf"
    as_postgres psql -X -q -p "$PG_PORT" -d postgres -c 'select pg_reload_conf()' >/dev/null
    sleep 0.5
  fi
  pg_login_ok || die "postgresql: password login as $PG_USER over $HOST:$PG_PORT fails (see $PG_CONF_DIR/pg_hba.conf)"
}

# FerretDB's own role and database: the read side's storage, never touched by the command service.
pg_ensure_ferretdb() {
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$FERRET_PG_USER') THEN
    CREATE ROLE $FERRET_PG_USER LOGIN PASSWORD '$FERRET_PG_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $FERRET_PG_USER OWNER $FERRET_PG_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$FERRET_PG_USER')
\gexec
SQL
}

pg_cluster_status() { pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}'; }

if [ "$want_pg" = running ]; then
  # Our Debian cluster: make sure the role and database exist (one quick login when they do).
  if [ "$(pg_cluster_status)" = online ]; then pg_ensure_role_db; fi
elif [ "$want_pg" = start ]; then
  if [ -z "$(pg_cluster_status)" ]; then
    say "postgresql: creating cluster $PG_VERSION/main"
    pg_createcluster --port "$PG_PORT" "$PG_VERSION" main >/dev/null
  fi
  write_if_changed "$PG_CONF_DIR/conf.d/cqrs-pair.conf" "# Written by cqrs-pair infra/provision.sh: loopback only.
listen_addresses = '$HOST'
port = $PG_PORT"
  say "postgresql: starting"
  t0=$SECONDS
  # Retried: right after a hard kill, the old postmaster can linger as a zombie for a moment and
  # hold the socket lock file.
  for try in 1 2 3; do
    out=$(pg_ctlcluster "$PG_VERSION" main start 2>&1) && break
    if [ "$try" = 3 ]; then
      printf '%s\n' "$out" >&2
      show_logs "$PG_LOG"
      die "postgresql: pg_ctlcluster $PG_VERSION main start failed"
    fi
    sleep 3
  done
  wait_for postgresql "$PG_PORT" pg_ready "$PG_LOG"
  pg_ensure_role_db
  say "postgresql: running on $HOST:$PG_PORT (PostgreSQL $PG_VERSION, up in $((SECONDS - t0))s)"
fi

# --- RabbitMQ ----------------------------------------------------------------------------------------
RABBIT_LOGS=(/var/log/rabbitmq/startup_err /var/log/rabbitmq/startup_log /var/log/rabbitmq/rabbit@localhost.log)
# AMQP 0-9-1 handshake: the server answers the protocol header with a Connection.Start frame (type 1).
amqp_ok() {
  local first
  first=$(timeout 5 bash -c "exec 3<>/dev/tcp/$HOST/$1 && printf 'AMQP\x00\x00\x09\x01' >&3 && head -c 1 <&3" 2>/dev/null |
    od -An -tx1 | tr -d ' \n') || true
  [ "$first" = 01 ]
}
if [ "$want_rabbit" = start ]; then
  say "rabbitmq: starting"
  t0=$SECONDS
  export ERL_EPMD_ADDRESS=$HOST
  # Debian's init script (start-stop-daemon as user rabbitmq, then `rabbitmqctl wait`); works without
  # systemd. Bounded here; the port check below decides.
  if ! timeout 120 /etc/init.d/rabbitmq-server start >/dev/null 2>&1; then
    show_logs "${RABBIT_LOGS[@]}"
    die "rabbitmq: /etc/init.d/rabbitmq-server start failed"
  fi
  wait_for rabbitmq "$AMQP_PORT" amqp_ok "${RABBIT_LOGS[@]}"
  say "rabbitmq: running on $HOST:$AMQP_PORT (up in $((SECONDS - t0))s)"
fi

# --- FerretDB (MongoDB wire protocol) ----------------------------------------------------------------
if [ "$want_mongo" = start ]; then
  bin=$STATE/bin/cqrs-ferretdb
  log=$STATE/log/ferretdb.log
  pidfile=$STATE/run/ferretdb.pid
  src=$INFRA_DIR/ferretdb
  mkdir -p "$STATE/bin" "$STATE/log" "$STATE/run" "$STATE/ferretdb-data"
  # Built again when any of its files is newer than the binary.
  if [ ! -x "$bin" ] || [ -n "$(find "$src" -type f -newer "$bin" | head -n 1)" ]; then
    go=$(command -v go || true)
    [ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; } ||
      die "ferretdb: Go is needed to build infra/ferretdb (see its go.mod for the version)"
    say "ferretdb: building $bin"
    t0=$SECONDS
    if ! (cd "$src" && "$go" build -trimpath -o "$bin.tmp" .) >"$STATE/log/ferretdb-build.log" 2>&1 </dev/null; then
      show_logs "$STATE/log/ferretdb-build.log"
      die "ferretdb: go build failed"
    fi
    mv "$bin.tmp" "$bin"
    say "ferretdb: built in $((SECONDS - t0))s"
  fi
  # A previous instance still starting up (pid alive, port not yet open): wait for it instead.
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != cqrs-ferretdb ] ||
    [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
    if [ "$FERRET_BACKEND" = postgresql ]; then
      storage=(-handler postgresql -postgresql-url "postgres://$FERRET_PG_USER:$FERRET_PG_PASSWORD@$HOST:$PG_PORT/$FERRET_PG_USER")
      where="PostgreSQL database $FERRET_PG_USER"
    else
      storage=(-handler sqlite -data "$STATE/ferretdb-data")
      where="$STATE/ferretdb-data"
    fi
    say "ferretdb: starting (data in $where, log in $log)"
    printf '\n--- %s start\n' "$(date -Is)" >>"$log"
    setsid nohup "$bin" -listen "$HOST:$MONGO_PORT" "${storage[@]}" </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$pidfile"
  fi
  t0=$SECONDS
  WAIT_PID=$pid wait_for ferretdb "$MONGO_PORT" port_open "$log"
  say "ferretdb: running on $HOST:$MONGO_PORT (up in $((SECONDS - t0))s)"
fi
