# shellcheck shell=bash
# Installs the tools that bench/reload/run measures with, when they are
# missing (sourced). Reads $reload_dir and $pm2_version; sets
# $policy_rc_created when it creates /usr/sbin/policy-rc.d, which the
# caller's cleanup removes.
# NOTE: bench/load/run has the same two installers; they belong in one
# sourced file once both benchmarks are in the repository.

apt_updated=""

# Installs Debian packages when missing. Succeeds when all are installed.
ensure_packages() {
  local package missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q ' installed$' || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "bench/reload/run: ${missing[*]} missing and not root" >&2; return 1; }
    sudo=sudo
  fi
  echo "bench/reload/run: installing ${missing[*]}" >&2
  # Debian starts an installed service (nginx on port 80) unless
  # policy-rc.d forbids it; forbid it for the install when nothing else does.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null && $sudo chmod +x /usr/sbin/policy-rc.d
    policy_rc_created=yes
  fi
  if [ -z "$apt_updated" ]; then
    $sudo env DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -qq >&2 || return 1
    apt_updated=yes
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2 || return 1
}

# Installs PM2 into bench/reload/.cache with npm unless it is there. Prints its path.
ensure_pm2() {
  local prefix=$reload_dir/.cache/pm2-$pm2_version
  if [ ! -x "$prefix/node_modules/.bin/pm2" ]; then
    command -v npm >/dev/null 2>&1 || return 1
    echo "bench/reload/run: installing pm2@$pm2_version into $prefix" >&2
    timeout 300 npm install --prefix "$prefix" --cache "$reload_dir/.cache/npm" --no-audit --no-fund \
      --loglevel=error "pm2@$pm2_version" >&2 || return 1
  fi
  echo "$prefix/node_modules/.bin/pm2"
}
