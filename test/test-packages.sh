#!/bin/bash
# Installs, from Debian's packages, what `npm test` needs besides Node.js: shellcheck (every
# generated script and shell file is checked) and ssh-keygen (the validators are tested on keys it
# writes). Does nothing when they are present. Postfix's tools come from test/host/postfix-tools.sh.
set -euo pipefail
packages=(shellcheck openssh-client)
missing=()
for p in "${packages[@]}"; do
    [ "$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] || { echo "npm test needs ${missing[*]}: run as root, or apt-get install ${missing[*]}" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
