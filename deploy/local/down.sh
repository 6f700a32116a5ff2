#!/usr/bin/env bash
# Stop the project-local services started by up.sh. Data under <repo>/var is
# kept; the next up.sh reuses it. Stopping services that are not running is
# not an error.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rc=0
# Try both even if one fails.
"$HERE/clickhouse.sh" stop || rc=$?
"$HERE/postgres.sh" stop || rc=$?
exit $rc
