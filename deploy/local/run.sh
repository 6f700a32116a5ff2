#!/usr/bin/env bash
# Run riskwatch for a new user: start the local ClickHouse (and PostgreSQL),
# make a personal-data key once, build, migrate, and serve with the embedded
# Kafka broker on 127.0.0.1:9092 and the API and the console (the web pages)
# on http://127.0.0.1:8080.
#
#   -demo    the living demo: an account per role (printed, kept in
#            var/demo/accounts.txt), 诸暨市's traffic with planted incidents
#            published into the embedded broker — ten weeks, the past at once
#            and detected, the rest as it comes. Ctrl-C stops it and keeps the
#            data; the next start goes on.
#   -reset   delete the local servers' data first (ClickHouse, PostgreSQL,
#            the embedded broker, the demo's accounts): start afresh. The
#            personal-data key is kept.
#
# Other arguments go to `riskwatch serve`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
args=()
for a in "$@"; do
  case "$a" in
    -reset|--reset) reset=1 ;;
    *) args+=("$a") ;;
  esac
done
set -- ${args[@]+"${args[@]}"}
VAR_DIR="${RISKWATCH_VAR_DIR:-$ROOT/var}"
if [ -n "${reset:-}" ]; then
  deploy/local/down.sh
  rm -rf "$VAR_DIR/clickhouse" "$VAR_DIR/postgres" "$VAR_DIR/kafka" "$VAR_DIR/demo"
  echo "run.sh: deleted the local servers' data under $VAR_DIR (kept var/pii.key)" >&2
fi
set -a
eval "$(deploy/local/up.sh)"
set +a

# The key that hashes and seals personal data. Made once and kept: a new key
# would stop today's hashes from linking to yesterday's.
KEY_FILE="$ROOT/var/pii.key"
if [ ! -s "$KEY_FILE" ]; then
  umask 077
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$KEY_FILE"
  echo "run.sh: made a personal-data key in $KEY_FILE (keep it; back it up)" >&2
fi

mkdir -p var/bin
go build -o var/bin/riskwatch ./cmd/riskwatch
var/bin/riskwatch migrate
signin="a user made by riskwatch user add"
case " $* " in
  *" -demo "*|*" --demo "*|*" -demo=true "*) signin="an account the demo prints below" ;;
  *) echo "run.sh: the first administrator: var/bin/riskwatch user add -username admin -role admin -jurisdiction 330681" >&2 ;;
esac
# The console is served beside the API: the address of -http, if given.
ADDR="${RISKWATCH_HTTP:-127.0.0.1:8080}"
prev=""
for a in "$@"; do
  case "$a" in
    -http=*|--http=*) ADDR="${a#*=}" ;;
  esac
  if [ "$prev" = "-http" ] || [ "$prev" = "--http" ]; then ADDR="$a"; fi
  prev="$a"
done
case "$ADDR" in :*) ADDR="127.0.0.1$ADDR" ;; esac
echo "run.sh: the console: http://$ADDR/ (sign in with $signin; reviewers start at /queue, mediators at /inbox, leaders at /dashboard)" >&2
exec var/bin/riskwatch serve -pii.key-file "$KEY_FILE" -kafka "${RISKWATCH_KAFKA:-embedded}" -kafka.data-dir "$VAR_DIR/kafka" -demo.dir "$VAR_DIR/demo" -desks deploy/desks.yaml -regions deploy/regions.yaml "$@"
