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

# kcat: command-line Kafka client used for manual pipeline checks.
# Same rule as the service scripts: apt-get update only if apt doesn't know it.
if ! dpkg-query -W -f='${Status}' kcat 2>/dev/null | grep -q 'install ok installed'; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends -o Dpkg::Use-Pty=0)
  echo "up.sh: installing kcat" >&2
  apt-cache show kcat >/dev/null 2>&1 || "${apt[@]}" update >&2
  "${apt[@]}" install kcat >&2 </dev/null || { "${apt[@]}" update >&2 && "${apt[@]}" install kcat >&2 </dev/null; }
fi

# Sequential on purpose: both may run apt-get, which takes a global lock.
ch="$("$HERE/clickhouse.sh" start)"
pg="$("$HERE/postgres.sh" start)"

# Unquoted is safe for eval/source: no globbing happens in assignments.
echo "RISKWATCH_CLICKHOUSE=$ch"
echo "RISKWATCH_POSTGRES=$pg"
