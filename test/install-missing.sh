#!/bin/bash
# Installs, from Debian's packages, those of PACKAGE... that are missing; does nothing when all are
# present. Shared by what the tests need (test/test-packages.sh) and what the lab needs
# (test/lab/host-packages.sh).
# Usage: install-missing.sh NOT_ROOT_MESSAGE PACKAGE...
#   NOT_ROOT_MESSAGE is printed when something is missing and this is not root; PACKAGES in it
#   stands for the missing packages.
set -euo pipefail
not_root=$1
shift
missing=()
for p in "$@"; do
    [ "$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || { echo "${not_root//PACKAGES/${missing[*]}}" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends "${missing[@]}" >/dev/null
