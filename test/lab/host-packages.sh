#!/bin/bash
# Installs, from Debian's packages, what the lab and the benchmark need on this machine (root):
# the container tools, the DNS server and the independent checkers. Does nothing when present.
# Usage: host-packages.sh [EXTRA_PACKAGE...]   (npm run demo adds its own checkers)
set -euo pipefail
packages=(debootstrap systemd-container knot knot-dnsutils swaks python3-dkim openssh-client iproute2 procps util-linux ca-certificates "$@")
missing=()
for p in "${packages[@]}"; do
    [ "$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || { echo "the lab needs root (to install ${missing[*]} and run containers)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends "${missing[@]}" >/dev/null
