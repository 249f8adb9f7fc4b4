#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests, as a non-root user on a free local port.
#   eval "$(scripts/postgres.sh start)"   installs Debian's postgresql when missing, starts a cluster,
#                                         prints `export UCLAB_TEST_POSTGRES_URL=... UCLAB_TEST_PG_DIR=...`
#   scripts/postgres.sh stop DIR           stops that cluster and removes its folder
# Everything it says goes to stderr, so stdout carries only the exports.
set -euo pipefail

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_user() {  # run as the cluster's owner (PostgreSQL refuses to run as root)
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

start() {
  if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
    echo "Installing Debian's postgresql..." >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      postgresql </dev/null >&2
  fi
  local bin dir port
  bin=$(pg_bin)
  PG_USER=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    PG_USER=postgres
    id "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_USER"
  fi
  dir=$(mktemp -d /tmp/uclab-pg.XXXXXX)
  chown "$PG_USER" "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_user "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # fsync off: a test cluster that is thrown away needs no durability, and it is much faster.
  as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
        -c full_page_writes=off -c max_connections=200" start >&2 \
    || { cat "$dir/server.log" >&2; exit 1; }
  as_user "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres uclab_test >&2
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)" >&2
  echo "export UCLAB_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/uclab_test"
  echo "export UCLAB_TEST_PG_DIR=$dir"
}

stop() {
  local dir=${1:?usage: scripts/postgres.sh stop DIR}
  [ -d "$dir/data" ] || return 0
  PG_USER=$(stat -c %U "$dir")
  as_user "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: scripts/postgres.sh start | stop DIR" >&2; exit 2 ;;
esac
