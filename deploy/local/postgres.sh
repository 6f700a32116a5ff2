#!/usr/bin/env bash
# Project-local PostgreSQL (Debian 12: PostgreSQL 15) on loopback.
#
#   deploy/local/postgres.sh [start|stop|status]     (default: start)
#
# Cluster, socket and log live under <repo>/var/postgres; the package's own
# cluster (15/main, port 5432) is neither used nor touched. `start` is
# idempotent: installs the packages if missing, initdb's once, starts the
# server unless it is already running, waits with pg_isready, makes sure the
# role/database `riskwatch` exist, and prints the DSN as the only line on
# stdout (messages: stderr). Auth is `trust` for local socket and loopback.
#
# Env: RISKWATCH_PG_PORT (15432), RISKWATCH_VAR_DIR (<repo>/var).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VAR_DIR="${RISKWATCH_VAR_DIR:-$ROOT/var}"
PG_DIR="$VAR_DIR/postgres"
DATA="$PG_DIR/data"
SOCK_DIR="$PG_DIR/run"
LOG="$PG_DIR/log/postgres.log"
PORT="${RISKWATCH_PG_PORT:-15432}"
DB=riskwatch
DB_USER=riskwatch
DSN="postgres://$DB_USER@127.0.0.1:$PORT/$DB?sslmode=disable"

log() { echo "postgres.sh: $*" >&2; }

# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The server binaries: the major version the cluster was created with, else
# the newest one installed (15 on Debian 12).
bindir() {
  local v=""
  [ -f "$DATA/PG_VERSION" ] && v="$(cat "$DATA/PG_VERSION")"
  if [ -z "$v" ]; then
    local d
    for d in /usr/lib/postgresql/*/bin/postgres; do
      [ -x "$d" ] || continue
      d="${d#/usr/lib/postgresql/}" d="${d%%/*}"
      [ -z "$v" ] || [ "$d" -gt "$v" ] && v="$d"
    done
  fi
  echo "/usr/lib/postgresql/$v/bin"
}

# PostgreSQL refuses to run as root: as root, run server-side commands as the
# `postgres` system user (created by the package); otherwise as ourselves.
# cd first: its cwd must be readable by that user (e.g. not /root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$PG_DIR" && runuser -u postgres -- "$@")
  else
    (cd "$PG_DIR" && "$@")
  fi
}

# As root, the postgres user must be able to reach var/postgres: give o+x
# (traverse only, no read) to any ancestor directory that lacks it, e.g. a
# checkout under /root (mode 700).
ensure_traversable() {
  [ "$(id -u)" -eq 0 ] || return 0
  local d="$PG_DIR"
  while d="$(dirname "$d")"; [ "$d" != / ]; do
    if [ "$(( 0$(stat -c %a "$d") & 01 ))" -eq 0 ]; then
      log "chmod o+x $d (so user postgres can reach $PG_DIR)"
      chmod o+x "$d"
    fi
  done
}

# PID of our postmaster if it is running, else nothing. postmaster.pid left
# behind by kill -9 / reboot may name a dead or recycled PID: only trust it
# when that process is a postgres whose cwd is our data dir (the postmaster
# chdirs there).
running_pid() {
  local pid
  pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null | tr -dc 0-9 || true)"
  [ -n "$pid" ] && [ -e "/proc/$pid" ] || return 0
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] &&
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$(cd "$DATA" && pwd -P)" ]; then
    echo "$pid"
  fi
}

# PIDs of live postgres processes (postmaster or orphaned backends) working
# in our data dir. Zombies have no cwd, so they never match.
cluster_procs() {
  local real f pid
  real="$(cd "$DATA" && pwd -P)"
  for f in /proc/[0-9]*/comm; do
    [ "$(cat "$f" 2>/dev/null)" = postgres ] || continue
    pid="${f#/proc/}" pid="${pid%/comm}"
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$real" ] && echo "$pid"
  done
  return 0
}

# Before starting after a crash (kill -9, reboot): postgres trusts its lock
# files while their PID exists, and a killed postmaster can linger as a
# zombie (or its PID be reused) -> "lock file already exists". Once no
# process of ours is alive any more, the lock files are certainly stale.
clear_stale_locks() {
  local i
  for ((i = 0; i < 100; i++)); do # orphaned backends exit within ~1 s
    [ -z "$(cluster_procs)" ] && break
    sleep 0.1
  done
  if [ -n "$(cluster_procs)" ]; then
    log "postgres processes without a postmaster still use $DATA: $(cluster_procs | tr '\n' ' ')"
    log "refusing to start (would risk the data); kill them first"
    exit 1
  fi
  rm -f "$DATA/postmaster.pid" "$SOCK_DIR"/.s.PGSQL.*
}

ready() {
  "$(bindir)/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U postgres
}

psql_pg() {
  "$(bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"
}

init_cluster() {
  [ -f "$DATA/PG_VERSION" ] && return 0
  local bin tmp="$PG_DIR/data.initdb"
  bin="$(bindir)"
  log "initdb $DATA"
  # initdb into a scratch dir and rename, so an interrupted initdb never
  # leaves a half-made cluster that later runs would trust.
  rm -rf "$tmp"
  as_pg "$bin/initdb" -D "$tmp" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 >>"$LOG" 2>&1 || {
    log "initdb failed; see $LOG"
    tail -n 20 "$LOG" >&2
    exit 1
  }
  # Loopback-only server. Port and socket dir (inside var/, not
  # /var/run/postgresql) are given on the command line at start, so
  # RISKWATCH_PG_PORT can change and var/ can move without editing this.
  cat >>"$tmp/postgresql.conf" <<EOF

# --- deploy/local/postgres.sh ---
listen_addresses = '127.0.0.1'
timezone = 'UTC'
log_timezone = 'UTC'
EOF
  mv "$tmp" "$DATA"
}

do_stop() {
  [ -f "$DATA/PG_VERSION" ] || { log "no cluster"; return 0; }
  if [ -z "$(running_pid)" ]; then
    log "not running"
    return 0
  fi
  log "stopping"
  as_pg "$(bindir)/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >&2
}

do_start() {
  ensure_pkgs postgresql
  mkdir -p "$PG_DIR/log" "$SOCK_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    ensure_traversable
    chown postgres:postgres "$PG_DIR" "$PG_DIR/log" "$SOCK_DIR"
    [ -f "$LOG" ] || install -o postgres -g postgres -m 640 /dev/null "$LOG"
  fi
  init_cluster

  # Running on another port (RISKWATCH_PG_PORT changed)? Restart on ours.
  # Line 4 of postmaster.pid is the port.
  if [ -n "$(running_pid)" ] && [ "$(sed -n 4p "$DATA/postmaster.pid")" != "$PORT" ]; then
    log "running on another port, restarting"
    do_stop
  fi
  if [ -z "$(running_pid)" ]; then
    clear_stale_locks
    # pg_ctl hands -o to a shell, hence the inner quotes.
    local opts="-p $PORT -k '$SOCK_DIR'"
    # Unix socket paths are limited to 107 bytes: in a very deep checkout
    # use TCP only rather than fail.
    if [ $((${#SOCK_DIR} + 20)) -gt 107 ]; then
      log "socket dir path too long, TCP only"
      opts="-p $PORT -k ''"
    fi
    log "starting on 127.0.0.1:$PORT (log: $LOG)"
    # setsid: own session, so the server outlives the calling shell/job.
    as_pg setsid "$(bindir)/pg_ctl" start -D "$DATA" -l "$LOG" -o "$opts" -w -t 60 -s </dev/null >&2 || {
      log "start failed; see $LOG"
      tail -n 20 "$LOG" >&2
      exit 1
    }
  fi

  local i
  for ((i = 0; i < 600; i++)); do # up to 60 s
    ready && break
    sleep 0.1
  done
  if ! ready; then
    log "not answering on 127.0.0.1:$PORT; see $LOG"
    tail -n 20 "$LOG" >&2
    exit 1
  fi

  # Superuser role so tests can create/drop databases; created once.
  if [ "$(psql_pg -tA -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]; then
    psql_pg -c "CREATE ROLE $DB_USER LOGIN SUPERUSER"
  fi
  if [ "$(psql_pg -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    psql_pg -c "CREATE DATABASE $DB OWNER $DB_USER"
  fi
  echo "$DSN"
}

do_status() {
  local pid
  pid="$(running_pid)"
  if [ -n "$pid" ] && ready; then
    echo "running (pid $pid) $DSN"
  elif [ -n "$pid" ]; then
    echo "running (pid $pid) but not answering on 127.0.0.1:$PORT"
    return 1
  else
    echo "stopped"
    return 3 # LSB: program is not running
  fi
}

case "${1:-start}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
