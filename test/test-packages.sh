#!/bin/bash
# Installs, from Debian's packages, what `npm test` needs besides Node.js: shellcheck (every
# generated script and shell file is checked) and ssh-keygen (the validators are tested on keys it
# writes). Does nothing when they are present. Postfix's tools come from test/host/postfix-tools.sh.
set -euo pipefail
exec bash "$(dirname "$0")/install-missing.sh" "npm test needs PACKAGES: run as root, or apt-get install PACKAGES" \
    shellcheck openssh-client
