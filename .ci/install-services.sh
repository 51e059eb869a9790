#!/usr/bin/env bash
# Installs the two servers the `postgres` and `prometheus` test suites start throwaway
# instances of (Debian packages). Without them those suites skip, saying how to run them.
# Needs root (or sudo); safe to run again. The packages' own system services are not used.
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -eq 0 ]; then
    echo "install-services: postgresql and prometheus already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-services: need root or sudo" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
echo "install-services: installed ${need[*]}"
