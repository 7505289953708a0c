#!/bin/sh
# First start: a cluster whose superuser is $POSTGRES_USER, and database $POSTGRES_DB, then the scripts in
# /docker-entrypoint-initdb.d (*.sh, *.sql, in name order) on a server listening on its socket only, as
# the official image does. Then postgres as the postgres user, in the foreground, listening on every
# address of the container.
set -eu
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >"$pwfile"
  chown postgres "$pwfile"
  as_postgres initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  [ "$db" = postgres ] || as_postgres psql -q -U "$user" -d postgres -c "CREATE DATABASE \"$db\""
  for script in /docker-entrypoint-initdb.d/*; do
    case "$script" in
      *.sh) as_postgres sh "$script" ;;
      *.sql) as_postgres psql -v ON_ERROR_STOP=1 -q -U "$user" -d "$db" -f "$script" ;;
    esac
  done
  as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" -c listen_addresses='*'
