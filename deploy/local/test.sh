#!/usr/bin/env bash
# Run every test against real servers: start the local ClickHouse and
# PostgreSQL and the ClickHouse cluster (cluster.sh), install Chromium (on a
# fresh machine), then go test. Extra arguments go to `go test` (default ./...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
set -a
eval "$(deploy/local/up.sh)"
# The ClickHouse cluster of the cluster-mode test (schema.TestCluster):
# ZooKeeper and two replicas (RISKWATCH_CLUSTER_CH1, _CH2, _NAME).
cluster="$(deploy/local/cluster.sh start)" # an assignment: a failed start stops test.sh
eval "$cluster"
set +a
# The console's browser tests drive headless Chromium (installed here when missing).
RISKWATCH_CHROMIUM="$(deploy/local/chromium.sh)"
export RISKWATCH_CHROMIUM
if [ $# -eq 0 ]; then set -- ./...; fi
go vet ./...
exec go test -count=1 -timeout 30m "$@"
