#!/bin/bash
# Installs, from Debian's packages, what the lab and the benchmark need on this machine (root):
# the container tools, the DNS server and the independent checkers. Does nothing when present.
# Usage: host-packages.sh [EXTRA_PACKAGE...]   (npm run demo adds its own checkers)
set -euo pipefail
exec bash "$(dirname "$0")/../install-missing.sh" "the lab needs root (to install PACKAGES and run containers)" \
    debootstrap systemd-container knot knot-dnsutils swaks python3-dkim python3-spf python3-authheaders openssh-client iproute2 procps util-linux ca-certificates "$@"
