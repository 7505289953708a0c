#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this machine, from the Debian package infra/provision.sh installs
# (`make test-cluster` runs the pair on it: infra/test-cluster.sh).
#
#   bash infra/cluster.sh start     # nodes cqrs-a, cqrs-b, cqrs-c on 127.0.0.1:5701-5703, clustered,
#                                   # vhost cqrs with the roles' users (as provision.sh), prints URLs
#   bash infra/cluster.sh stop-node b | start-node b   # one node down, then back (it rejoins)
#   bash infra/cluster.sh status | stop               # stop: every node, data kept; --purge: removed
#   bash infra/cluster.sh vhost NAME | drop-vhost NAME  # another vhost with the roles (a test's own)
#
# Each node has its own configuration, data and logs under $BASE (the rabbitmq user's, as the Debian
# service's are), its own AMQP port (57NN) and distribution port (257NN), all on loopback. They share
# the Erlang cookie of the rabbitmq user, like the local broker on 5672, which keeps running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BASE=${CQRS_CLUSTER_DIR:-/var/lib/rabbitmq/cqrs-cluster}
NODES=(a b c)
HOST=127.0.0.1
WAIT=${CQRS_PROVISION_WAIT:-60}

say() { printf '==> cluster: %s\n' "$*"; }
die() { printf '==> cluster: ERROR: %s\n' "$*" >&2; exit 1; }
port_of() { case "$1" in a) echo 5701 ;; b) echo 5702 ;; c) echo 5703 ;; *) die "no node $1 (a, b, c)" ;; esac; }
name_of() { echo "cqrs-$1@localhost"; }
ctl() { # ctl NODE ARGS...: rabbitmqctl against one node
  local node=$1
  shift
  RABBITMQ_CONF_ENV_FILE=$BASE/$node/env.conf timeout 60 rabbitmqctl -q -n "$(name_of "$node")" "$@"
}
running() { ctl "$1" status >/dev/null 2>&1; }

configure() { # the node's own files (rewritten each start: they hold nothing but this)
  local node=$1 port dir
  port=$(port_of "$node")
  dir=$BASE/$node
  mkdir -p "$dir/mnesia" "$dir/log"
  cat >"$dir/rabbitmq.conf" <<EOF
# Written by cqrs-pair infra/cluster.sh: loopback only.
listeners.tcp.default = $HOST:$port
max_message_size = 1048576
distribution.listener.interface = $HOST
distribution.listener.port_range.min = 2$port
distribution.listener.port_range.max = 2$port
EOF
  cat >"$dir/env.conf" <<EOF
# Written by cqrs-pair infra/cluster.sh (sourced by rabbitmq-server and rabbitmqctl).
NODENAME=$(name_of "$node")
NODE_IP_ADDRESS=$HOST
NODE_PORT=$port
CONFIG_FILE=$dir/rabbitmq.conf
MNESIA_BASE=$dir/mnesia
LOG_BASE=$dir/log
PID_FILE=$dir/pid
ENABLED_PLUGINS_FILE=$dir/enabled_plugins
export ERL_EPMD_ADDRESS=$HOST
CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
  # The consistent-hash exchange routes events to the projector's partitions (issue 12).
  echo '[rabbitmq_consistent_hash_exchange].' >"$dir/enabled_plugins"
  chown -R rabbitmq:rabbitmq "$BASE"
}

start_node() {
  local node=$1
  if running "$node"; then
    say "node $node: running on $HOST:$(port_of "$node")"
    return
  fi
  configure "$node"
  RABBITMQ_CONF_ENV_FILE=$BASE/$node/env.conf rabbitmq-server -detached </dev/null
  local t0=$SECONDS
  until ctl "$node" await_startup >/dev/null 2>&1; do
    [ $((SECONDS - t0)) -lt "$WAIT" ] || die "node $node did not start within ${WAIT}s (logs: $BASE/$node/log)"
    sleep 1
  done
  say "node $node: running on $HOST:$(port_of "$node") (up in $((SECONDS - t0))s)"
}

join() { # join NODE: into cqrs-a's cluster, unless it is in one already
  local node=$1
  if ctl "$node" cluster_status --formatter json 2>/dev/null | grep -q "$(name_of a)"; then
    return
  fi
  { ctl "$node" stop_app && ctl "$node" reset && ctl "$node" join_cluster "$(name_of a)" &&
    ctl "$node" start_app; } >"$BASE/$node/log/join.log" 2>&1 ||
    { cat "$BASE/$node/log/join.log" >&2; die "node $node could not join $(name_of a)"; }
  say "node $node: joined $(name_of a)"
}

access() { # the vhost (cqrs, or $1), users, permissions and policies of infra/provision.sh
  local out vhost=${1:-cqrs}
  if ! out=$(CQRS_RABBITMQ_ADMIN_PASSWORD=cqrs-admin CQRS_RABBITMQ_COMMAND_PASSWORD=cqrs-command \
    CQRS_RABBITMQ_QUERY_PASSWORD=cqrs-query CQRS_RABBITMQ_CLIENT_PASSWORD=cqrs-client \
    uv run --frozen --quiet cqrs broker definitions --vhost "$vhost" --out - 2>&1 | ctl a import_definitions 2>&1); then
    printf '%s\n' "$out" >&2
    die "importing the users, permissions and policies failed"
  fi
  ctl a delete_user guest >/dev/null 2>&1 || true
}

case "${1:-}" in
  start)
    command -v rabbitmq-server >/dev/null || die "rabbitmq-server is not installed: run infra/provision.sh first"
    for node in "${NODES[@]}"; do start_node "$node"; done
    for node in b c; do join "$node"; done
    access
    say "3 nodes: $(ctl a cluster_status --formatter json | grep -o 'cqrs-[abc]@localhost' | sort -u | tr '\n' ' ')"
    for node in "${NODES[@]}"; do
      echo "amqp://cqrs-admin:cqrs-admin@$HOST:$(port_of "$node")/cqrs"
    done
    ;;
  start-node)
    start_node "${2:?which node: a, b or c}"
    ;;
  stop-node)
    node=${2:?which node: a, b or c}
    if running "$node"; then
      ctl "$node" stop
      say "node $node: stopped"
    else
      say "node $node: not running"
    fi
    ;;
  vhost)
    access "${2:?which vhost}"
    say "vhost ${2}: the roles' users, permissions and policies"
    ;;
  drop-vhost)
    ctl a delete_vhost "${2:?which vhost}"
    ;;
  status)
    for node in "${NODES[@]}"; do
      if running "$node"; then say "node $node: running on $HOST:$(port_of "$node")"; else say "node $node: stopped"; fi
    done
    ;;
  stop)
    for node in "${NODES[@]}"; do
      if running "$node"; then ctl "$node" stop && say "node $node: stopped"; fi
    done
    if [ "${2:-}" = --purge ]; then
      rm -rf "$BASE"
      say "removed $BASE"
    fi
    ;;
  *)
    echo "usage: $0 start | stop [--purge] | status | start-node NODE | stop-node NODE | vhost NAME | drop-vhost NAME" >&2
    exit 2
    ;;
esac
