#!/usr/bin/env bash
# Start the project-local services (ClickHouse, PostgreSQL) and make sure
# kcat is installed. Idempotent: safe to run when they are already up, after
# a reboot, or after the servers were killed.
#
# stdout is only env lines (dotenv style), so callers can do
#   set -a; eval "$(deploy/local/up.sh)"; set +a
#   RISKWATCH_CLICKHOUSE=clickhouse://127.0.0.1:19000/default
#   RISKWATCH_POSTGRES=postgres://riskwatch@127.0.0.1:15432/riskwatch?sslmode=disable
# Progress and errors go to stderr; server logs go to <repo>/var/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# kcat: the command-line Kafka client of the end-to-end tests and the README.
log() { echo "up.sh: $*" >&2; }
# shellcheck source=deploy/local/lib.sh
. "$HERE/lib.sh"
ensure_pkgs kcat

# Sequential on purpose: both may run apt-get, which takes a global lock.
ch="$("$HERE/clickhouse.sh" start)"
pg="$("$HERE/postgres.sh" start)"

# Unquoted is safe for eval/source: no globbing happens in assignments.
echo "RISKWATCH_CLICKHOUSE=$ch"
echo "RISKWATCH_POSTGRES=$pg"
