# Shared by the service scripts; sourced, not run. The caller defines log().

# Install Debian packages that are missing. `apt-get update` only when apt
# does not know a package yet (fresh machine) or the install fails on stale
# lists. CI runs as root without stdin, hence noninteractive.
ensure_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "need root to install: ${missing[*]}"; exit 1; }
    sudo=(sudo)
  fi
  log "installing ${missing[*]}"
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends -o Dpkg::Use-Pty=0)
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    "${apt[@]}" update >&2
  fi
  if ! "${apt[@]}" install "${missing[@]}" >&2 </dev/null; then
    "${apt[@]}" update >&2
    "${apt[@]}" install "${missing[@]}" >&2 </dev/null
  fi
}
