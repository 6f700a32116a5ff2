#!/usr/bin/env bash
# Headless Chromium for the console's browser tests (Debian's `chromium`).
#
#   deploy/local/chromium.sh            installs it if missing, prints the binary's path
#
# Not a server: the tests start it themselves (headless, loopback only, a
# fresh profile each run). The path is the only line on stdout, so callers
# can do RISKWATCH_CHROMIUM="$(deploy/local/chromium.sh)"; messages go to
# stderr. Installs as root or with sudo, like the other local services.
#
# Env: RISKWATCH_CHROMIUM (a browser to use instead; not installed then).
set -euo pipefail

log() { echo "chromium.sh: $*" >&2; }

# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -n "${RISKWATCH_CHROMIUM:-}" ]; then
  [ -x "$RISKWATCH_CHROMIUM" ] || { log "RISKWATCH_CHROMIUM=$RISKWATCH_CHROMIUM is not an executable"; exit 1; }
  echo "$RISKWATCH_CHROMIUM"
  exit 0
fi
# fonts-noto-cjk: without a CJK font the screenshots show the Chinese pages as boxes.
ensure_pkgs chromium fonts-noto-cjk
bin="$(command -v chromium || true)"
[ -n "$bin" ] || bin=/usr/bin/chromium
[ -x "$bin" ] || { log "chromium is installed but $bin is not executable"; exit 1; }
# A browser that cannot start (missing libraries, a broken install) fails
# here with its own words rather than as a timeout in a test.
"$bin" --version >/dev/null || { log "$bin --version failed"; exit 1; }
echo "$bin"
