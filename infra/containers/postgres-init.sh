#!/bin/sh
# Run once by the postgres image on its first start (an empty data volume), from
# /docker-entrypoint-initdb.d/, as the image's superuser ($POSTGRES_USER, the stack's administrator):
# the command service's role and database, with least privilege, as infra/provision.sh makes them.
#   role $CQRS_SERVICE_USER  LOGIN, no superuser, no CREATEDB/CREATEROLE; owns $CQRS_SERVICE_DB only
#   database $CQRS_SERVICE_DB  only its owner (and superusers) may connect
#   databases postgres, template1  no longer open to every role
# A data volume made before this script existed keeps its superuser service role: see README "Security".
set -e
psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname postgres \
  -v role="$CQRS_SERVICE_USER" -v password="$CQRS_SERVICE_PASSWORD" -v db="$CQRS_SERVICE_DB" <<'SQL'
CREATE ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE CONNECT, TEMPORARY ON DATABASE :"db" FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;
SQL
