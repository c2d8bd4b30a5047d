#!/bin/bash
# Installs Debian's postfix package on this machine for `npm test`: the host-script tests run the
# real `postconf` and `postfix check` on a throwaway copy of /etc (test/host/fakeHost.ts). No
# Postfix daemon is started and none is configured: "No configuration" leaves no main.cf, and
# service starts are refused while the package installs. Does nothing when Postfix is present.
set -euo pipefail
if command -v postconf >/dev/null 2>&1 && [ -e /usr/lib/postfix/sbin/master ]; then exit 0; fi
[ "$(id -u)" = 0 ] || { echo "npm test needs Debian's postfix package: run as root: bash test/host/postfix-tools.sh" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
# invoke-rc.d and deb-systemd-invoke ask /usr/sbin/policy-rc.d; 101 = "action forbidden".
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    made_policy=1
fi
trap '[ "$made_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends postfix >/dev/null
# Not at boot either, where systemd runs this machine.
if [ -d /run/systemd/system ]; then systemctl disable --now postfix >/dev/null 2>&1 || true; fi
if (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null; then
    echo "something listens on port 25 after installing postfix; the tests need no mail daemon" >&2
    exit 1
fi
