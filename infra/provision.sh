#!/usr/bin/env bash
# Starts the three servers the project needs on a machine without Docker, all on 127.0.0.1 only:
#   PostgreSQL 15 (Debian)  127.0.0.1:5432   role/password cqrs_command, database cqrs (TLS offered);
#                                            role cqrs_test (CREATEDB) for the tests' own databases
#   RabbitMQ 3.10 (Debian)  127.0.0.1:5672   vhost cqrs; users cqrs-admin, cqrs-command, cqrs-query and
#                                            cqrs-client, passwords their names (guest deleted)
#                           127.0.0.1:5671   the same over TLS (amqps)
#   TLS: a local CA and a server certificate for 127.0.0.1/localhost, made once in $STATE/tls; clients
#     trust $STATE/tls/ca.pem (CQRS_TEST_CA in infra/local.env)
#   FerretDB v1 (infra/ferretdb, MongoDB wire protocol)  127.0.0.1:27017 (TLS: 27018); clients log in
#     (authMechanism=PLAIN) as PostgreSQL role ferretdb/ferretdb (see README "Security"); stored in database
#     ferretdb (role ferretdb); CQRS_FERRETDB_BACKEND=sqlite keeps it in SQLite files instead (slower:
#     FerretDB v1 pushes no filter down to SQLite, so every lookup scans its collection)
# Idempotent: a server that already answers on its port is left alone, so a second run is a fast no-op;
# but one of ours whose configuration this script now writes differently (TLS, FerretDB's flags) is
# reloaded or restarted once, so that a machine provisioned before gets what a fresh one gets.
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
AMQPS_PORT=5671
TLS_DIR=$STATE/tls
TEST_PG_USER=cqrs_test # the tests' role: makes a database per test session (CREATEDB), nothing more
TEST_PG_PASSWORD=cqrs_test
MONGO_PORT=27017
MONGO_TLS_PORT=27018
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
  # Ours (the Debian package this script configured): its configuration is kept current while it runs.
  if [ "$(id -u)" = 0 ] && is_installed rabbitmq-server &&
    grep -q 'cqrs-pair infra/provision.sh' /etc/rabbitmq/rabbitmq.conf 2>/dev/null; then
    want_rabbit=running
  fi
else
  want_rabbit=start
fi
if [ -n "${CQRS_MONGODB_URL:-}" ]; then
  say "ferretdb: CQRS_MONGODB_URL is set, using the given server"
elif port_open "$MONGO_PORT"; then
  say "ferretdb: running on $HOST:$MONGO_PORT"
  want_mongo=running # ours is started again below if its flags are not the ones wanted now
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
# Only changed when the content differs (then CHANGED=1); takes effect at the next start, and a running
# RabbitMQ of ours is restarted once for it (below).
CHANGED=0
write_if_changed() { # PATH CONTENT
  if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$2" >"$1.tmp.$$"
    chmod 0644 "$1.tmp.$$"
    mv "$1.tmp.$$" "$1"
    CHANGED=1
  fi
}
RABBIT_TLS=/etc/rabbitmq/tls
rabbit_changed=0
if [ "$want_rabbit" != 0 ]; then
  CHANGED=0
  write_if_changed /etc/rabbitmq/rabbitmq.conf "# Written by cqrs-pair infra/provision.sh: loopback only.
listeners.tcp.default = $HOST:$AMQP_PORT
# The largest body the broker takes (1 MiB: CQRS_MAX_MESSAGE_BYTES at most, and more than a reply of
# 1,000 events, ~0.6 MB): prefetch x this bounds what a sender can make a consumer hold (threat model).
max_message_size = 1048576
distribution.listener.interface = $HOST
distribution.listener.port_range.min = 25672
distribution.listener.port_range.max = 25672
# TLS (amqps) on $HOST:$AMQPS_PORT with the local CA's server certificate (infra/provision.sh makes it).
# A client certificate is checked when one is sent, not required: clients log in with a password.
listeners.ssl.default = $HOST:$AMQPS_PORT
ssl_options.cacertfile = $RABBIT_TLS/ca.pem
ssl_options.certfile = $RABBIT_TLS/server.pem
ssl_options.keyfile = $RABBIT_TLS/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false"
  # Sourced by the rabbitmq-server/rabbitmqctl scripts (sh): epmd, the node and the CLI's own
  # distribution listener on loopback; a fixed node name that needs no host name resolution.
  write_if_changed /etc/rabbitmq/rabbitmq-env.conf "# Written by cqrs-pair infra/provision.sh: loopback only.
NODENAME=rabbit@localhost
NODE_IP_ADDRESS=$HOST
NODE_PORT=$AMQP_PORT
export ERL_EPMD_ADDRESS=$HOST
CTL_ERL_ARGS=\"-kernel inet_dist_use_interface {127,0,0,1}\""
  rabbit_changed=$CHANGED
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
if { [ "$want_pg" != 0 ] || [ "$want_rabbit" != 0 ] || [ "$want_mongo" != 0 ]; } && ! command -v openssl >/dev/null; then
  pkgs+=(openssl) # makes the local CA and server certificate (below)
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

# --- TLS: a local CA and a server certificate for 127.0.0.1 and localhost ----------------------------
# Made once into $TLS_DIR and reused while valid; each server gets a copy it owns (its key readable by
# it alone), so this directory may stay private. Clients trust $TLS_DIR/ca.pem. For local use only: a
# real deployment brings its own certificates (README "Security").
tls_valid() {
  [ -s "$TLS_DIR/ca.pem" ] && [ -s "$TLS_DIR/server.pem" ] && [ -s "$TLS_DIR/server.key" ] &&
    openssl verify -CAfile "$TLS_DIR/ca.pem" "$TLS_DIR/server.pem" >/dev/null 2>&1 &&
    openssl x509 -checkend 2592000 -noout -in "$TLS_DIR/server.pem" >/dev/null 2>&1 # 30 days left
}
tls_make() {
  local new
  mkdir -p "$TLS_DIR"
  new=$(mktemp -d "$TLS_DIR/.new.XXXXXX")
  (
    cd "$new"
    openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 -subj "/CN=cqrs-pair local CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca.key -out ca.pem
    openssl req -new -nodes -newkey rsa:2048 -sha256 -subj "/CN=localhost" -keyout server.key -out server.csr
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:$HOST,DNS:localhost" "subjectKeyIdentifier=hash" \
      "authorityKeyIdentifier=keyid,issuer" >server.ext
    openssl x509 -req -sha256 -days 825 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -extfile server.ext -out server.pem
    chmod 0600 ca.key server.key
    chmod 0644 ca.pem server.pem
  ) >"$STATE/log/tls.log" 2>&1 || { show_logs "$STATE/log/tls.log"; die "tls: openssl failed"; }
  mv -f "$new/ca.key" "$new/ca.pem" "$new/server.key" "$new/server.pem" "$TLS_DIR/"
  rm -rf "$new"
}
# tls_install DIR OWNER: the CA and server certificate into DIR, the key readable by OWNER only;
# CHANGED=1 when a file was new or different.
tls_install() {
  local dir=$1 owner=$2 name mode
  install -d -m 0755 "$dir"
  for name in ca.pem server.pem server.key; do
    mode=0644
    [ "$name" != server.key ] || mode=0600
    if ! cmp -s "$TLS_DIR/$name" "$dir/$name"; then
      install -o "$owner" -g "$owner" -m "$mode" "$TLS_DIR/$name" "$dir/$name"
      CHANGED=1
    fi
  done
}
if [ "$want_pg" != 0 ] || [ "$want_rabbit" != 0 ] || [ "$want_mongo" != 0 ]; then
  mkdir -p "$STATE/log"
  if ! tls_valid; then
    say "tls: making a local CA and a server certificate for $HOST/localhost in $TLS_DIR"
    tls_make
  fi
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
    CREATE ROLE $PG_USER LOGIN NOCREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN NOCREATEDB PASSWORD '$PG_PASSWORD';
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

# Least privilege, checked on every run (idempotent): the service role owns its database and nothing
# else (no CREATEDB, no superuser); no other role may connect to it, nor the service role to any other
# database; the tests get a role of their own that may create (and drop) their databases.
pg_ensure_rights() {
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$TEST_PG_USER') THEN
    CREATE ROLE $TEST_PG_USER LOGIN CREATEDB PASSWORD '$TEST_PG_PASSWORD';
  END IF;
END \$\$;
ALTER ROLE $PG_USER NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
DO \$\$ DECLARE db text; BEGIN
  FOR db IN SELECT datname FROM pg_database WHERE datname IN ('$PG_DB', '$FERRET_PG_USER', 'postgres', 'template1') LOOP
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', db);
  END LOOP;
END \$\$;
GRANT CONNECT ON DATABASE postgres TO $TEST_PG_USER;
-- FerretDB keeps each document in one jsonb column; autovacuum's ANALYZE of a collection sorted a
-- 30,000-row sample of whole documents about once a minute under load: 2.5 s of a core for the
-- customers of a 12-minute soak (30,000 documents), the soak's lag spikes. A target of 10 samples
-- 3,000 rows: 0.22 s (docs/performance.md, "The soak's lag spikes"). Autovacuum honours it.
DO \$\$ BEGIN
  IF EXISTS (SELECT FROM pg_database WHERE datname = '$FERRET_PG_USER') THEN
    ALTER DATABASE $FERRET_PG_USER SET default_statistics_target = 10;
  END IF;
END \$\$;
SQL
}

# The loopback listener and TLS with the local CA's certificate (Debian's default is its snakeoil
# certificate, which no client can verify); CHANGED=1 when anything changed.
pg_configure() {
  CHANGED=0
  tls_install "$PG_CONF_DIR/tls" postgres
  write_if_changed "$PG_CONF_DIR/conf.d/cqrs-pair.conf" "# Written by cqrs-pair infra/provision.sh: loopback only, TLS offered.
listen_addresses = '$HOST'
port = $PG_PORT
ssl = on
ssl_cert_file = '$PG_CONF_DIR/tls/server.pem'
ssl_key_file = '$PG_CONF_DIR/tls/server.key'
ssl_min_protocol_version = 'TLSv1.2'
# Autovacuum runs that take 0.5 s or more go to the log: they compete with the pair for the cores.
log_autovacuum_min_duration = 500"
}

pg_cluster_status() { pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}'; }

if [ "$want_pg" = running ]; then
  # Our Debian cluster: make sure the role and database exist (one quick login when they do), its TLS
  # configuration is current (a reload applies it) and the rights are as they should be.
  if [ "$(pg_cluster_status)" = online ]; then
    pg_configure
    if [ "$CHANGED" = 1 ]; then
      say "postgresql: configuration changed, reloading"
      as_postgres psql -X -q -p "$PG_PORT" -d postgres -c 'select pg_reload_conf()' >/dev/null
    fi
    pg_ensure_role_db
    pg_ensure_rights
  fi
elif [ "$want_pg" = start ]; then
  if [ -z "$(pg_cluster_status)" ]; then
    say "postgresql: creating cluster $PG_VERSION/main"
    pg_createcluster --port "$PG_PORT" "$PG_VERSION" main >/dev/null
  fi
  pg_configure
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
  pg_ensure_rights
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
if [ "$want_rabbit" != 0 ]; then
  # The TLS listener's certificate and key, readable by the rabbitmq user (installed by now).
  CHANGED=0
  tls_install "$RABBIT_TLS" rabbitmq
  [ "$CHANGED" = 0 ] || rabbit_changed=1
fi
if [ "$want_rabbit" = running ] && [ "$rabbit_changed" = 1 ]; then
  # Its configuration is read at start only: restart it once (vhosts, users and durable queues stay).
  say "rabbitmq: configuration changed (TLS listener), restarting"
  ERL_EPMD_ADDRESS=$HOST timeout 120 /etc/init.d/rabbitmq-server stop >/dev/null 2>&1 ||
    die "rabbitmq: /etc/init.d/rabbitmq-server stop failed"
  want_rabbit=start
fi
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
  wait_for rabbitmq "$AMQPS_PORT" port_open "${RABBIT_LOGS[@]}"
  say "rabbitmq: running on $HOST:$AMQP_PORT, TLS on $HOST:$AMQPS_PORT (up in $((SECONDS - t0))s)"
fi

# --- RabbitMQ users, permissions and queue bounds ----------------------------------------------------
# From their one table (shared/src/cqrs_shared/messaging/access.py) through `cqrs broker definitions`,
# hence uv: the vhost cqrs, a user per role with its permissions (local passwords: the users' names;
# infra/local.env has their URLs) and the queue policies, imported into the running broker. An import
# adds and updates, never removes, so it runs every time (~2 s) and brings a broker provisioned before
# up to date. Then RabbitMQ's default user guest goes (67: there is none).
if [ "$want_rabbit" != 0 ]; then
  command -v uv >/dev/null || die "rabbitmq: uv is needed to make the broker's users (pip install uv)"
  t0=$SECONDS
  mkdir -p "$STATE/log"
  if ! (cd "$INFRA_DIR/.." && CQRS_RABBITMQ_ADMIN_PASSWORD=cqrs-admin CQRS_RABBITMQ_COMMAND_PASSWORD=cqrs-command \
    CQRS_RABBITMQ_QUERY_PASSWORD=cqrs-query CQRS_RABBITMQ_CLIENT_PASSWORD=cqrs-client \
    uv run --frozen --quiet cqrs broker definitions --out - | rabbitmqctl -q import_definitions) \
    >"$STATE/log/rabbitmq-access.log" 2>&1 </dev/null; then
    show_logs "$STATE/log/rabbitmq-access.log"
    die "rabbitmq: importing the users, permissions and policies failed"
  fi
  rabbitmqctl -q delete_user guest >/dev/null 2>&1 || [ $? = 67 ] || die "rabbitmq: rabbitmqctl delete_user guest failed"
  # The consistent-hash exchange of the query service's partitions (CQRS_EVENT_PARTITIONS above 1);
  # it ships with RabbitMQ. Enabling an enabled plugin changes nothing.
  rabbitmq-plugins -q enable rabbitmq_consistent_hash_exchange >>"$STATE/log/rabbitmq-access.log" 2>&1 </dev/null ||
    { show_logs "$STATE/log/rabbitmq-access.log"; die "rabbitmq: enabling rabbitmq_consistent_hash_exchange failed"; }
  say "rabbitmq: vhost cqrs, its users, permissions and queue policies in place ($((SECONDS - t0))s)"
fi

# --- FerretDB (MongoDB wire protocol) ----------------------------------------------------------------
bin=$STATE/bin/cqrs-ferretdb
log=$STATE/log/ferretdb.log
pidfile=$STATE/run/ferretdb.pid
if [ "$FERRET_BACKEND" = postgresql ]; then
  # -auth: a client must log in (authMechanism=PLAIN) as a PostgreSQL role, ferretdb for the query
  # service; FerretDB v1 opens PostgreSQL with those credentials (see README "Security").
  # sslmode=disable: loopback (TLS cost FerretDB and PostgreSQL CPU on every statement, docs/performance.md).
  storage=(-handler postgresql -auth -postgresql-url "postgres://$FERRET_PG_USER:$FERRET_PG_PASSWORD@$HOST:$PG_PORT/$FERRET_PG_USER?sslmode=disable")
  where="PostgreSQL database $FERRET_PG_USER"
else
  storage=(-handler sqlite -data "$STATE/ferretdb-data")
  where="$STATE/ferretdb-data"
fi
# FerretDB runs as this script's user, so it reads the key in $TLS_DIR itself.
ferret_args=("$bin" -listen "$HOST:$MONGO_PORT" -listen-tls "$HOST:$MONGO_TLS_PORT" -tls-cert "$TLS_DIR/server.pem"
  -tls-key "$TLS_DIR/server.key" "${storage[@]}")
ferret_ours() { # the pid of our running FerretDB, if any
  local pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = cqrs-ferretdb ] &&
    [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ] && echo "$pid"
}
if [ "$want_mongo" = running ] && pid=$(ferret_ours); then
  if [ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" != "${ferret_args[*]} " ]; then
    say "ferretdb: running with other flags than wanted now; restarting it"
    kill "$pid"
    for _ in $(seq 1 40); do [ "$(ferret_ours)" = "$pid" ] || break; sleep 0.25; done
    want_mongo=start
  fi
fi
if [ "$want_mongo" = start ]; then
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
  if ! pid=$(ferret_ours); then
    say "ferretdb: starting (data in $where, log in $log)"
    printf '\n--- %s start\n' "$(date -Is)" >>"$log"
    setsid nohup "${ferret_args[@]}" </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$pidfile"
  fi
  t0=$SECONDS
  WAIT_PID=$pid wait_for ferretdb "$MONGO_PORT" port_open "$log"
  say "ferretdb: running on $HOST:$MONGO_PORT, TLS on $HOST:$MONGO_TLS_PORT (up in $((SECONDS - t0))s)"
fi
